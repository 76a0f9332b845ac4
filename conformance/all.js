// Every conformance group behind one worker: GET /<group>?echo=<url> runs
// that group (see harness.js); GET / lists the groups. The runners start one
// server per runtime and request each group in turn.
import url from "./cases/url.js";
import urlsearchparams from "./cases/urlsearchparams.js";
import headers from "./cases/headers.js";
import request from "./cases/request.js";
import response from "./cases/response.js";
import body from "./cases/body.js";
import fetchGroup from "./cases/fetch.js";
import encoding from "./cases/encoding.js";
import base64 from "./cases/base64.js";
import timers from "./cases/timers.js";
import events from "./cases/events.js";
import streams from "./cases/streams.js";
import blob from "./cases/blob.js";
import structuredclone from "./cases/structuredclone.js";
import crypto from "./cases/crypto.js";
import compression from "./cases/compression.js";
import htmlrewriter from "./cases/htmlrewriter.js";
import cache from "./cases/cache.js";
import urlpattern from "./cases/urlpattern.js";
import websocket from "./cases/websocket.js";
import globals from "./cases/globals.js";

const groups = [
  url, urlsearchparams, headers, request, response, body, fetchGroup, encoding, base64,
  timers, events, streams, blob, structuredclone, crypto, compression, htmlrewriter, cache,
  urlpattern, websocket, globals,
];
const byName = new Map(groups.map((g) => [g.group, g]));

export default {
  async fetch(req, env, ctx) {
    const name = new URL(req.url).pathname.slice(1);
    if (name === "") {
      return Response.json(groups.map((g) => g.group));
    }
    const g = byName.get(name);
    if (!g) return new Response(`no group ${name}`, { status: 404 });
    return g.fetch(req, env, ctx);
  },
};
