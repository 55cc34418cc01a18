// Small DOM helpers. Every value from the API goes in as text (textContent), never as HTML.

export const $ = (id) => document.getElementById(id);

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "onclick") node.addEventListener("click", value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

/** Replace the children of `target` with `nodes`. */
export function fill(target, ...nodes) {
  target.replaceChildren(...nodes);
  return target;
}

/** A table with a caption (its accessible name), a header row and one row per item. */
export function table(caption, columns, rows) {
  const head = el("tr", {}, ...columns.map(([title]) => el("th", { scope: "col" }, title)));
  const body = rows.map((row) => el("tr", {}, ...columns.map(([, cell]) => el("td", {}, cell(row)))));
  if (!rows.length) body.push(el("tr", {}, el("td", { colspan: String(columns.length) }, "(none)")));
  return el("table", {}, el("caption", {}, caption), el("thead", {}, head), el("tbody", {}, ...body));
}

/** What a section shows when its call failed: the API's refusal as it answered it. */
export function failure(what, error) {
  const text = error.refused
    ? `${what}: refused by the API (${error.status} ${error.code}: ${error.message.replace(/^\d+ [^:]*: /, "")})`
    : `${what}: ${error.message || error}`;
  return el("p", { class: "error", role: "alert" }, text);
}

/** A chart's figure: a labelled canvas and the same figures as a table (its text alternative). */
export function chartFigure(id, title, days, columns) {
  const canvas = el("canvas", { id, role: "img", "aria-label": title });
  const data = table(`${title} (data)`, [["day", (d) => d.day], ...columns.map(([name, key]) => [name, (d) => d[key]])], days);
  return {
    canvas,
    node: el(
      "figure", {},
      el("figcaption", {}, title),
      el("div", { class: "chart" }, canvas),
      el("details", {}, el("summary", {}, `${title}: the figures`), data),
    ),
  };
}
