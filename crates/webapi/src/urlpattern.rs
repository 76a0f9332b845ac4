//! `URLPattern`: matching URLs against patterns such as `/books/:id`.
//!
//! Spec: <https://urlpattern.spec.whatwg.org/>
//!
//! The pattern parser, the component canonicalisation and the generation of
//! each component's regular expression come from the `urlpattern` crate
//! (denoland), through its `quirks` interface, which hands back the
//! expressions as ECMAScript source. Those are compiled here with QuickJS's
//! own `RegExp` (flags `u`, or `ui` with `ignoreCase`), so a custom group
//! such as `(\\d+)` or `(?<=x)y` means what it means in JavaScript and in
//! workerd, instead of what the Rust `regex` crate accepts. The compiled
//! expressions live in the pattern object and are traced by the GC.

use rquickjs::{
    class::{Trace, Tracer},
    function::{Opt, This},
    Array, Ctx, Function, JsLifetime, Object, Result, Value,
};
use urlpattern::quirks::{self, StringOrInit, UrlPatternInit};
use urlpattern::regexp::RegExp;
use urlpattern::{RegexSyntax, UrlPatternOptions};

use crate::error::{OrThrow, WebApiError};
use crate::webidl::{dict_member, to_bool, to_usv_string};

/// The component names, in the spec's order.
const COMPONENTS: [&str; 8] = [
    "protocol", "username", "password", "hostname", "port", "pathname", "search", "hash",
];

/// The crate's view of a regular expression: its ECMAScript source, kept as
/// text. The JS engine compiles it later (with the context at hand), so
/// parsing never rejects ECMAScript-only syntax here.
struct EcmaSource {
    pattern: String,
    flags: String,
}

impl RegExp for EcmaSource {
    fn syntax() -> RegexSyntax {
        RegexSyntax::EcmaScript
    }

    fn parse(pattern: &str, flags: &str, _force_eval: bool) -> std::result::Result<Self, ()> {
        Ok(Self {
            pattern: pattern.to_owned(),
            flags: flags.to_owned(),
        })
    }

    /// Only reached by the parser's "protocol component matches a special
    /// scheme" check on a protocol with a custom group; the crate's own
    /// ECMAScript-to-Rust translation is good enough for that probe.
    fn matches<'a>(&self, text: &'a str) -> Option<Vec<Option<&'a str>>> {
        quirks::EcmaRegexp::parse(&self.pattern, &self.flags, false)
            .ok()?
            .matches(text)
    }

    fn pattern_string(&self) -> &str {
        &self.pattern
    }
}

/// One compiled component: its normalised pattern, its regular expression
/// and the names of its groups.
struct Component<'js> {
    pattern: String,
    regexp: Object<'js>,
    names: Vec<String>,
}

// SAFETY: the only lifetime is 'js, carried by JS values.
unsafe impl<'js> JsLifetime<'js> for Component<'js> {
    type Changed<'to> = Component<'to>;
}

/// The JS `URLPattern` class.
///
/// Spec: <https://urlpattern.spec.whatwg.org/#urlpattern-class>
#[derive(JsLifetime)]
#[rquickjs::class(rename = "URLPattern")]
pub struct UrlPattern<'js> {
    components: Vec<Component<'js>>,
    has_regexp_groups: bool,
}

impl<'js> Trace<'js> for UrlPattern<'js> {
    fn trace<'a>(&self, tracer: Tracer<'a, 'js>) {
        for c in &self.components {
            c.regexp.trace(tracer);
        }
    }
}

fn type_error<T>(ctx: &Ctx<'_>, msg: impl Into<String>) -> Result<T> {
    Err(WebApiError::type_error(msg)).or_throw(ctx)
}

/// Converts a `URLPatternInput` (a string, or a `URLPatternInit` dictionary).
///
/// Spec: <https://urlpattern.spec.whatwg.org/#typedefdef-urlpatterninput>
fn to_input<'js>(ctx: &Ctx<'js>, value: Option<&Value<'js>>) -> Result<StringOrInit<'static>> {
    let Some(value) = value.filter(|v| !v.is_undefined() && !v.is_null()) else {
        return Ok(StringOrInit::Init(UrlPatternInit::default()));
    };
    if !value.is_object() {
        return Ok(StringOrInit::String(
            to_usv_string(ctx, value.clone())?.into(),
        ));
    }
    let member = |name: &str| -> Result<Option<String>> {
        dict_member(value, name)?
            .map(|v| to_usv_string(ctx, v))
            .transpose()
    };
    Ok(StringOrInit::Init(UrlPatternInit {
        protocol: member("protocol")?,
        username: member("username")?,
        password: member("password")?,
        hostname: member("hostname")?,
        port: member("port")?,
        pathname: member("pathname")?,
        search: member("search")?,
        hash: member("hash")?,
        base_url: member("baseURL")?,
    }))
}

