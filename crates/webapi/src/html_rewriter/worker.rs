//! The rewriter thread: one per `HTMLRewriter.transform()`, owning a
//! `lol_html::HtmlRewriter`.
//!
//! lol_html calls its content handlers synchronously inside `write()`, but a
//! Workers handler may return a promise that settles much later (after a
//! `fetch`, a timer). So the rewriter runs here, on its own thread, and each
//! handler callback reports [`Event::Handler`] to the isolate and then serves
//! [`Cmd::Op`]s (reads and mutations of the element, text chunk, ... it
//! holds) until the isolate says the JS handler has finished
//! ([`Cmd::Done`]). Meanwhile the isolate's thread is free to run its event
//! loop. Everything lol_html borrows stays on this thread; only owned
//! strings cross the channels.

use std::rc::Rc;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

use lol_html::html_content::{
    Comment, ContentType, Doctype, DocumentEnd, Element, EndTag, TextChunk,
};
use lol_html::{
    AsciiCompatibleEncoding, DocumentContentHandlers, ElementContentHandlers, HandlerResult,
    HtmlRewriter, Selector, Settings,
};

/// What the isolate asks of the rewriter thread.
pub(crate) enum Cmd {
    /// Parse the next chunk of input.
    Write(Vec<u8>),
    /// The input has ended.
    End,
    /// Read or mutate the object the current handler holds.
    Op(Op),
    /// The current JS handler finished; `Some(message)` if it threw.
    Done(Option<String>),
}

/// What the rewriter thread tells the isolate.
pub(crate) enum Event {
    /// A JS handler must run: which kind of object, and which handler.
    Handler { kind: Kind, index: u32 },
    /// The answer to a [`Cmd::Op`].
    Reply(Reply),
    /// The last `Write` or `End` was fully processed.
    Finished,
    /// Rewriting failed; the rewriter is gone.
    Failed(String),
}

/// The kinds of objects handlers receive; the numbers are shared with
/// `html_rewriter.js`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    Element = 0,
    Comment = 1,
    Text = 2,
    Doctype = 3,
    DocumentEnd = 4,
    EndTag = 5,
    /// Comments and text seen by `onDocument()` handlers, told apart from
    /// the `on()` ones because the index means a different list.
    DocComment = 6,
    DocText = 7,
}

/// Where inserted content goes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Place {
    Before,
    After,
    Prepend,
    Append,
    Replace,
    Inner,
}

/// One read or mutation; op codes in `html_rewriter.js` map onto these.
#[derive(Debug)]
pub(crate) enum Op {
    TagName,
    SetTagName(String),
    Attributes,
    GetAttribute(String),
    HasAttribute(String),
    SetAttribute(String, String),
    RemoveAttribute(String),
    NamespaceUri,
    Removed,
    SelfClosing,
    CanHaveContent,
    Insert(Place, String, bool),
    Remove,
    RemoveAndKeepContent,
    OnEndTag(u32),
    Name,
    SetName(String),
    Text,
    SetText(String),
    LastInTextNode,
    PublicId,
    SystemId,
}

/// The answer to an [`Op`].
pub(crate) enum Reply {
    Unit,
    Str(String),
    OptStr(Option<String>),
    Bool(bool),
    Attributes(Vec<(String, String)>),
    /// The op was refused (bad name, ...): becomes a JS `TypeError`.
    Error(String),
}

/// What to rewrite with: the `on()` and `onDocument()` registrations, each
/// with which handlers it has.
pub(crate) struct Config {
    /// `(selector, element, comments, text)` per `on()` call.
    pub on: Vec<(String, bool, bool, bool)>,
    /// `(doctype, comments, text, end)` per `onDocument()` call.
    pub document: Vec<(bool, bool, bool, bool)>,
    pub encoding: AsciiCompatibleEncoding,
}

/// The channel ends the handler callbacks share on the rewriter thread.
struct Link {
    cmds: Receiver<Cmd>,
    events: Sender<Event>,
}

/// Output produced so far and not yet taken by the isolate.
pub(crate) type Output = Arc<Mutex<Vec<u8>>>;

fn content_type(html: bool) -> ContentType {
    if html {
        ContentType::Html
    } else {
        ContentType::Text
    }
}

