// URL: https://url.spec.whatwg.org/ (parsing, serialisation, setters).
import { suite, threw, error } from "../harness.js";

const parts = (u) => [u.protocol, u.username, u.password, u.host, u.hostname, u.port, u.pathname, u.search, u.hash];

export default suite("url", [
  ["components", () => parts(new URL("https://user:pass@example.com:8080/p/a/t/h?query=string#hash")),
    ["https:", "user", "pass", "example.com:8080", "example.com", "8080", "/p/a/t/h", "?query=string", "#hash"]],
  ["relative_resolution", () => [new URL("../c", "http://a/b/d/e").href, new URL("//x/y", "https://a/b").href,
    new URL("?q", "http://a/b/c?x#f").href, new URL("#h", "http://a/b?q").href],
    ["http://a/b/c", "https://x/y", "http://a/b/c?q", "http://a/b?q#h"]],
  ["default_port_dropped", () => { const u = new URL("https://example.com:443/"); return [u.port, u.href]; },
    ["", "https://example.com/"]],
  ["host_lowercased_and_idna", () => [new URL("https://EXAMPLE.com/").host, new URL("http://ñ.com/").host,
    new URL("http://Bücher.example/").hostname], ["example.com", "xn--ida.com", "xn--bcher-kva.example"]],
  ["ipv4_forms", () => [new URL("http://0x7f.1/").host, new URL("http://192.168.257/").host,
    new URL("http://2130706433/").host], ["127.0.0.1", "192.168.1.1", "127.0.0.1"]],
  ["ipv6", () => { const u = new URL("http://[0:0::1]:80/"); return [u.host, u.port, u.hostname]; }, ["[::1]", "", "[::1]"]],
  ["invalid_throws_type_error", async () => [await threw(() => new URL("http://[::1")),
    await threw(() => new URL("foo")), await threw(() => new URL("http://a b/")), await threw(() => new URL())],
    [error("TypeError"), error("TypeError"), error("TypeError"), error("TypeError")]],
  ["can_parse", () => [URL.canParse("x"), URL.canParse("x", "http://a/"), URL.canParse("http://a:99999/")],
    [false, true, false]],
  ["static_parse", () => [URL.parse("nope"), URL.parse("b", "http://a/").href], [null, "http://a/b"]],
  ["path_percent_encoding", () => [new URL("http://a/ b/ä/%41").pathname, new URL("http://a/a/./b/../c").pathname],
    ["/%20b/%C3%A4/%41", "/a/c"]],
  ["search_setter", () => { const u = new URL("http://a/"); u.search = "a=b c"; const s1 = u.href;
    u.search = ""; return [s1, u.href]; }, ["http://a/?a=b%20c", "http://a/"]],
  ["search_params_live", () => { const u = new URL("http://a/?x=0"); u.searchParams.append("y", "1 2");
    u.searchParams.delete("x"); return [u.search, u.href]; }, ["?y=1+2", "http://a/?y=1+2"]],
  ["file_urls", () => [new URL("file:///C:/x/../y").href, new URL("file://host/share").host,
    new URL("file:/tmp/a").href], ["file:///C:/y", "host", "file:///tmp/a"]],
  ["protocol_setter_rules", () => { const u = new URL("http://a/"); u.protocol = "ftp"; const a = u.href;
    u.protocol = "foo"; const b = u.href; const o = new URL("foo://x/"); o.protocol = "http"; return [a, b, o.href]; },
    ["ftp://a/", "ftp://a/", "foo://x/"]],
  ["to_json_and_string", () => [JSON.stringify(new URL("http://a")), String(new URL("http://a/b?c")),
    Object.prototype.toString.call(new URL("http://a"))], ["\"http://a/\"", "http://a/b?c", "[object URL]"]],
  ["origins", () => [new URL("blob:https://a.com/x").origin, new URL("data:text/plain,x").origin,
    new URL("https://a.com:8443/x").origin, new URL("http://a.com:80/").origin],
    ["https://a.com", "null", "https://a.com:8443", "http://a.com"]],
  ["hash_setter", () => { const u = new URL("http://a/"); u.hash = "a b"; const h = u.hash; u.hash = ""; return [h, u.href]; },
    ["#a%20b", "http://a/"]],
  ["backslashes_in_special_urls", () => [new URL("http:\\\\a\\b").href, new URL("foo:\\a\\b").pathname],
    ["http://a/b", "\\a\\b"]],
  ["credential_setters", () => { const u = new URL("http://h/"); u.username = "a@b"; u.password = "p:w";
    return u.href; }, "http://a%40b:p%3Aw@h/"],
  ["opaque_paths", () => { const u = new URL("mailto:someone@example.com?subject=hi");
    return [u.pathname, u.search, u.host, u.origin]; }, ["someone@example.com", "?subject=hi", "", "null"]],
  ["port_setter", () => { const u = new URL("http://a/"); u.port = "8080abc"; const p1 = u.port;
    u.port = "99999"; const p2 = u.port; u.port = "80"; return [p1, p2, u.port]; }, ["8080", "8080", ""]],
  ["forbidden_host_code_points", async () => [await threw(() => new URL("http://a<b/")),
    await threw(() => new URL("http://a%00b/"))], [error("TypeError"), error("TypeError")]],
]);