/// Splits the overloads `(input, baseURL, options)` and `(input, options)` by
/// the second argument: a dictionary (object, `undefined`, `null`) or a string.
fn base_and_options<'js>(
    ctx: &Ctx<'js>,
    second: Option<Value<'js>>,
    third: Option<Value<'js>>,
) -> Result<(Option<String>, Option<Value<'js>>)> {
    match second {
        Some(v) if !v.is_undefined() && !v.is_null() && !v.is_object() => {
            Ok((Some(to_usv_string(ctx, v)?), third))
        }
        other => Ok((None, other)),
    }
}

impl<'js> UrlPattern<'js> {
    /// Spec: <https://urlpattern.spec.whatwg.org/#url-pattern-create>
    fn create(
        ctx: &Ctx<'js>,
        input: Option<Value<'js>>,
        second: Option<Value<'js>>,
        third: Option<Value<'js>>,
    ) -> Result<Self> {
        let (base, options) = base_and_options(ctx, second, third)?;
        let ignore_case = match &options {
            Some(o) if o.is_object() => match dict_member(o, "ignoreCase")? {
                Some(v) => to_bool(ctx, v)?,
                None => false,
            },
            Some(o) if !o.is_undefined() && !o.is_null() => {
                return type_error(ctx, "URLPatternOptions is not an object.")
            }
            _ => false,
        };
        let input = to_input(ctx, input.as_ref())?;
        if matches!(input, StringOrInit::Init(_)) && base.is_some() {
            return type_error(
                ctx,
                "Failed to construct 'URLPattern': a base URL cannot be given with a URLPatternInit.",
            );
        }
        let init = quirks::process_construct_pattern_input(input, base.as_deref())
            .or_else(|e| type_error(ctx, format!("Failed to construct 'URLPattern': {e}")))?;
        let options = UrlPatternOptions {
            regex_syntax: RegexSyntax::EcmaScript,
            ignore_case,
        };
        let parsed = quirks::parse_pattern::<EcmaSource>(init, options)
            .or_else(|e| type_error(ctx, format!("Failed to construct 'URLPattern': {e}")))?;
        let flags = if ignore_case { "ui" } else { "u" };
        let regexp_ctor: rquickjs::Constructor = ctx.globals().get("RegExp")?;
        let mut components = Vec::with_capacity(COMPONENTS.len());
        for (name, c) in COMPONENTS.into_iter().zip([
            parsed.protocol,
            parsed.username,
            parsed.password,
            parsed.hostname,
            parsed.port,
            parsed.pathname,
            parsed.search,
            parsed.hash,
        ]) {
            // Spec: "If regular expression is an abrupt completion, then throw a TypeError."
            let regexp: Object = match regexp_ctor.construct((c.regexp_string.as_str(), flags)) {
                Ok(r) => r,
                Err(rquickjs::Error::Exception) => {
                    let e = ctx.catch();
                    if e.is_uncatchable_error() {
                        return Err(ctx.throw(e));
                    }
                    let why: String = e
                        .as_object()
                        .and_then(|o| o.get("message").ok())
                        .unwrap_or_default();
                    return type_error(
                        ctx,
                        format!(
                            "Failed to construct 'URLPattern': invalid regular expression in the {name} component `{}`: {why}",
                            c.pattern_string
                        ),
                    );
                }
                Err(e) => return Err(e),
            };
            components.push(Component {
                pattern: c.pattern_string,
                regexp,
                names: c.group_name_list,
            });
        }
        Ok(Self {
            components,
            has_regexp_groups: parsed.has_regexp_groups,
        })
    }

    /// Runs the match and returns each component's input and regexp result,
    /// or `None` when the input does not match.
    ///
    /// Spec: <https://urlpattern.spec.whatwg.org/#url-pattern-match>
    fn run(
        &self,
        ctx: &Ctx<'js>,
        input: Option<Value<'js>>,
        base: Option<Value<'js>>,
    ) -> Result<Option<Vec<(String, Array<'js>)>>> {
        let base = match base {
            Some(v) if !v.is_undefined() => Some(to_usv_string(ctx, v)?),
            _ => None,
        };
        let input = to_input(ctx, input.as_ref())?;
        if matches!(input, StringOrInit::Init(_)) && base.is_some() {
            return type_error(
                ctx,
                "a base URL cannot be given with a URLPatternInit input",
            );
        }
        let matched = match quirks::process_match_input(input, base.as_deref()) {
            Ok(Some((m, _))) => m,
            Ok(None) => return Ok(None),
            Err(e) => return type_error(ctx, e.to_string()),
        };
        let Some(values) = quirks::parse_match_input(matched) else {
            return Ok(None);
        };
        let texts = [
            values.protocol,
            values.username,
            values.password,
            values.hostname,
            values.port,
            values.pathname,
            values.search,
            values.hash,
        ];
        let mut out = Vec::with_capacity(texts.len());
        for (comp, text) in self.components.iter().zip(texts) {
            let exec: Function = comp.regexp.get("exec")?;
            let result: Value = exec.call((This(comp.regexp.clone()), text.as_str()))?;
            match result.into_array() {
                Some(arr) => out.push((text, arr)),
                None => return Ok(None),
            }
        }
        Ok(Some(out))
    }
}

