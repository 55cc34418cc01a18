// The npm CloudEvents SDK: emitterFor(httpTransport(url)) in binary (its default) and structured
// mode, posting to POST /apps/events/events as an events member. Node's http module sends the
// transport's body chunked (Transfer-Encoding: chunked, no Content-Length).
import { CloudEvent, Mode, emitterFor, httpTransport } from "cloudevents";
import { done, input, step } from "./journal.mjs";

const cfg = await input();
const auth = { headers: { Authorization: `Bearer ${cfg.token}` } };
const transport = httpTransport(`${cfg.api}/apps/events/events`);
const emitters = { binary: emitterFor(transport), structured: emitterFor(transport, { mode: Mode.STRUCTURED }) };

// httpTransport resolves with {body, headers} (no status): the API's per-event results say it.
async function send(mode, attributes) {
  const event = new CloudEvent({ type: "events.event.published", data: { title: `npm ${mode}` }, ...attributes });
  const response = await emitters[mode](event, auth);
  return { id: event.id, body: JSON.parse(response.body) };
}

for (const mode of ["binary", "structured"]) {
  await step(mode, () => send(mode, { id: cfg.ids[mode], source: "/apps/events" }));
  await step(`${mode}Forged`, () => send(mode, { id: cfg.ids[`${mode}Forged`], source: "/apps/church" }));
}
done();
