// atob/btoa: https://html.spec.whatwg.org/multipage/webappapis.html#atob and
// the forgiving-base64 algorithm https://infra.spec.whatwg.org/#forgiving-base64
import { suite, threw, error } from "../harness.js";

const ice = error("InvalidCharacterError", "DOMException");
const codes = (s) => Array.from(s, (c) => c.charCodeAt(0));

export default suite("base64", [
  ["btoa_basic", () => [btoa("hello"), btoa(""), btoa("a"), btoa("ab")], ["aGVsbG8=", "", "YQ==", "YWI="]],
  ["atob_basic", () => [atob("aGVsbG8="), atob(""), atob("YQ==")], ["hello", "", "a"]],
  ["atob_without_padding", () => [atob("aGVsbG8"), atob("YQ"), atob("YWI")], ["hello", "a", "ab"]],
  ["atob_ascii_whitespace", () => atob(" aGVs\tbG8=\n\f\r"), "hello"],
  ["atob_invalid_character", async () => [await threw(() => atob("a*bc")), await threw(() => atob("ab\u00e9c")),
    await threw(() => atob("ab\u00a0c"))], [ice, ice, ice]],
  ["atob_bad_length", async () => [await threw(() => atob("a")), await threw(() => atob("abcde"))], [ice, ice]],
  ["atob_padding_rules", async () => [await threw(() => atob("ab=")), await threw(() => atob("ab=c")),
    await threw(() => atob("YQ===")), await threw(() => atob("=")), await threw(() => atob("ab==")), await threw(() => atob("abc="))],
    [ice, ice, ice, ice, { ok: "i" }, { ok: "i\u00b7" }]],
  ["btoa_latin1", () => [btoa("\xff\xfe"), btoa("\x00")], ["//4=", "AA=="]],
  ["btoa_outside_latin1", async () => [await threw(() => btoa("€")), await threw(() => btoa("\uD800"))], [ice, ice]],
  ["atob_binary", () => codes(atob("/wCA")), [255, 0, 128]],
  ["argument_conversion", async () => [codes(atob(null)), btoa(undefined), btoa(12), await threw(() => atob()), await threw(() => btoa())],
    [[158, 233, 101], "dW5kZWZpbmVk", "MTI=", error("TypeError"), error("TypeError")]],
  ["atob_non_canonical_bits", () => [atob("YR=="), atob("YWJ=")].map(codes), [[97], [97, 98]]],
  ["round_trip_all_bytes", () => { let s = ""; for (let i = 0; i < 256; i++) s += String.fromCharCode(i); return atob(btoa(s)) === s; }, true],
]);