#[rquickjs::methods(rename_all = "camelCase")]
impl<'js> UrlPattern<'js> {
    /// `new URLPattern(input, baseURL, options)` / `new URLPattern(input, options)`
    #[qjs(constructor)]
    pub fn new(
        ctx: Ctx<'js>,
        new_target: This<Value<'js>>,
        input: Opt<Value<'js>>,
        second: Opt<Value<'js>>,
        third: Opt<Value<'js>>,
    ) -> Result<Self> {
        crate::webidl::require_new(&ctx, &new_target.0, "URLPattern")?;
        Self::create(&ctx, input.0, second.0, third.0)
    }

    /// Spec: <https://urlpattern.spec.whatwg.org/#dom-urlpattern-test>
    pub fn test(
        &self,
        ctx: Ctx<'js>,
        input: Opt<Value<'js>>,
        base: Opt<Value<'js>>,
    ) -> Result<bool> {
        Ok(self.run(&ctx, input.0, base.0)?.is_some())
    }

    /// Spec: <https://urlpattern.spec.whatwg.org/#dom-urlpattern-exec>
    pub fn exec(
        &self,
        ctx: Ctx<'js>,
        input: Opt<Value<'js>>,
        base: Opt<Value<'js>>,
    ) -> Result<Value<'js>> {
        let inputs = Array::new(ctx.clone())?;
        let first = match input.0.clone() {
            Some(v) => v,
            None => Object::new(ctx.clone())?.into_value(),
        };
        inputs.set(0, first)?;
        if let Some(b) = base.0.clone().filter(|b| !b.is_undefined()) {
            inputs.set(1, b)?;
        }
        let Some(matched) = self.run(&ctx, input.0, base.0)? else {
            return Ok(Value::new_null(ctx));
        };
        let result = Object::new(ctx.clone())?;
        result.set("inputs", inputs)?;
        for ((name, comp), (text, arr)) in COMPONENTS.iter().zip(&self.components).zip(matched) {
            // Spec: <https://urlpattern.spec.whatwg.org/#create-a-component-match-result>
            let groups = Object::new(ctx.clone())?;
            for (i, group) in comp.names.iter().enumerate() {
                let v: Value = arr.get(i + 1)?;
                groups.set(group.as_str(), v)?;
            }
            let component = Object::new(ctx.clone())?;
            component.set("input", text)?;
            component.set("groups", groups)?;
            result.set(*name, component)?;
        }
        Ok(result.into_value())
    }

    /// The normalised `protocol` pattern.
    #[qjs(get)]
    pub fn protocol(&self) -> String {
        self.components[0].pattern.clone()
    }

    /// The normalised `username` pattern.
    #[qjs(get)]
    pub fn username(&self) -> String {
        self.components[1].pattern.clone()
    }

    /// The normalised `password` pattern.
    #[qjs(get)]
    pub fn password(&self) -> String {
        self.components[2].pattern.clone()
    }

    /// The normalised `hostname` pattern.
    #[qjs(get)]
    pub fn hostname(&self) -> String {
        self.components[3].pattern.clone()
    }

    /// The normalised `port` pattern.
    #[qjs(get)]
    pub fn port(&self) -> String {
        self.components[4].pattern.clone()
    }

    /// The normalised `pathname` pattern.
    #[qjs(get)]
    pub fn pathname(&self) -> String {
        self.components[5].pattern.clone()
    }

    /// The normalised `search` pattern.
    #[qjs(get)]
    pub fn search(&self) -> String {
        self.components[6].pattern.clone()
    }

    /// The normalised `hash` pattern.
    #[qjs(get)]
    pub fn hash(&self) -> String {
        self.components[7].pattern.clone()
    }

    /// Whether any component uses a custom regular expression group.
    #[qjs(get)]
    pub fn has_reg_exp_groups(&self) -> bool {
        self.has_regexp_groups
    }

    #[qjs(prop, rename = rquickjs::atom::PredefinedAtom::SymbolToStringTag, configurable)]
    pub fn to_string_tag() -> &'static str {
        "URLPattern"
    }
}

