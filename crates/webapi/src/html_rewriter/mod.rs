//! `HTMLRewriter`: streaming HTML rewriting with CSS-selector handlers, on
//! top of the `lol_html` crate (the parser Cloudflare's own implementation
//! uses).
//!
//! Spec: <https://developers.cloudflare.com/workers/runtime-apis/html-rewriter/>
//!
//! Three parts:
//! - `html_rewriter.js`: the `HTMLRewriter` class, the handler-facing
//!   objects (`Element`, `EndTag`, `Text`, `Comment`, `Doctype`,
//!   `DocumentEnd`) and the pull loop that turns a response body into the
//!   rewritten stream. Loaded on first use of the global ([`crate::lazy`]).
//! - this module: the native session ([`RewriterSession`]) the script drives,
//!   which translates its calls into messages to the rewriter thread and
//!   blocks for the answer.
//! - [`worker`]: the rewriter thread, one per transform, that owns the
//!   `lol_html::HtmlRewriter`.
//!
//! # Why a thread
//!
//! lol_html calls handlers synchronously inside `write()`, while a Workers
//! handler may return a promise (awaiting a `fetch`, a timer). Running
//! lol_html on its own thread lets a handler callback simply block until the
//! isolate reports that the JS handler has settled, while the isolate's
//! thread goes on running its event loop. Every read or mutation a handler
//! makes is one round trip to that thread; the thread is otherwise idle
//! (blocked on its channel), and it ends when the input ends, rewriting
//! fails, or the session is dropped (its channels close).

mod worker;

use std::sync::mpsc::{channel, Receiver, Sender};

use rquickjs::{
    class::Trace, function::Opt, Array, Class, Ctx, Function, IntoJs, JsLifetime, Result, Value,
};

use crate::error::{OrThrow, WebApiError};
use worker::{Cmd, Config, Event, Op, Output, Place, Reply};

/// Stack of a rewriter thread: lol_html does not recurse deeply.
const THREAD_STACK: usize = 256 * 1024;

/// Installs `HTMLRewriter` as a lazy global. Needs [`crate::streams`] and
/// [`crate::response`] first.
pub fn init<'js>(ctx: &Ctx<'js>) -> Result<()> {
    // Captures no JS values, so the collector loses nothing by not seeing into it.
    let load_factory = Function::new(ctx.clone(), |ctx: Ctx<'js>| -> Result<Function<'js>> {
        let outer = crate::glue::HTML_REWRITER.load(&ctx)?;
        let start = Function::new(ctx.clone(), start_rewriter)?;
        let validate = Function::new(ctx.clone(), validate_selector)?;
        outer.call((start, validate))
    })?;
    let globals = ctx.globals();
    crate::lazy::install(
        ctx,
        &["HTMLRewriter"],
        load_factory,
        vec![
            crate::lazy::global_descriptor(ctx, "ReadableStream")?,
            crate::lazy::global_descriptor(ctx, "ReadableStreamDefaultReader")?,
            crate::lazy::global_descriptor(ctx, "ReadableStreamDefaultController")?,
            globals.get("Response")?,
            globals.get("Headers")?,
        ],
    )
}

/// Throws a `TypeError` unless lol_html accepts `selector` (the check
/// `on()` makes, as workerd does, rather than failing at `transform()`).
fn validate_selector(ctx: Ctx<'_>, selector: String) -> Result<()> {
    selector
        .parse::<lol_html::Selector>()
        .map(|_| ())
        .map_err(|e| WebApiError::type_error(format!("Invalid selector '{selector}': {e}.")))
        .or_throw(&ctx)
}

/// The input's encoding from the `charset` of its `Content-Type`; UTF-8 when
/// absent, unknown, or not ASCII-compatible (lol_html needs that).
fn encoding_of(content_type: &str) -> lol_html::AsciiCompatibleEncoding {
    let label = content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"'))
    });
    label
        .and_then(|l| encoding_rs::Encoding::for_label(l.as_bytes()))
        .and_then(lol_html::AsciiCompatibleEncoding::new)
        .unwrap_or_else(lol_html::AsciiCompatibleEncoding::utf_8)
}

