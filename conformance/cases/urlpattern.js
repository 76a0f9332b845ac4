// URLPattern: https://urlpattern.spec.whatwg.org/ (examples from the spec
// and its explainer).
import { suite, threw, error } from "../harness.js";

export default suite("urlpattern", [
  ["named_group", () => { const p = new URLPattern({ pathname: "/books/:id" });
    return [p.test("https://example.com/books/123"), p.exec("https://example.com/books/123").pathname.groups.id, p.test("https://example.com/books")]; },
    [true, "123", false]],
  ["string_with_base", () => new URLPattern("/books/:id", "https://example.com").test("https://example.com/books/7"), true],
  ["full_string_pattern", () => { const p = new URLPattern("https://*.example.com/:a/*");
    const r = p.exec("https://api.example.com/v1/x/y"); return [r.hostname.groups["0"], r.pathname.groups.a, r.pathname.groups["0"]]; },
    ["api", "v1", "x/y"]],
  ["wildcard", () => new URLPattern({ pathname: "/*.jpg" }).exec("https://a/x/y.jpg").pathname.groups["0"], "x/y"],
  ["regexp_group", () => { const p = new URLPattern({ pathname: "/(\\d+)" }); return [p.test("https://a/123"), p.test("https://a/abc")]; },
    [true, false]],
  ["optional_modifier", () => { const p = new URLPattern({ pathname: "/books/:id?" }); return [p.test("https://a/books"), p.test("https://a/books/1")]; },
    [true, true]],
  ["repeat_modifiers", () => { const p = new URLPattern({ pathname: "/files/:path+" }); return [p.exec("https://a/files/a/b").pathname.groups.path, p.test("https://a/files")]; },
    ["a/b", false]],
  ["component_getters", () => { const p = new URLPattern({ hostname: "{*.}?example.com", pathname: "/x" });
    return [p.protocol, p.hostname, p.pathname, p.search]; }, ["*", "{*.}?example.com", "/x", "*"]],
  ["input_object", () => new URLPattern({ pathname: "/a/:b" }).exec({ pathname: "/a/c" }).pathname.groups.b, "c"],
  ["ignore_case", () => [new URLPattern({ pathname: "/ABC" }).test("https://a/abc"), new URLPattern({ pathname: "/ABC" }, { ignoreCase: true }).test("https://a/abc")],
    [false, true]],
  ["invalid_pattern", async () => [await threw(() => new URLPattern({ pathname: "/(" })), await threw(() => new URLPattern("/relative"))],
    [error("TypeError"), error("TypeError")]],
  ["no_match_is_null", () => new URLPattern({ pathname: "/a" }).exec("https://x/b"), null],
  ["has_regexp_groups", () => [new URLPattern({ pathname: "/(\\d+)" }).hasRegExpGroups, new URLPattern({ pathname: "/:a" }).hasRegExpGroups],
    [true, false]],
  ["search_and_hash", () => { const p = new URLPattern({ search: "q=:term", hash: "sec-:n" }); const r = p.exec("https://a/?q=cats#sec-2");
    return [r.search.groups.term, r.hash.groups.n]; }, ["cats", "2"]],
]);
