// The console's views: the apps table, the platform's usage, and one app's members, files,
// inbox, usage charts and current figures against its limits. Each section loads on its own:
// a refused or failed call shows in its section and the rest still renders.
import { allPages } from "./api.js";
import { eventsChart, platformChart, requestsChart, throttledChart } from "./charts.js";
import { $, chartFigure, el, failure, fill, table } from "./dom.js";
import { byApp, bytes, fillDays, totals } from "./usage.js";

const INBOX_PAGE = 20;

/** The apps table; `open(slug)` shows one app. `apps`: /admin/apps' rows, or the caller's own app. */
export function appsView(apps, open) {
  const figure = (key, format = String) => (a) => (a.figures && a.figures[key] !== null && a.figures[key] !== undefined ? format(a.figures[key]) : "-");
  return table("Apps", [
    ["app", (a) => el("button", { type: "button", "aria-label": `Open ${a.app}`, onclick: () => open(a.app) }, a.app)],
    ["name", (a) => a.name || ""],
    ["status", (a) => a.status || ""],
    ["enrollment", (a) => a.enrollment || ""],
    ["members", figure("members")],
    ["files", figure("files")],
    ["bytes", figure("bytes", bytes)],
    ["inbox depth", figure("inbox_depth")],
  ], apps);
}

/** The shared queues' depths (/admin/apps `queues`): the dead-letter queue serves every app. */
export function queuesView(queues) {
  const rows = Object.entries(queues || {}).map(([queue, depth]) => ({ queue, depth }));
  return table("Queues (shared by every app)", [["queue", (q) => q.queue], ["messages", (q) => q.depth]], rows);
}

/** Requests per day of every app, from /admin/usage (keyset-paged). */
export async function platformUsage(get, range, target) {
  try {
    const rows = await allPages(get, `/admin/usage?from=${range.from}&to=${range.to}&limit=500`, "usage");
    const perApp = Object.fromEntries(Object.entries(byApp(rows)).map(([app, r]) => [app, fillDays(range.from, range.to, r)]));
    const title = `Requests per day, every app (${range.from} to ${range.to})`;
    const days = Object.values(perApp)[0] || fillDays(range.from, range.to, []);
    const merged = days.map((d, i) => ({ day: d.day, ...Object.fromEntries(Object.entries(perApp).map(([app, r]) => [app, r[i].requests])) }));
    const { canvas, node } = chartFigure("chart-platform", title, merged, Object.keys(perApp).sort().map((a) => [a, a]));
    fill(target, node);
    platformChart(canvas, perApp);
  } catch (error) {
    fill(target, failure("Usage of every app", error));
  }
}

/** Every section of one app's view, each loaded independently. */
export async function appView(get, slug, folders, range) {
  fill($("app-title"), `App: ${slug}`);
  await Promise.all([
    section("members", "Members", () => members(get, slug)),
    section("files", "Files", () => files(get, slug, folders)),
    section("inbox", "Inbox", () => inbox(get, slug)),
    section("usage", "Usage", () => usage(get, slug, range)),
  ]);
}

async function section(id, what, render) {
  const target = $(`${id}-body`);
  fill(target, el("p", {}, `loading ${what.toLowerCase()} ...`));
  try {
    const nodes = await render();
    fill(target, ...nodes);
  } catch (error) {
    fill(target, failure(what, error));
  }
}

async function members(get, slug) {
  const body = await get(`/apps/${slug}/members`);
  return [table(`Members of ${slug}`, [
    ["e-mail", (m) => m.email ?? ""],
    ["roles", (m) => (m.roles || []).join(", ")],
    ["username", (m) => m.username],
  ], body.members)];
}