/// Spawns the rewriter thread of one transform.
fn start_rewriter<'js>(
    ctx: Ctx<'js>,
    on: Vec<Array<'js>>,
    document: Vec<Array<'js>>,
    content_type: String,
) -> Result<Class<'js, RewriterSession>> {
    // Built by html_rewriter.js: `[selector, element?, comments?, text?]`
    // and `[doctype?, comments?, text?, end?]`.
    let on = on
        .iter()
        .map(|a| Ok((a.get(0)?, a.get(1)?, a.get(2)?, a.get(3)?)))
        .collect::<Result<Vec<_>>>()?;
    let document = document
        .iter()
        .map(|a| Ok((a.get(0)?, a.get(1)?, a.get(2)?, a.get(3)?)))
        .collect::<Result<Vec<_>>>()?;
    let (cmd_tx, cmd_rx) = channel();
    let (ev_tx, ev_rx) = channel();
    let output = Output::default();
    let config = Config {
        on,
        document,
        encoding: encoding_of(&content_type),
    };
    let thread_output = output.clone();
    std::thread::Builder::new()
        .name("html-rewriter".into())
        .stack_size(THREAD_STACK)
        .spawn(move || worker::run(config, cmd_rx, ev_tx, thread_output))
        .map_err(|e| WebApiError::type_error(format!("HTMLRewriter could not start: {e}.")))
        .or_throw(&ctx)?;
    Class::instance(
        ctx,
        RewriterSession {
            channels: Some(Channels {
                cmds: cmd_tx,
                events: ev_rx,
                output,
            }),
        },
    )
}

struct Channels {
    cmds: Sender<Cmd>,
    events: Receiver<Event>,
    output: Output,
}

/// The isolate's end of one transform's rewriter thread. Held only by
/// `html_rewriter.js`. Every method blocks until the thread answers, which
/// it does as soon as it has parsed the chunk up to the next handler call,
/// or applied the op.
///
/// Events are numbers: `-1` when the last write (or end) is done, otherwise
/// `index * 8 + kind`, a handler to run (see `worker::Kind`).
#[derive(Trace, JsLifetime)]
#[rquickjs::class]
pub struct RewriterSession {
    /// `None` once finished, failed or aborted; dropping it ends the thread.
    #[qjs(skip_trace)]
    channels: Option<Channels>,
}

