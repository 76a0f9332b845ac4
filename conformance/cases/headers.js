// Headers: https://fetch.spec.whatwg.org/#headers-class
import { suite, threw, error, pairs } from "../harness.js";

export default suite("headers", [
  ["case_insensitive", () => { const h = new Headers({ "Content-Type": "text/plain" });
    return [h.get("content-type"), h.get("CONTENT-TYPE"), h.has("Content-type")]; }, ["text/plain", "text/plain", true]],
  ["append_combines", () => { const h = new Headers(); h.append("a", "1"); h.append("A", "2"); return h.get("a"); }, "1, 2"],
  ["iteration_sorted_lowercase", () => pairs(new Headers([["B", "2"], ["a", "1"], ["C-d", "3"]])),
    [["a", "1"], ["b", "2"], ["c-d", "3"]]],
  ["set_cookie_not_combined", () => { const h = new Headers(); h.append("Set-Cookie", "a=1"); h.append("set-cookie", "b=2");
    h.append("x", "y"); return [pairs(h), h.get("set-cookie")]; },
    [[["set-cookie", "a=1"], ["set-cookie", "b=2"], ["x", "y"]], "a=1, b=2"]],
  ["get_set_cookie", () => { const h = new Headers([["set-cookie", "a=1"], ["set-cookie", "b=2"]]);
    return [h.getSetCookie(), new Headers().getSetCookie()]; }, [["a=1", "b=2"], []]],
  ["invalid_name", async () => [await threw(() => new Headers({ "a b": "x" })), await threw(() => new Headers().append("", "x")),
    await threw(() => new Headers().get("a:b"))], [error("TypeError"), error("TypeError"), error("TypeError")]],
  ["invalid_value", async () => [await threw(() => new Headers().set("a", "x\ny")), await threw(() => new Headers().set("a", "x\0y")),
    await threw(() => new Headers().set("a", "€"))], [error("TypeError"), error("TypeError"), error("TypeError")]],
  ["value_whitespace_trimmed", () => { const h = new Headers(); h.set("a", " \t x y \t "); return h.get("a"); }, "x y"],
  ["has_and_delete", () => { const h = new Headers({ a: "1" }); const before = h.has("a"); h.delete("A");
    return [before, h.has("a"), h.get("a")]; }, [true, false, null]],
  ["copy_is_independent", () => { const a = new Headers({ x: "1" }); const b = new Headers(a); b.set("x", "2");
    return [a.get("x"), b.get("x")]; }, ["1", "2"]],
  ["for_each_args", () => { const out = []; new Headers({ b: "2", a: "1" }).forEach((v, k) => out.push(`${k}=${v}`)); return out; },
    ["a=1", "b=2"]],
  ["bad_init", async () => [await threw(() => new Headers([["a"]])), await threw(() => new Headers(5))],
    [error("TypeError"), error("TypeError")]],
  ["immutable_guard", async () => [await threw(() => Response.error().headers.set("a", "b")),
    await threw(() => { const h = new Request("http://a/").headers; h.set("a", "b"); return h.get("a"); })],
    [error("TypeError"), { ok: "b" }]],
  ["empty_value", () => { const h = new Headers(); h.append("a", ""); return [h.get("a"), h.has("a")]; }, ["", true]],
  ["latin1_value", () => { const h = new Headers(); h.set("a", "é"); return h.get("a"); }, "é"],
  ["keys_values_entries", () => { const h = new Headers({ b: "2", a: "1" });
    return [[...h.keys()], [...h.values()], Object.prototype.toString.call(h)]; }, [["a", "b"], ["1", "2"], "[object Headers]"]],
]);
