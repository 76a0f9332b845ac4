// URLSearchParams: https://url.spec.whatwg.org/#interface-urlsearchparams
import { suite, threw, error, pairs } from "../harness.js";

export default suite("urlsearchparams", [
  ["leading_question_mark", () => new URLSearchParams("?a=1&b=2&a=3").getAll("a"), ["1", "3"]],
  ["from_record", () => new URLSearchParams({ a: "1", b: "2" }).toString(), "a=1&b=2"],
  ["from_sequence", () => new URLSearchParams([["a", "1"], ["b", "2"]]).toString(), "a=1&b=2"],
  ["bad_sequence_type_error", async () => [await threw(() => new URLSearchParams([["a"]])),
    await threw(() => new URLSearchParams([["a", "b", "c"]]))], [error("TypeError"), error("TypeError")]],
  ["serialisation_escapes", () => new URLSearchParams({ q: "a b&c=d/é~*" }).toString(), "q=a+b%26c%3Dd%2F%C3%A9%7E*"],
  ["parsing_plus_and_percent", () => [new URLSearchParams("q=a+b%20c").get("q"), new URLSearchParams("q=%zz%4").get("q"),
    new URLSearchParams("a&b=").toString()], ["a b c", "%zz%4", "a=&b="]],
  ["sort_is_stable", () => { const p = new URLSearchParams("c=1&a=2&b=3&a=1"); p.sort(); return p.toString(); },
    "a=2&a=1&b=3&c=1"],
  ["delete_with_value", () => { const p = new URLSearchParams("a=1&a=2&b=3"); p.delete("a", "2"); return p.toString(); },
    "a=1&b=3"],
  ["has_with_value", () => { const p = new URLSearchParams("a=1"); return [p.has("a"), p.has("a", "1"), p.has("a", "3")]; },
    [true, true, false]],
  ["size", () => new URLSearchParams("a=1&b=2&a=3").size, 3],
  ["iteration_order", () => [pairs(new URLSearchParams("a=1&b=2")), [...new URLSearchParams("x=1").keys()],
    [...new URLSearchParams("x=1").values()]], [[["a", "1"], ["b", "2"]], ["x"], ["1"]]],
  ["set_replaces_first", () => { const p = new URLSearchParams("a=1&b=2&a=3"); p.set("a", "x"); return p.toString(); },
    "a=x&b=2"],
  ["get_missing_is_null", () => new URLSearchParams("a=1").get("b"), null],
  ["empty_names_and_values", () => new URLSearchParams("=&a=&=b").toString(), "=&a=&=b"],
  ["for_each", () => { const out = []; new URLSearchParams("a=1&b=2").forEach((v, k, p) => out.push(k + v + (p instanceof URLSearchParams)));
    return out; }, ["a1true", "b2true"]],
  ["lone_surrogate_replaced", () => new URLSearchParams({ a: "\uD800" }).toString(), "a=%EF%BF%BD"],
  ["from_url_search_params_copy", () => { const a = new URLSearchParams("a=1"); const b = new URLSearchParams(a);
    b.append("b", "2"); return [a.toString(), b.toString()]; }, ["a=1", "a=1&b=2"]],
]);
