// WebSocket and WebSocketPair as Workers provide them:
// https://developers.cloudflare.com/workers/runtime-apis/websockets/ and
// https://websockets.spec.whatwg.org/ for the constants and events.
import { suite, threw, error } from "../harness.js";

const next = (ws, type) => new Promise((resolve) => ws.addEventListener(type, resolve, { once: true }));

export default suite("websocket", [
  ["globals", () => [typeof WebSocket, typeof WebSocketPair, WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED],
    ["function", "function", 0, 1, 2, 3]],
  ["pair_shape", () => { const p = new WebSocketPair(); const [a, b] = Object.values(p); return [a instanceof WebSocket, b instanceof WebSocket, a !== b]; },
    [true, true, true]],
  ["accept_and_message", async () => { const { 0: client, 1: server } = new WebSocketPair(); server.accept(); client.accept();
    const got = next(server, "message"); client.send("hi"); const e = await got; return [e.data, e.type, server.readyState]; }, ["hi", "message", 1]],
  ["binary_message", async () => { const { 0: client, 1: server } = new WebSocketPair(); server.accept(); client.accept();
    const got = next(client, "message"); server.send(new Uint8Array([1, 2])); const e = await got; return [e.data instanceof ArrayBuffer, new Uint8Array(e.data)[1]]; },
    [true, 2]],
  ["close_event", async () => { const { 0: client, 1: server } = new WebSocketPair(); server.accept(); client.accept();
    const got = next(server, "close"); client.close(1000, "done"); const e = await got; return [e.code, e.reason, e.wasClean]; }, [1000, "done", true]],
  ["message_event_class", async () => { const { 0: client, 1: server } = new WebSocketPair(); server.accept(); client.accept();
    const got = next(server, "message"); client.send("hi"); const e = await got;
    return [e instanceof MessageEvent, e.isTrusted, e.data, e.source]; }, [true, true, "hi", null]],
  ["close_event_class", async () => { const { 0: client, 1: server } = new WebSocketPair(); server.accept(); client.accept();
    const got = next(server, "close"); client.close(4000, "r"); const e = await got;
    return [e instanceof CloseEvent, e.isTrusted, e.code, e.reason, e.wasClean]; }, [true, true, 4000, "r", true]],
  ["events_ignore_replaced_globals", async () => { const Message = MessageEvent; const { 0: client, 1: server } = new WebSocketPair();
    server.accept(); client.accept(); globalThis.MessageEvent = class {};
    try { const got = next(server, "message"); client.send("x"); const e = await got; return [e instanceof Message, e.data]; }
    finally { globalThis.MessageEvent = Message; } }, [true, "x"]],
  ["invalid_close_code", async () => { const { 0: client } = new WebSocketPair(); client.accept(); return threw(() => client.close(1005)); },
    error("InvalidAccessError", "DOMException")],
  ["response_101", () => { const { 0: client } = new WebSocketPair(); const r = new Response(null, { status: 101, webSocket: client });
    return [r.status, r.webSocket === client]; }, [101, true]],
  // Workers-specific (a pair's socket before accept()): workerd's TypeError.
  ["send_before_accept", async () => { const { 0: client } = new WebSocketPair(); return threw(() => client.send("x")); },
    error("TypeError")],
]);