#[rquickjs::methods(rename_all = "camelCase")]
impl RewriterSession {
    /// Feeds one chunk of the input body.
    pub fn write<'js>(&mut self, ctx: Ctx<'js>, chunk: Value<'js>) -> Result<f64> {
        let bytes = crate::webidl::buffer_source(&ctx, &chunk)?
            .ok_or_else(|| {
                WebApiError::type_error(
                    "The body passed to HTMLRewriter.transform() must be a stream of ArrayBuffer or ArrayBufferView chunks.",
                )
            })
            .or_throw(&ctx)?
            .to_vec();
        self.send(&ctx, Cmd::Write(bytes))?;
        self.next_event(&ctx)
    }

    /// Ends the input.
    pub fn end(&mut self, ctx: Ctx<'_>) -> Result<f64> {
        self.send(&ctx, Cmd::End)?;
        self.next_event(&ctx)
    }

    /// Reports that the current JS handler has finished (`threw`: with an
    /// exception, which makes rewriting fail).
    pub fn resume(&mut self, ctx: Ctx<'_>, threw: bool) -> Result<f64> {
        let done = threw.then(|| "a handler threw an exception".to_owned());
        self.send(&ctx, Cmd::Done(done))?;
        self.next_event(&ctx)
    }

    /// Reads or mutates the object the current handler holds; `code` and
    /// the arguments are as in `html_rewriter.js`.
    pub fn op<'js>(
        &mut self,
        ctx: Ctx<'js>,
        code: u32,
        a: Opt<Value<'js>>,
        b: Opt<Value<'js>>,
        c: Opt<Value<'js>>,
    ) -> Result<Value<'js>> {
        let s = |v: Opt<Value<'js>>| -> Result<String> {
            match v.0 {
                Some(v) => crate::webidl::to_usv_string(&ctx, v),
                None => Ok(String::new()),
            }
        };
        let n = |v: &Opt<Value<'js>>| -> u32 {
            v.0.as_ref()
                .and_then(|v| v.as_number())
                .map(|n| n as u32)
                .unwrap_or(0)
        };
        let op = match code {
            0 => Op::TagName,
            1 => Op::SetTagName(s(a)?),
            2 => Op::Attributes,
            3 => Op::GetAttribute(s(a)?),
            4 => Op::HasAttribute(s(a)?),
            5 => Op::SetAttribute(s(a)?, s(b)?),
            6 => Op::RemoveAttribute(s(a)?),
            7 => Op::NamespaceUri,
            8 => Op::Removed,
            9 => Op::SelfClosing,
            10 => Op::CanHaveContent,
            11 => {
                let place = match n(&b) {
                    0 => Place::Before,
                    1 => Place::After,
                    2 => Place::Prepend,
                    3 => Place::Append,
                    4 => Place::Replace,
                    _ => Place::Inner,
                };
                let html = c.0.as_ref().and_then(|v| v.as_bool()).unwrap_or(false);
                Op::Insert(place, s(a)?, html)
            }
            12 => Op::Remove,
            13 => Op::RemoveAndKeepContent,
            14 => Op::OnEndTag(n(&a)),
            15 => Op::Name,
            16 => Op::SetName(s(a)?),
            17 => Op::Text,
            18 => Op::SetText(s(a)?),
            19 => Op::LastInTextNode,
            20 => Op::PublicId,
            21 => Op::SystemId,
            _ => {
                return Err(WebApiError::type_error("unknown HTMLRewriter operation"))
                    .or_throw(&ctx)
            }
        };
        self.send(&ctx, Cmd::Op(op))?;
        let reply = match self.recv(&ctx)? {
            Event::Reply(r) => r,
            _ => return Err(self.fail(&ctx, "HTMLRewriter protocol error".into())),
        };
        match reply {
            Reply::Unit => Ok(Value::new_undefined(ctx)),
            Reply::Str(s) => s.into_js(&ctx),
            Reply::OptStr(s) => s.into_js(&ctx),
            Reply::Bool(b) => Ok(Value::new_bool(ctx, b)),
            Reply::Attributes(pairs) => {
                let arr = Array::new(ctx.clone())?;
                for (i, (name, value)) in pairs.into_iter().enumerate() {
                    let pair = Array::new(ctx.clone())?;
                    pair.set(0, name)?;
                    pair.set(1, value)?;
                    arr.set(i, pair)?;
                }
                Ok(arr.into_value())
            }
            Reply::Error(msg) => Err(WebApiError::type_error(msg)).or_throw(&ctx),
        }
    }

    /// The output produced since the last call, as a `Uint8Array`, or
    /// `undefined` when there is none.
    pub fn take_output<'js>(&mut self, ctx: Ctx<'js>) -> Result<Value<'js>> {
        let Some(ch) = &self.channels else {
            return Ok(Value::new_undefined(ctx));
        };
        let bytes = match ch.output.lock() {
            Ok(mut out) if !out.is_empty() => std::mem::take(&mut *out),
            _ => return Ok(Value::new_undefined(ctx)),
        };
        crate::buffer::new_uint8_array(&ctx, &bytes)
    }

    /// Stops rewriting (output cancelled or failed): the thread ends.
    pub fn abort(&mut self) {
        self.channels = None;
    }
}