/// Installs the `URLPattern` global.
pub fn init(ctx: &Ctx<'_>) -> Result<()> {
    crate::webidl::define_interface::<UrlPattern>(ctx)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::run_js;

    #[test]
    fn spec_examples_pathname() {
        // Examples from the spec's introduction.
        let out = run_js(
            "const p = new URLPattern({ pathname: '/books/:id' });
             const r = p.exec('https://example.com/books/123');
             return [p.test('https://example.com/books/123'), p.test('https://example.com/books'),
                     p.test('https://example.com/books/123/x'), r.pathname.input, r.pathname.groups.id,
                     r.inputs[0], p.pathname, p.protocol, p.hasRegExpGroups].join('|');",
        );
        assert_eq!(
            out,
            "true|false|false|/books/123|123|https://example.com/books/123|/books/:id|*|false"
        );
    }

    #[test]
    fn constructor_string_and_base_url() {
        let out = run_js(
            "const p = new URLPattern('https://example.com/:category/*');
             const r = p.exec('https://example.com/cats/tabby/x');
             const b = new URLPattern('/admin/*', 'https://example.com');
             return [p.protocol, p.hostname, p.pathname, r.pathname.groups.category, r.pathname.groups[0],
                     b.hostname, b.test('https://example.com/admin/x'), b.test('https://other.com/admin/x'),
                     b.test('/admin/y', 'https://example.com/'), JSON.stringify(b.exec('/admin/y', 'https://example.com/').inputs)].join('|');",
        );
        assert_eq!(
            out,
            "https|example.com|/:category/*|cats|tabby/x|example.com|true|false|true|[\"/admin/y\",\"https://example.com/\"]"
        );
    }

    #[test]
    fn regexp_groups_optional_and_wildcards() {
        let out = run_js(
            "const p = new URLPattern({ pathname: '/(\\\\d+)/:slug?' });
             const r = p.exec({ pathname: '/42' });
             const lb = new URLPattern({ pathname: '/(x(?!y).*)' });
             const h = new URLPattern({ hostname: '{*.}?example.com' });
             return [p.hasRegExpGroups, p.test({pathname: '/42/hello'}), p.test({pathname: '/x'}),
                     r.pathname.groups[0], String(r.pathname.groups.slug), 'slug' in r.pathname.groups,
                     lb.test({pathname: '/xz'}), lb.test({pathname: '/xy'}), h.test({hostname: 'a.example.com'}),
                     h.test({hostname: 'example.com'}), h.test({hostname: 'example.org'})].join('|');",
        );
        assert_eq!(
            out,
            "true|true|false|42|undefined|true|true|false|true|true|false"
        );
    }

    #[test]
    fn ignore_case_and_search() {
        let out = run_js(
            "const p = new URLPattern({ pathname: '/Books/:id' }, { ignoreCase: true });
             const q = new URLPattern('https://e.com/p?q=:v', { ignoreCase: false });
             return [p.test({pathname: '/BOOKS/1'}), new URLPattern({ pathname: '/Books/:id' }).test({pathname: '/books/1'}),
                     q.exec('https://e.com/p?q=7').search.groups.v, q.test('https://e.com/P?q=7')].join('|');",
        );
        assert_eq!(out, "true|false|7|false");
    }

    #[test]
    fn no_match_and_bad_inputs() {
        let out = run_js(
            "const p = new URLPattern({ hostname: 'example.com' });
             return [p.exec('https://other.com/'), p.test('not a url'), p.exec('relative/path'),
                     new URLPattern().test('https://anything/'), Object.prototype.toString.call(p)].join('|');",
        );
        assert_eq!(out, "|false||true|[object URLPattern]");
    }

    #[test]
    fn bad_patterns_throw_type_errors() {
        for src in [
            "new URLPattern({ pathname: '/(' })",
            "new URLPattern({ pathname: '/([a-' + ')' })",
            "new URLPattern({ pathname: '/:' })",
            "new URLPattern('/relative')",
            "new URLPattern({ pathname: '/x' }, 'https://base/')",
            "new URLPattern('https://x/', 'not a base')",
            "new URLPattern({ pathname: '/(a(b))' })",
            "new URLPattern({}).test({ pathname: '/x' }, 'https://base/')",
            "new URLPattern({}, 5)",
            "URLPattern({})",
        ] {
            let out = run_js(src);
            assert!(out.starts_with("THROWN TypeError"), "{src}: {out}");
        }
    }
}