async function files(get, slug, folders) {
  // Per-user folders ({user}) list only the caller's own; the shared folders are the app's files.
  const shared = (folders || []).filter((f) => !f.includes("{user}"));
  if (!shared.length) return [el("p", {}, `${slug} declares no shared folders.`)];
  const listed = await Promise.all(shared.map((folder) => get(`/apps/${slug}/files?folder=${encodeURIComponent(folder)}&limit=100`)));
  const rows = listed.flatMap((page) => page.files);
  const more = listed.filter((page) => page.next_cursor).map((page) => page.folder);
  return [
    table(`Files of ${slug} (${shared.join(", ")})`, [
      ["key", (f) => f.key], ["size", (f) => bytes(f.size)], ["type", (f) => f.content_type],
      ["uploaded", (f) => f.uploaded_at],
    ], rows),
    ...(more.length ? [el("p", {}, `More files in ${more.join(", ")} than shown (first 100 each).`)] : []),
  ];
}

async function inbox(get, slug) {
  const body = await get(`/apps/${slug}/inbox?after=0&limit=${INBOX_PAGE}`);
  return [
    table(`Inbox of ${slug} (oldest first)`, [
      ["seq", (e) => e.seq], ["type", (e) => e.event?.type ?? ""], ["source", (e) => e.event?.source ?? ""],
      ["received", (e) => e.received_at], ["acknowledged", (e) => e.acked_at ?? "no"],
    ], body.events),
    ...(body.next_after !== null ? [el("p", {}, `More than ${INBOX_PAGE} deliveries: the first ${INBOX_PAGE} shown.`)] : []),
  ];
}

async function usage(get, slug, range) {
  const body = await get(`/apps/${slug}/usage?from=${range.from}&to=${range.to}`);
  const days = fillDays(body.from || range.from, body.to || range.to, body.days || []);
  const sum = totals(days);
  const span = `${days[0]?.day} to ${days[days.length - 1]?.day}`;
  const requests = chartFigure(`chart-requests-${slug}`, `Requests per day of ${slug}`, days,
    [["2xx", "requests_2xx"], ["3xx", "requests_3xx"], ["4xx", "requests_4xx"], ["5xx", "requests_5xx"], ["all", "requests"]]);
  const events = chartFigure(`chart-events-${slug}`, `Events per day of ${slug}`, days,
    [["published", "events_published"], ["delivered", "events_delivered"], ["dead letters", "dead_letters"]]);
  const throttled = chartFigure(`chart-throttled-${slug}`, `Throttled requests per day of ${slug}`, days, [["throttled", "throttled"]]);
  const nodes = [
    el("p", { id: `usage-summary-${slug}` },
      `${span}: ${sum.requests} requests (${sum.requests_4xx} 4xx, ${sum.requests_5xx} 5xx), ${sum.throttled} throttled, `
      + `${sum.events_published} events published, ${sum.events_delivered} delivered, ${sum.dead_letters} dead letters, `
      + `${sum.integration_calls} integration calls.`),
    limitsView(slug, body.current || {}, body.limits || {}, days[days.length - 1]),
    requests.node, events.node, throttled.node,
  ];
  // Drawn after the caller puts the nodes in the page: Chart.js sizes a canvas by its container.
  queueMicrotask(() => {
    requestsChart(requests.canvas, days);
    eventsChart(events.canvas, days);
    throttledChart(throttled.canvas, days);
  });
  return nodes;
}

/** Current storage and members, and the last day's events, against the app's limits. */
function limitsView(slug, current, limits, last) {
  const rows = [
    { what: "storage", now: bytes(current.storage_bytes), limit: bytes(limits.storage_bytes), value: current.storage_bytes, max: limits.storage_bytes },
    { what: "stored objects", now: current.storage_objects ?? "-", limit: "-" },
    { what: "members", now: current.members ?? "-", limit: "-" },
    { what: `events published on ${last?.day}`, now: last?.events_published ?? 0, limit: limits.events_per_day ? `${limits.events_per_day} a day` : "-", value: last?.events_published, max: limits.events_per_day },
    { what: "requests per minute", now: "-", limit: limits.requests_per_minute ?? "-" },
  ];
  return table(`Current figures and limits of ${slug}`, [
    ["figure", (r) => r.what], ["now", (r) => r.now], ["limit", (r) => r.limit],
    ["use", (r) => (r.max ? el("progress", { value: String(r.value || 0), max: String(r.max), "aria-label": `${r.what}: use of its limit` }) : "")],
  ], rows);
}