impl RewriterSession {
    fn send(&mut self, ctx: &Ctx<'_>, cmd: Cmd) -> Result<()> {
        let sent = match &self.channels {
            Some(ch) => ch.cmds.send(cmd).is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            Err(self.fail(ctx, "this HTMLRewriter transform has already ended".into()))
        }
    }

    fn recv(&mut self, ctx: &Ctx<'_>) -> Result<Event> {
        let event = self.channels.as_ref().and_then(|ch| ch.events.recv().ok());
        match event {
            Some(Event::Failed(msg)) => Err(self.fail(ctx, format!("HTMLRewriter failed: {msg}."))),
            Some(e) => Ok(e),
            None => Err(self.fail(ctx, "HTMLRewriter failed: the rewriter stopped.".into())),
        }
    }

    fn next_event(&mut self, ctx: &Ctx<'_>) -> Result<f64> {
        match self.recv(ctx)? {
            Event::Finished => Ok(-1.0),
            Event::Handler { kind, index } => Ok(f64::from(index) * 8.0 + f64::from(kind as u8)),
            Event::Reply(_) => Err(self.fail(ctx, "HTMLRewriter protocol error".into())),
            Event::Failed(_) => unreachable!("handled by recv"),
        }
    }

    /// Drops the channels (ending the thread) and throws a `TypeError`,
    /// keeping any output already produced out of reach.
    fn fail(&mut self, ctx: &Ctx<'_>, msg: String) -> rquickjs::Error {
        self.channels = None;
        WebApiError::type_error(msg).throw(ctx)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::run_js;

    /// Runs `src` (the body of an async function) with `rewrite(html, rw)`:
    /// the text of `rw.transform()` over a response whose body is `html`
    /// (a string, or an array of strings sent as separate chunks). A body
    /// still pending after 5 s gives `TIMEOUT` rather than hanging.
    #[track_caller]
    fn check(src: &str, expected: &str) {
        let wrapped = format!(
            "const enc = new TextEncoder();
             const body = (html) => typeof html === 'string' ? html : new ReadableStream({{
               start(c) {{ for (const s of html) c.enqueue(enc.encode(s)); c.close(); }} }});
             const rewrite = (html, rw) => rw.transform(new Response(body(html))).text();
             const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
             let timer;
             const timeout = new Promise((r) => {{ timer = setTimeout(() => r('TIMEOUT'), 5000); }});
             try {{ return await Promise.race([(async () => {{ {src}\n}})(), timeout]); }}
             finally {{ clearTimeout(timer); }}"
        );
        assert_eq!(run_js(&wrapped), expected, "{src}");
    }

    #[test]
    fn element_reads() {
        check(
            r#"const seen = [];
             await rewrite('<div class="a" id=x>t</div><br/><svg><path d=1 /></svg>', new HTMLRewriter().on('*', {
               element(el) {
                 seen.push([el.tagName, [...el.attributes].map(([k, v]) => k + '=' + v).join('&'),
                   el.getAttribute('id'), el.getAttribute('nope'), el.hasAttribute('class'),
                   el.namespaceURI.split('/').pop(), el.selfClosing, el.canHaveContent, el.removed].join(' '));
               },
             }));
             return seen.join(' | ');"#,
            "div class=a&id=x x  true xhtml false true false | br    false xhtml true false false | \
             svg    false svg false true false | path d=1   false svg true false false",
        );
    }

    #[test]
    fn element_mutations() {
        check(
            r#"return rewrite('<p id=a title=t>x</p><i>gone</i><b>keep <u>me</u></b><span>old</span><em>e</em>',
               new HTMLRewriter()
                 .on('p', { element(el) {
                   el.tagName = 'div';
                   el.setAttribute('id', 'b').removeAttribute('title').setAttribute('data-x', '"q"');
                   el.before('<hr>', { html: true }).after('<a & b>').prepend('<s>1</s>', { html: true }).append('2');
                 } })
                 .on('i', { element(el) { el.remove(); } })
                 .on('b', { element(el) { el.removeAndKeepContent(); } })
                 .on('span', { element(el) { el.setInnerContent('<new>'); } })
                 .on('em', { element(el) { el.replace('<strong>s</strong>', { html: true }); } }));"#,
            "<hr><div id=\"b\" data-x=\"&quot;q&quot;\"><s>1</s>x2</div>&lt;a &amp; b&gt;keep <u>me</u>\
             <span>&lt;new&gt;</span><strong>s</strong>",
        );
    }

