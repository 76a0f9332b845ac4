// Bun entry: bun bun.js WORKLOAD PORT
import { buildJson, helloText, renderHtml, HTML_TYPE, TEXT_TYPE } from "./render.js";

const handlers = {
  hello: () => new Response(helloText(), { headers: { "content-type": TEXT_TYPE } }),
  json: () => Response.json(buildJson()),
  html: () => new Response(renderHtml(), { headers: { "content-type": HTML_TYPE } }),
};

const [workload, port] = process.argv.slice(2);
const handler = handlers[workload];
if (!handler || !port) {
  console.error("usage: bun.js hello|json|html PORT");
  process.exit(2);
}
const server = Bun.serve({ hostname: "127.0.0.1", port: Number(port), fetch: handler });
console.log(`listening on ${server.url}`);
