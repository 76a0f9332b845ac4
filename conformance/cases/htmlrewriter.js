// HTMLRewriter (Workers): https://developers.cloudflare.com/workers/runtime-apis/html-rewriter/
import { suite, threw, error } from "../harness.js";

const html = (s) => new Response(s, { headers: { "content-type": "text/html" } });
const rewrite = (r, s) => r.transform(html(s)).text();

export default suite("htmlrewriter", [
  ["set_attribute", () => rewrite(new HTMLRewriter().on("a", { element(e) { e.setAttribute("href", "/new"); } }), '<a href="/old">t</a>'),
    '<a href="/new">t</a>'],
  ["get_and_has_attribute", async () => { const seen = [];
    await rewrite(new HTMLRewriter().on("img", { element(e) { seen.push(e.getAttribute("src"), e.hasAttribute("alt"), e.getAttribute("nope"), e.tagName); } }),
      '<IMG src="x.png">'); return seen; }, ["x.png", false, null, "img"]],
  ["remove_element", () => rewrite(new HTMLRewriter().on("script", { element(e) { e.remove(); } }), "<p>a</p><script>x()</script><p>b</p>"),
    "<p>a</p><p>b</p>"],
  ["append_prepend_html_and_text", () => rewrite(new HTMLRewriter().on("div", { element(e) { e.prepend("<b>", { html: true }); e.append("<i>"); } }), "<div>x</div>"),
    "<div><b>x&lt;i&gt;</div>"],
  ["set_inner_content", () => rewrite(new HTMLRewriter().on("p", { element(e) { e.setInnerContent("a & b"); } }), "<p>old <b>x</b></p>"),
    "<p>a &amp; b</p>"],
  ["text_chunks", async () => { let t = ""; let last = false;
    await rewrite(new HTMLRewriter().on("p", { text(c) { t += c.text; if (c.lastInTextNode) last = true; } }), "<p>hello world</p>");
    return [t, last]; }, ["hello world", true]],
  ["comments", async () => { const seen = []; const out = await rewrite(new HTMLRewriter().on("p", { comments(c) { seen.push(c.text); c.remove(); } }), "<p>a<!--x-->b</p>");
    return [seen, out]; }, [["x"], "<p>ab</p>"]],
  ["document_comments", async () => { const seen = []; await rewrite(new HTMLRewriter().onDocument({ comments(c) { seen.push(c.text); } }), "<!--top--><p><!--in--></p>");
    return seen; }, ["top", "in"]],
  ["document_end_append", () => rewrite(new HTMLRewriter().onDocument({ end(e) { e.append("<!-- end -->", { html: true }); } }), "<p></p>"),
    "<p></p><!-- end -->"],
  ["attribute_selector", () => rewrite(new HTMLRewriter().on('a[target="_blank"]', { element(e) { e.setAttribute("rel", "noopener"); } }),
    '<a target="_blank">1</a><a>2</a>'), '<a target="_blank" rel="noopener">1</a><a>2</a>'],
  ["invalid_selector", async () => threw(() => new HTMLRewriter().on("<<", { element() {} })), error("TypeError")],
  ["async_handler", () => rewrite(new HTMLRewriter().on("p", { async element(e) { await null; e.setAttribute("x", "1"); } }), "<p>a</p>"),
    '<p x="1">a</p>'],
  ["attributes_iterator", async () => { let attrs; await rewrite(new HTMLRewriter().on("a", { element(e) { attrs = [...e.attributes]; } }), '<a B="2" c="3">x</a>');
    return attrs; }, [["b", "2"], ["c", "3"]]],
]);
