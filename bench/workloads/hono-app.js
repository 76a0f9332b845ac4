// A realistic ~100 KB worker for the cold-start figure: a Hono app with
// middleware and a few routes, bundled to one ES module by bench/run.
import { Hono } from "hono";
import { cors } from "hono/cors";
import { etag } from "hono/etag";
import { secureHeaders } from "hono/secure-headers";
import { prettyJSON } from "hono/pretty-json";
import { HTTPException } from "hono/http-exception";
import { bodyLimit } from "hono/body-limit";
import { timing } from "hono/timing";
import { csrf } from "hono/csrf";
import { getCookie, setCookie } from "hono/cookie";
import { validator } from "hono/validator";
import { logger } from "hono/logger";
import { basicAuth } from "hono/basic-auth";
import { cache } from "hono/cache";

const app = new Hono();
app.use("*", cors());
app.use("*", etag());
app.use("*", secureHeaders());
app.use("*", prettyJSON());
app.get("/", (c) => c.text("Hello Hono!"));
app.get("/users/:id", (c) => c.json({ id: c.req.param("id"), name: "Ada" }));
app.post("/users", async (c) => c.json(await c.req.json(), 201));
app.get("/html", (c) => c.html("<h1>Hi</h1>"));
app.use("/admin/*", basicAuth({ username: "admin", password: "secret" }));
app.use("/api/*", bodyLimit({ maxSize: 1024 }), timing(), csrf());
app.use("/log/*", logger());
app.get("/cached/*", cache({ cacheName: "bench", cacheControl: "max-age=60" }));
app.get("/cookie", (c) => {
  setCookie(c, "seen", String(Number(getCookie(c, "seen") ?? 0) + 1));
  return c.text("ok");
});
app.post(
  "/form",
  validator("json", (v, c) => (typeof v?.name === "string" ? v : c.text("bad", 400))),
  (c) => c.json(c.req.valid("json")),
);
app.onError((err, c) =>
  err instanceof HTTPException ? err.getResponse() : c.text("oops", 500),
);

export default app;