    #[test]
    fn html_option_versus_escaped_text() {
        check(
            r#"return rewrite('<a></a><b></b>', new HTMLRewriter()
               .on('a', { element(el) { el.setInnerContent('<i>x</i>', { html: true }); } })
               .on('b', { element(el) { el.setInnerContent('<i>x</i>', { html: false }); } }));"#,
            "<a><i>x</i></a><b>&lt;i&gt;x&lt;/i&gt;</b>",
        );
    }

    #[test]
    fn selectors() {
        check(
            r#"const tags = async (sel, html) => {
               const out = [];
               await rewrite(html, new HTMLRewriter().on(sel, {
                 element(el) { out.push(el.tagName + (el.getAttribute('id') ?? '')); } }));
               return sel + '=' + out.join(',');
             };
             return [
               await tags('div.a', '<div class="a b" id=1></div><div class=b id=2></div><p class=a id=3></p>'),
               await tags('a[href^="http"]', '<a href="https://x" id=1></a><a href="/rel" id=2></a><a id=3></a>'),
               await tags('*', '<p><span></span></p>'),
               await tags('p > span', '<p><span id=1><span id=2></span></span></p><div><span id=3></span></div>'),
             ].join(' ');"#,
            "div.a=div1 a[href^=\"http\"]=a1 *=p,span p > span=span1",
        );
    }

    #[test]
    fn text_chunks() {
        check(
            r#"const seen = [];
             const out = await rewrite(['<p>hel', 'lo</p><q>a&amp;b</q>'], new HTMLRewriter()
               .on('p', { text(t) { seen.push(JSON.stringify(t.text) + t.lastInTextNode); } })
               .on('q', { text(t) {
                 if (t.lastInTextNode) t.after('!'); else t.replace('<X>', { html: true }).before('[');
               } }));
             return seen.join(' ') + ' ' + out;"#,
            "\"hel\"false \"lo\"false \"\"true <p>hello</p><q>[<X>!</q>",
        );
    }

    #[test]
    fn text_remove_and_removed() {
        check(
            r#"let r;
             const out = await rewrite('<p>abc</p>', new HTMLRewriter().on('p', { text(t) {
               if (t.text) { t.remove(); r = t.removed; } } }));
             return out + ' ' + r;"#,
            "<p></p> true",
        );
    }

    #[test]
    fn comments() {
        check(
            r#"const seen = [];
             const out = await rewrite('<div><!--a--><!--b--><!--c--></div><!--d-->', new HTMLRewriter()
               .on('div', { comments(c) {
                 seen.push(c.text);
                 if (c.text === 'a') c.text = 'A';
                 else if (c.text === 'b') c.before('<b>', { html: true }).after('&').remove();
                 else c.replace('<C>');
               } })
               .onDocument({ comments(c) { seen.push('doc:' + c.text + c.removed); } }));
             return seen.join(',') + ' ' + out;"#,
            "a,doc:Afalse,b,doc:btrue,c,doc:ctrue,doc:dfalse <div><!--A--><b>&amp;&lt;C&gt;</div><!--d-->",
        );
    }

    #[test]
    fn document_handlers() {
        check(
            r#"const seen = [];
             const out = await rewrite('<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd"><p>x</p>',
               new HTMLRewriter().onDocument({
                 doctype(d) { seen.push([d.name, d.publicId, d.systemId].join('|')); },
                 text(t) { if (t.text) seen.push('text:' + t.text); },
                 end(e) { e.append('<!--end-->', { html: true }).append('<&>'); },
               }));
             let plain;
             await rewrite('<!doctype html>', new HTMLRewriter().onDocument({ doctype(d) {
               plain = [d.name, d.publicId, d.systemId].join(); } }));
             return seen.join(' ') + ' ' + plain + ' ' + out;"#,
            "html|-//W3C//DTD HTML 4.01//EN|http://www.w3.org/TR/html4/strict.dtd text:x html,, \
             <!DOCTYPE html PUBLIC \"-//W3C//DTD HTML 4.01//EN\" \"http://www.w3.org/TR/html4/strict.dtd\"><p>x</p><!--end-->&lt;&amp;&gt;",
        );
    }

    #[test]
    fn end_tags() {
        check(
            r#"const seen = [];
             const out = await rewrite('<p>1</p><div>2</div><span>3</span><br>', new HTMLRewriter()
               .on('p', { element(el) { el.onEndTag((end) => {
                 seen.push(end.name); end.before('<i>b</i>', { html: true }).after('<a>'); }); } })
               .on('div', { element(el) { el.onEndTag((end) => { end.name = 'section'; }); el.tagName = 'section'; } })
               .on('span', { element(el) { el.onEndTag((end) => { end.remove(); }); } })
               .on('br', { element(el) {
                 try { el.onEndTag(() => {}); } catch (e) { seen.push(e.name); } } }));
             return seen.join(',') + ' ' + out;"#,
            "p,TypeError <p>1<i>b</i></p>&lt;a&gt;<section>2</section><span>3<br>",
        );
    }

    #[test]
    fn chunked_input_split_mid_tag() {
        check(
            r#"const seen = [];
             const out = await rewrite(['<di', 'v cla', 'ss="a">he', 'llo</d', 'iv><a hr', 'ef="http://x">l</a>'],
               new HTMLRewriter()
                 .on('div.a', { element(el) { seen.push(el.tagName); el.setAttribute('data-seen', '1'); } })
                 .on('a[href^="http"]', { element(el) { seen.push(el.getAttribute('href')); } }));
             return seen.join(',') + ' ' + out;"#,
            "div,http://x <div class=\"a\" data-seen=\"1\">hello</div><a href=\"http://x\">l</a>",
        );
    }

    #[test]
    fn output_streams_before_input_ends() {
        // The first chunk's output can be read before the second is written.
        check(
            r#"let ctl;
             const input = new ReadableStream({ start(c) { ctl = c; } });
             ctl.enqueue(enc.encode('<p>first</p><div>'));
             const res = new HTMLRewriter().on('p', { element(el) { el.setAttribute('x', '1'); } })
               .transform(new Response(input));
             const reader = res.body.getReader();
             const dec = new TextDecoder();
             const first = dec.decode((await reader.read()).value);
             ctl.enqueue(enc.encode('second</div>'));
             ctl.close();
             let rest = '';
             for (;;) { const { value, done } = await reader.read(); if (done) break; rest += dec.decode(value); }
             return first + ' | ' + rest;"#,
            "<p x=\"1\">first</p><div> | second</div>",
        );
    }

    #[test]
    fn async_handlers() {
        check(
            r#"const order = [];
             const out = await rewrite('<p>a</p><p>b</p>', new HTMLRewriter().on('p', {
               async element(el) {
                 order.push('start');
                 await tick(5);
                 const n = await Promise.resolve(el.tagName);
                 el.setAttribute('n', n + order.length);
                 order.push('end');
               },
               text(t) { if (t.text) order.push(t.text); },
             }).onDocument({ async end(e) { await tick(1); e.append('!'); } }));
             return order.join(',') + ' ' + out;"#,
            "start,end,a,start,end,b <p n=\"p1\">a</p><p n=\"p4\">b</p>!",
        );
    }

    #[test]
    fn class_instance_handlers() {
        check(
            r#"class Tagger {
               constructor(label) { this.label = label; this.count = 0; }
               element(el) { this.count++; el.setAttribute('data-label', this.label + this.count); }
             }
             const t = new Tagger('L');
             const out = await rewrite('<a></a><a></a>', new HTMLRewriter().on('a', t));
             return out + ' ' + t.count;"#,
            "<a data-label=\"L1\"></a><a data-label=\"L2\"></a> 2",
        );
    }

    #[test]
    fn invalid_selector_and_handlers_throw_at_on() {
        check(
            r#"const out = [];
             for (const sel of ['div >', '', 'p:hover', 'svg|img']) {
               try { new HTMLRewriter().on(sel, {}); out.push('ok'); } catch (e) { out.push(e.name); }
             }
             try { new HTMLRewriter().on('p', { element: 1 }); } catch (e) { out.push(e.name); }
             try { new HTMLRewriter().on('p', null); } catch (e) { out.push(e.name); }
             try { new HTMLRewriter().transform('nope'); } catch (e) { out.push(e.name); }
             return out.join();"#,
            "TypeError,TypeError,TypeError,TypeError,TypeError,TypeError,TypeError",
        );
    }

    #[test]
    fn handler_throwing_errors_the_stream() {
        check(
            r#"class Boom extends Error {}
             const a = await rewrite('<p>x</p>', new HTMLRewriter().on('p', {
               element() { throw new Boom('sync boom'); } })).then(() => 'ok', (e) => (e instanceof Boom) + ' ' + e.message);
             const b = await rewrite('<p>x</p>', new HTMLRewriter().on('p', {
               async element() { await tick(); throw new RangeError('async boom'); } })).then(() => 'ok', (e) => e.name + ' ' + e.message);
             // The isolate and later rewriters are unaffected.
             const c = await rewrite('<p>x</p>', new HTMLRewriter().on('p', { element(el) { el.remove(); } }));
             return [a, b, JSON.stringify(c)].join(' | ');"#,
            "true sync boom | RangeError async boom | \"\"",
        );
    }

    #[test]
    fn objects_are_invalid_after_their_handler() {
        check(
            r#"let kept, keptText, keptEnd;
             await rewrite('<p>x</p>', new HTMLRewriter()
               .on('p', { element(el) { kept = el; }, text(t) { keptText = t; } })
               .onDocument({ end(e) { keptEnd = e; } }));
             const out = [];
             for (const f of [() => kept.tagName, () => kept.setAttribute('a', 'b'), () => keptText.text,
                              () => keptEnd.append('x')]) {
               try { f(); out.push('ok'); } catch (e) { out.push(e.name + ':' + e.message.includes('no longer valid')); }
             }
             return out.join();"#,
            "TypeError:true,TypeError:true,TypeError:true,TypeError:true",
        );
    }

    #[test]
    fn bad_names_are_type_errors() {
        check(
            r#"const out = [];
             await rewrite('<p>x</p><!--c-->', new HTMLRewriter().on('p', { element(el) {
               for (const f of [() => { el.tagName = 'a b'; }, () => el.setAttribute('a b', 'v')]) {
                 try { f(); out.push('ok'); } catch (e) { out.push(e.name); }
               }
             } }).onDocument({ comments(c) { try { c.text = '-->'; } catch (e) { out.push(e.name); } } }));
             return out.join();"#,
            "TypeError,TypeError,TypeError",
        );
    }

    #[test]
    fn response_metadata_and_null_body() {
        check(
            r#"const res = new HTMLRewriter().on('p', {}).transform(new Response('<p>x</p>', {
               status: 201, statusText: 'Made', headers: { 'content-type': 'text/html', 'content-length': '8', 'x-a': 'b' } }));
             const meta = [res.status, res.statusText, res.headers.get('x-a'), res.headers.get('content-length'),
                           res.headers.get('content-type')].join();
             const empty = await new HTMLRewriter().onDocument({ end(e) { e.append('tail'); } })
               .transform(new Response(null)).text();
             const none = new HTMLRewriter().transform(new Response(null, { status: 204 }));
             return [meta, await res.text(), empty, none.status, none.body === null].join(' ');"#,
            "201,Made,b,,text/html <p>x</p> tail 204 true",
        );
    }

    #[test]
    fn charset_from_content_type() {
        check(
            r#"const bytes = new Uint8Array([0x3c, 0x70, 0x3e, 0xe9, 0x3c, 0x2f, 0x70, 0x3e]); // <p>é</p> in latin1
             let seen;
             const res = new HTMLRewriter().on('p', { text(t) { if (t.text) seen = t.text; } })
               .transform(new Response(bytes, { headers: { 'content-type': 'text/html; charset=ISO-8859-1' } }));
             const out = new Uint8Array(await res.arrayBuffer());
             return seen + ' ' + out.length;"#,
            "é 8",
        );
    }

    #[test]
    fn input_error_and_output_cancel_reach_the_other_side() {
        check(
            r#"let ctl;
             const failing = new ReadableStream({ start(c) { ctl = c; } });
             ctl.enqueue(enc.encode('<p>'));
             const res = new HTMLRewriter().on('p', {}).transform(new Response(failing));
             const reading = res.text().then(() => 'ok', (e) => e.message);
             await tick();
             ctl.error(new Error('input broke'));
             const a = await reading;
             let reason;
             const src = new ReadableStream({ pull(c) { c.enqueue(enc.encode('<p>x</p>')); }, cancel(r) { reason = r; } });
             const body = new HTMLRewriter().on('p', { element(el) { el.setAttribute('a', 'b'); } })
               .transform(new Response(src)).body;
             const reader = body.getReader();
             await reader.read();
             await reader.cancel('enough');
             const chunk = await new HTMLRewriter().transform(new Response(new ReadableStream({
               start(c) { c.enqueue('not bytes'); c.close(); } }))).text().then(() => 'ok', (e) => e.name);
             return [a, reason, chunk].join(' | ');"#,
            "input broke | enough | TypeError",
        );
    }

    #[test]
    fn unread_and_abandoned_transforms_end_cleanly() {
        // A transform never read, and one abandoned inside a pending async
        // handler: dropping the isolate ends their threads without hanging.
        check(
            r#"new HTMLRewriter().on('p', {}).transform(new Response('<p>x</p>'));
             const body = new HTMLRewriter().on('p', { element() { return new Promise(() => {}); } })
               .transform(new Response('<p>x</p>')).body;
             const pending = body.getReader().read();
             await tick(5);
             return 'done';"#,
            "done",
        );
    }

    /// Throughput of sync handlers: each element costs a few round trips to
    /// the rewriter thread. `cargo test -p outpost-webapi --release --lib
    /// html_rewriter::tests::throughput -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn throughput() {
        let out = run_js(
            r#"const rewrite = (html, rw) => rw.transform(new Response(html)).text();
             const html = '<ul>' + '<li><a href="https://example.com/x">link</a></li>'.repeat(5000) + '</ul>';
             const lines = [];
             for (const [name, rw] of [
               ['no handlers', () => new HTMLRewriter()],
               ['5000 elements, 2 ops each', () => new HTMLRewriter().on('a[href]', { element(el) {
                 el.setAttribute('href', el.getAttribute('href').replace('https:', '')); } })],
               ['5000 async elements', () => new HTMLRewriter().on('a[href]', { async element(el) {
                 await null; el.setAttribute('rel', 'x'); } })],
             ]) {
               const t0 = Date.now();
               for (let i = 0; i < 5; i++) await rewrite(html, rw());
               lines.push(`${name}: ${(Date.now() - t0) / 5} ms per ${html.length} byte document`);
             }
             return lines.join('\n');"#,
        );
        println!("{out}");
    }
}