/// The thread's body: builds the rewriter and feeds it until the input
/// ends, something fails, or the isolate goes away (its channel closes).
pub(crate) fn run(config: Config, cmds: Receiver<Cmd>, events: Sender<Event>, output: Output) {
    let link = Rc::new(Link { cmds, events });
    let mut element_handlers = Vec::new();
    for (i, (selector, element, comments, text)) in config.on.iter().enumerate() {
        let Ok(selector) = selector.parse::<Selector>() else {
            // Validated by `on()`; reaching here means a bug, not bad input.
            let _ = link
                .events
                .send(Event::Failed(format!("invalid selector '{selector}'")));
            return;
        };
        let i = i as u32;
        let mut h = ElementContentHandlers::default();
        if *element {
            let l = link.clone();
            h = h.element(move |el: &mut Element<'_, '_>| {
                serve(&l, Kind::Element, i, &mut ElementTarget(el, &l))
            });
        }
        if *comments {
            let l = link.clone();
            h = h.comments(move |c: &mut Comment<'_>| serve(&l, Kind::Comment, i, c));
        }
        if *text {
            let l = link.clone();
            h = h.text(move |t: &mut TextChunk<'_>| serve(&l, Kind::Text, i, t));
        }
        element_handlers.push((std::borrow::Cow::Owned(selector), h));
    }
    let mut document_handlers = Vec::new();
    for (i, (doctype, comments, text, end)) in config.document.iter().enumerate() {
        let i = i as u32;
        let mut h = DocumentContentHandlers::default();
        if *doctype {
            let l = link.clone();
            h = h.doctype(move |d: &mut Doctype<'_>| serve(&l, Kind::Doctype, i, d));
        }
        if *comments {
            let l = link.clone();
            h = h.comments(move |c: &mut Comment<'_>| serve(&l, Kind::DocComment, i, c));
        }
        if *text {
            let l = link.clone();
            h = h.text(move |t: &mut TextChunk<'_>| serve(&l, Kind::DocText, i, t));
        }
        if *end {
            let l = link.clone();
            h = h.end(move |e: &mut DocumentEnd<'_>| serve(&l, Kind::DocumentEnd, i, e));
        }
        document_handlers.push(h);
    }
    let settings = Settings {
        element_content_handlers: element_handlers,
        document_content_handlers: document_handlers,
        encoding: config.encoding,
        ..Settings::new()
    };
    let sink_output = output.clone();
    let mut rewriter = Some(HtmlRewriter::new(settings, move |chunk: &[u8]| {
        if let Ok(mut out) = sink_output.lock() {
            out.extend_from_slice(chunk);
        }
    }));
    while let Ok(cmd) = link.cmds.recv() {
        let result = match cmd {
            Cmd::Write(bytes) => match rewriter.as_mut() {
                Some(r) => r.write(&bytes),
                None => return,
            },
            Cmd::End => match rewriter.take() {
                Some(r) => r.end(),
                None => return,
            },
            // Only valid while a handler runs; the isolate never sends them
            // otherwise.
            Cmd::Op(_) | Cmd::Done(_) => {
                let _ = link
                    .events
                    .send(Event::Failed("HTMLRewriter protocol error".into()));
                return;
            }
        };
        match result {
            Ok(()) => {
                if link.events.send(Event::Finished).is_err() || rewriter.is_none() {
                    return;
                }
            }
            Err(e) => {
                let _ = link.events.send(Event::Failed(e.to_string()));
                return;
            }
        }
    }
}

/// A handler callback: hands the object to the isolate and serves its ops
/// until the JS handler is done.
fn serve(link: &Link, kind: Kind, index: u32, target: &mut dyn Target) -> HandlerResult {
    if link.events.send(Event::Handler { kind, index }).is_err() {
        return Err("the HTMLRewriter's response was dropped".into());
    }
    loop {
        match link.cmds.recv() {
            Ok(Cmd::Op(op)) => {
                let reply = target.apply(op);
                if link.events.send(Event::Reply(reply)).is_err() {
                    return Err("the HTMLRewriter's response was dropped".into());
                }
            }
            Ok(Cmd::Done(None)) => return Ok(()),
            Ok(Cmd::Done(Some(message))) => return Err(message.into()),
            Ok(Cmd::Write(_) | Cmd::End) => return Err("HTMLRewriter protocol error".into()),
            Err(_) => return Err("the HTMLRewriter's response was dropped".into()),
        }
    }
}

/// An object a handler holds, as the ops see it.
trait Target {
    fn apply(&mut self, op: Op) -> Reply;
}

fn unsupported(op: &Op) -> Reply {
    Reply::Error(format!("unsupported operation {op:?}"))
}

struct ElementTarget<'a, 'r, 't>(&'a mut Element<'r, 't>, &'a Rc<Link>);

impl Target for ElementTarget<'_, '_, '_> {
    fn apply(&mut self, op: Op) -> Reply {
        let el = &mut *self.0;
        match op {
            Op::TagName => Reply::Str(el.tag_name()),
            Op::SetTagName(name) => match el.set_tag_name(&name) {
                Ok(()) => Reply::Unit,
                Err(e) => Reply::Error(format!("Invalid tag name '{name}': {e}.")),
            },
            Op::Attributes => Reply::Attributes(
                el.attributes()
                    .iter()
                    .map(|a| (a.name(), a.value()))
                    .collect(),
            ),
            Op::GetAttribute(name) => Reply::OptStr(el.get_attribute(&name)),
            Op::HasAttribute(name) => Reply::Bool(el.has_attribute(&name)),
            Op::SetAttribute(name, value) => match el.set_attribute(&name, &value) {
                Ok(()) => Reply::Unit,
                Err(e) => Reply::Error(format!("Invalid attribute name '{name}': {e}.")),
            },
            Op::RemoveAttribute(name) => {
                el.remove_attribute(&name);
                Reply::Unit
            }
            Op::NamespaceUri => Reply::Str(el.namespace_uri().to_owned()),
            Op::Removed => Reply::Bool(el.removed()),
            Op::SelfClosing => Reply::Bool(el.is_self_closing()),
            Op::CanHaveContent => Reply::Bool(el.can_have_content()),
            Op::Insert(place, content, html) => {
                let ct = content_type(html);
                match place {
                    Place::Before => el.before(&content, ct),
                    Place::After => el.after(&content, ct),
                    Place::Prepend => el.prepend(&content, ct),
                    Place::Append => el.append(&content, ct),
                    Place::Replace => el.replace(&content, ct),
                    Place::Inner => el.set_inner_content(&content, ct),
                }
                Reply::Unit
            }
            Op::Remove => {
                el.remove();
                Reply::Unit
            }
            Op::RemoveAndKeepContent => {
                el.remove_and_keep_content();
                Reply::Unit
            }
            Op::OnEndTag(id) => {
                let l = self.1.clone();
                let handler: lol_html::EndTagHandler<'static> =
                    Box::new(move |end: &mut EndTag<'_>| serve(&l, Kind::EndTag, id, end));
                match el.end_tag_handlers() {
                    Some(handlers) => {
                        handlers.push(handler);
                        Reply::Unit
                    }
                    None => Reply::Error(format!(
                        "<{}> has no end tag, so onEndTag() cannot be used on it.",
                        el.tag_name()
                    )),
                }
            }
            op => unsupported(&op),
        }
    }
}

impl Target for EndTag<'_> {
    fn apply(&mut self, op: Op) -> Reply {
        match op {
            Op::Name => Reply::Str(self.name()),
            Op::SetName(name) => {
                self.set_name_str(name);
                Reply::Unit
            }
            Op::Insert(Place::Before, content, html) => {
                self.before(&content, content_type(html));
                Reply::Unit
            }
            Op::Insert(Place::After, content, html) => {
                self.after(&content, content_type(html));
                Reply::Unit
            }
            Op::Remove => {
                self.remove();
                Reply::Unit
            }
            op => unsupported(&op),
        }
    }
}

/// Text chunks, comments: the shared "before/after/replace/remove" family.
macro_rules! insertions {
    ($self:ident, $op:ident) => {
        match $op {
            Op::Insert(Place::Before, content, html) => {
                $self.before(&content, content_type(html));
                Reply::Unit
            }
            Op::Insert(Place::After, content, html) => {
                $self.after(&content, content_type(html));
                Reply::Unit
            }
            Op::Insert(Place::Replace, content, html) => {
                $self.replace(&content, content_type(html));
                Reply::Unit
            }
            Op::Remove => {
                $self.remove();
                Reply::Unit
            }
            Op::Removed => Reply::Bool($self.removed()),
            op => unsupported(&op),
        }
    };
}

impl Target for TextChunk<'_> {
    fn apply(&mut self, op: Op) -> Reply {
        match op {
            Op::Text => Reply::Str(self.as_str().to_owned()),
            Op::LastInTextNode => Reply::Bool(self.last_in_text_node()),
            op => insertions!(self, op),
        }
    }
}

impl Target for Comment<'_> {
    fn apply(&mut self, op: Op) -> Reply {
        match op {
            Op::Text => Reply::Str(self.text()),
            Op::SetText(text) => match self.set_text(&text) {
                Ok(()) => Reply::Unit,
                Err(e) => Reply::Error(format!("Invalid comment text: {e}.")),
            },
            op => insertions!(self, op),
        }
    }
}

impl Target for Doctype<'_> {
    fn apply(&mut self, op: Op) -> Reply {
        match op {
            Op::Name => Reply::OptStr(self.name()),
            Op::PublicId => Reply::OptStr(self.public_id()),
            Op::SystemId => Reply::OptStr(self.system_id()),
            op => unsupported(&op),
        }
    }
}

impl Target for DocumentEnd<'_> {
    fn apply(&mut self, op: Op) -> Reply {
        match op {
            Op::Insert(Place::Append, content, html) => {
                self.append(&content, content_type(html));
                Reply::Unit
            }
            op => unsupported(&op),
        }
    }
}
