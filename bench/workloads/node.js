// Node entry: node node.js WORKLOAD PORT (plain http.createServer, no Web Response).
import http from "node:http";
import { buildJson, helloText, renderHtml, HTML_TYPE, TEXT_TYPE } from "./render.js";

const handlers = {
  hello: () => [TEXT_TYPE, helloText()],
  json: () => ["application/json", JSON.stringify(buildJson())],
  html: () => [HTML_TYPE, renderHtml()],
};

const [workload, port] = process.argv.slice(2);
const handler = handlers[workload];
if (!handler || !port) {
  console.error("usage: node.js hello|json|html PORT");
  process.exit(2);
}
http
  .createServer((req, res) => {
    const [type, body] = handler();
    res.writeHead(200, { "content-type": type, "content-length": Buffer.byteLength(body) });
    res.end(body);
  })
  .listen(Number(port), "127.0.0.1", () => {
    console.log(`listening on http://127.0.0.1:${port}/`);
  });
