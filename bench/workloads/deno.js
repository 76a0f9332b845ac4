// Deno entry: deno run --allow-net=127.0.0.1 deno.js WORKLOAD PORT
import { buildJson, helloText, renderHtml, HTML_TYPE, TEXT_TYPE } from "./render.js";

const handlers = {
  hello: () => new Response(helloText(), { headers: { "content-type": TEXT_TYPE } }),
  json: () => Response.json(buildJson()),
  html: () => new Response(renderHtml(), { headers: { "content-type": HTML_TYPE } }),
};

const [workload, port] = Deno.args;
const handler = handlers[workload];
if (!handler || !port) {
  console.error("usage: deno.js hello|json|html PORT");
  Deno.exit(2);
}
Deno.serve({ hostname: "127.0.0.1", port: Number(port) }, handler);
