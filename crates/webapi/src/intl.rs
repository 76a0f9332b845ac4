//! A minimal `Intl` (ECMA-402) for isolates: QuickJS-ng has none, and edge
//! frameworks reach for `Intl.NumberFormat`, `Intl.DateTimeFormat` and
//! friends, and for the locale-sensitive methods of `Number`, `BigInt`,
//! `Date` and `String` that delegate to them.
//!
//! Spec: <https://tc39.es/ecma402/>
//!
//! The implementation is `intl.js`, a deliberately small subset: locale data
//! for `en-US` only (every requested locale negotiates to it, as the spec's
//! best-fit matcher may) and the `UTC` time zone only (any other `timeZone`
//! throws a `RangeError` rather than print a wrong wall-clock time). Its
//! strings match what V8/workerd print for `en-US`.
//!
//! Nothing is loaded at isolate start: `Intl` is a lazy global (see
//! [`crate::lazy`]), and `Number.prototype.toLocaleString`,
//! `BigInt.prototype.toLocaleString`, `Date.prototype.toLocale{,Date,Time}String`
//! and `String.prototype.localeCompare` are replaced by small wrappers that
//! load the same script on their first call and then call into it through a
//! private `hooks` object, so they keep working if user code replaces `Intl`.

use rquickjs::{Ctx, Function, Object, Result};

/// Installs `Intl` as a lazy global and the locale-sensitive built-in
/// methods as wrappers that load it on first call.
pub fn init<'js>(ctx: &Ctx<'js>) -> Result<()> {
    // Captures no JS values, so the collector loses nothing by not seeing into it.
    let load_factory = Function::new(ctx.clone(), |ctx: Ctx<'js>| -> Result<Function<'js>> {
        crate::glue::INTL.load(&ctx)
    })?;
    let hooks = Object::new(ctx.clone())?;
    crate::lazy::install(
        ctx,
        &["Intl"],
        load_factory,
        vec![hooks.clone().into_value()],
    )?;
    // `intl_wrappers.js`: the locale-sensitive built-ins, replaced by
    // wrappers that load `Intl` on their first call.
    let wrappers = crate::glue::INTL_WRAPPERS.load(ctx)?;
    wrappers.call((hooks, crate::lazy::global_descriptor(ctx, "Intl")?))
}

#[cfg(test)]
mod tests {
    use crate::testing::run_js;

    /// Evaluates each JS expression in `cases` in one isolate and compares
    /// `String(value)` (or `THROW <name>` if it throws) with the expected
    /// text, which is what V8 (Chrome/workerd) prints for `en-US` in UTC.
    #[track_caller]
    fn check(setup: &str, cases: &[(&str, &str)]) {
        let exprs: Vec<String> = cases
            .iter()
            .map(|(e, _)| {
                format!(
                    "(() => {{ try {{ return String({e}); }} catch (e) {{ return 'THROW ' + e.name; }} }})()"
                )
            })
            .collect();
        let src = format!("{setup}\nreturn [{}].join('\\u0001');", exprs.join(",\n"));
        let out = run_js(&src);
        let got: Vec<&str> = out.split('\u{1}').collect();
        assert_eq!(got.len(), cases.len(), "{out}");
        for ((expr, want), got) in cases.iter().zip(got) {
            assert_eq!(got, *want, "{expr}");
        }
    }

    const DATES: &str = "const d0 = new Date(0);
        const d1 = new Date(Date.UTC(2024, 2, 5, 14, 7, 9, 45));
        const d2 = new Date(Date.UTC(2023, 11, 31, 0, 5, 0));
        const dtf = (o) => new Intl.DateTimeFormat('en-US', o);
        const parts = (p) => p.map((x) => x.type + ':' + x.value).join('|');";

    #[test]
    fn number_format() {
        check(
            "const nf = (o) => new Intl.NumberFormat('en-US', o);",
            &[
                ("nf({ style: 'currency', currency: 'USD' }).format(1234.5)", "$1,234.50"),
                ("nf().format(1234567.891)", "1,234,567.891"),
                ("nf().format(-1234.5678)", "-1,234.568"),
                ("nf().format(0.1 + 0.2)", "0.3"),
                ("nf({ maximumFractionDigits: 2 }).format(1.005)", "1.01"),
                ("nf({ maximumFractionDigits: 0 }).format(2.5)", "3"),
                ("nf({ minimumFractionDigits: 2 }).format(1)", "1.00"),
                ("nf({ minimumFractionDigits: 5 }).resolvedOptions().maximumFractionDigits", "5"),
                ("nf({ minimumIntegerDigits: 3 }).format(7)", "007"),
                ("nf({ useGrouping: false }).format(1234567)", "1234567"),
                ("nf({ useGrouping: 'min2' }).format(1234) + ' ' + nf({ useGrouping: 'min2' }).format(12345)", "1234 12,345"),
                ("nf({ maximumSignificantDigits: 3 }).format(123456)", "123,000"),
                ("nf({ minimumSignificantDigits: 3 }).format(5)", "5.00"),
                ("nf({ maximumSignificantDigits: 2 }).format(0.012345)", "0.012"),
                ("nf({ style: 'percent' }).format(0.256)", "26%"),
                ("nf({ style: 'percent', minimumFractionDigits: 1 }).format(-0.5)", "-50.0%"),
                ("nf({ style: 'currency', currency: 'eur' }).format(-3)", "-€3.00"),
                ("nf({ style: 'currency', currency: 'GBP' }).format(0.5)", "£0.50"),
                ("nf({ style: 'currency', currency: 'JPY' }).format(1234.5)", "¥1,235"),
                ("nf({ style: 'currency', currency: 'CHF' }).format(3)", "CHF\u{a0}3.00"),
                ("nf({ style: 'currency', currency: 'USD', currencyDisplay: 'code' }).format(3)", "USD\u{a0}3.00"),
                ("nf({ style: 'currency', currency: 'USD', currencyDisplay: 'name' }).format(2)", "2.00 US dollars"),
                ("nf({ style: 'currency', currency: 'USD', currencySign: 'accounting' }).format(-3)", "($3.00)"),
                ("nf({ notation: 'compact' }).format(1234)", "1.2K"),
                ("nf({ notation: 'compact' }).format(12345)", "12K"),
                ("nf({ notation: 'compact' }).format(999999)", "1M"),
                ("nf({ notation: 'compact' }).format(999)", "999"),
                ("nf({ notation: 'compact', compactDisplay: 'long' }).format(1500000)", "1.5 million"),
                ("nf({ notation: 'compact' }).format(2.5e12)", "2.5T"),
                ("nf({ notation: 'scientific' }).format(123456)", "1.235E5"),
                ("nf({ notation: 'scientific' }).format(0.00012)", "1.2E-4"),
                ("nf({ notation: 'engineering' }).format(123456)", "123.456E3"),
                ("nf({ signDisplay: 'always' }).format(5)", "+5"),
                ("nf({ signDisplay: 'exceptZero' }).format(0)", "0"),
                ("nf({ signDisplay: 'exceptZero' }).format(-2)", "-2"),
                ("nf({ signDisplay: 'never' }).format(-2)", "2"),
                ("nf().format(-0)", "-0"),
                ("nf().format(NaN)", "NaN"),
                ("nf().format(-Infinity)", "-∞"),
                ("nf().format(1e21)", "1,000,000,000,000,000,000,000"),
                ("nf().format(12345678901234567890n)", "12,345,678,901,234,567,890"),
                ("nf().format('12345678901234567890.125')", "12,345,678,901,234,567,890.125"),
                ("nf().format()", "NaN"),
                (
                    "nf({ style: 'currency', currency: 'USD' }).formatToParts(-1234.5).map((p) => p.type + ':' + p.value).join('|')",
                    "minusSign:-|currency:$|integer:1|group:,|integer:234|decimal:.|fraction:50",
                ),
                (
                    "JSON.stringify(nf({ style: 'currency', currency: 'usd' }).resolvedOptions())",
                    r#"{"locale":"en-US","numberingSystem":"latn","style":"currency","currency":"USD","currencyDisplay":"symbol","currencySign":"standard","minimumIntegerDigits":1,"minimumFractionDigits":2,"maximumFractionDigits":2,"useGrouping":"auto","notation":"standard","signDisplay":"auto","roundingIncrement":1,"roundingMode":"halfExpand","roundingPriority":"auto","trailingZeroDisplay":"auto"}"#,
                ),
                ("typeof Intl.NumberFormat.prototype.format", "THROW TypeError"),
                ("[1, 22, 333].map(nf().format).join(' ')", "1 22 333"),
                ("Intl.NumberFormat() instanceof Intl.NumberFormat", "true"),
                ("nf({ style: 'currency' })", "THROW TypeError"),
                ("nf({ style: 'currency', currency: 'US' })", "THROW RangeError"),
                ("nf({ style: 'bogus' })", "THROW RangeError"),
                ("nf({ maximumFractionDigits: 101 })", "THROW RangeError"),
                ("nf({ minimumFractionDigits: 3, maximumFractionDigits: 1 })", "THROW RangeError"),
                ("nf({ useGrouping: 'sometimes' })", "THROW RangeError"),
                ("nf(null)", "THROW TypeError"),
            ],
        );
    }

    #[test]
    fn to_locale_string_delegates() {
        check(
            "",
            &[
                ("(1234567.891).toLocaleString()", "1,234,567.891"),
                ("(1234.5).toLocaleString('en-US', { style: 'currency', currency: 'USD' })", "$1,234.50"),
                ("(0.5).toLocaleString(undefined, { style: 'percent' })", "50%"),
                ("12345678901234567890n.toLocaleString()", "12,345,678,901,234,567,890"),
                ("Number.prototype.toLocaleString.call('1')", "THROW TypeError"),
                ("BigInt.prototype.toLocaleString.call(1)", "THROW TypeError"),
                ("new Number.prototype.toLocaleString()", "THROW TypeError"),
                ("Number.prototype.toLocaleString.name + Number.prototype.toLocaleString.length", "toLocaleString0"),
                ("String.prototype.localeCompare.name + String.prototype.localeCompare.length", "localeCompare1"),
                ("Object.keys(Number.prototype).length + Object.keys(Date.prototype).length", "0"),
                ("['a'.localeCompare('b'), 'b'.localeCompare('a'), 'a'.localeCompare('a'), 'a'.localeCompare('A')].join()", "-1,1,0,-1"),
                ("'a'.localeCompare('á', 'en', { sensitivity: 'base' })", "0"),
                ("String.prototype.localeCompare.call(null, 'a')", "THROW TypeError"),
                ("new Date(Date.UTC(2024, 2, 5, 14, 7, 9)).toLocaleString()", "3/5/2024, 2:07:09 PM"),
                ("new Date(Date.UTC(2024, 2, 5, 14, 7, 9)).toLocaleDateString()", "3/5/2024"),
                ("new Date(Date.UTC(2024, 2, 5, 14, 7, 9)).toLocaleTimeString()", "2:07:09 PM"),
                ("new Date(0).toLocaleDateString('en-US', { month: 'long', year: 'numeric' })", "January 1970"),
                ("new Date(0).toLocaleTimeString('en-US', { hour: '2-digit', minute: '2-digit' })", "12:00 AM"),
                ("new Date(0).toLocaleDateString('en-US', { timeStyle: 'short' })", "THROW TypeError"),
                ("new Date(NaN).toLocaleString()", "Invalid Date"),
                ("Date.prototype.toLocaleString.call({})", "THROW TypeError"),
            ],
        );
    }

    #[test]
    fn locale_sensitive_methods_survive_a_replaced_intl() {
        check(
            "globalThis.Intl = 5;",
            &[
                ("(1234).toLocaleString()", "1,234"),
                ("new Date(0).toLocaleDateString()", "1/1/1970"),
                ("Intl", "5"),
            ],
        );
    }

    #[test]
    fn intl_is_lazy() {
        check(
            "const before = typeof Object.getOwnPropertyDescriptor(globalThis, 'Intl').get;",
            &[
                ("before", "function"),
                ("typeof Intl", "object"),
                ("JSON.stringify(Object.getOwnPropertyDescriptor(globalThis, 'Intl'), ['writable', 'enumerable', 'configurable'])", r#"{"writable":true,"enumerable":false,"configurable":true}"#),
                ("Object.prototype.toString.call(Intl)", "[object Intl]"),
                ("Object.prototype.toString.call(new Intl.Collator())", "[object Intl.Collator]"),
            ],
        );
    }

    #[test]
    fn date_time_format() {
        check(
            DATES,
            &[
                ("dtf({ dateStyle: 'medium', timeZone: 'UTC' }).format(d0)", "Jan 1, 1970"),
                ("new Intl.DateTimeFormat().format(d0)", "1/1/1970"),
                ("dtf().format(d1.getTime())", "3/5/2024"),
                ("['full', 'long', 'medium', 'short'].map((s) => dtf({ dateStyle: s }).format(d1)).join(' | ')", "Tuesday, March 5, 2024 | March 5, 2024 | Mar 5, 2024 | 3/5/24"),
                ("['full', 'long', 'medium', 'short'].map((s) => dtf({ timeStyle: s }).format(d1)).join(' | ')", "2:07:09 PM Coordinated Universal Time | 2:07:09 PM UTC | 2:07:09 PM | 2:07 PM"),
                ("dtf({ dateStyle: 'long', timeStyle: 'short' }).format(d1)", "March 5, 2024 at 2:07 PM"),
                ("dtf({ dateStyle: 'medium', timeStyle: 'medium' }).format(d2)", "Dec 31, 2023, 12:05:00 AM"),
                ("dtf({ dateStyle: 'short', timeStyle: 'short' }).format(d2)", "12/31/23, 12:05 AM"),
                ("dtf({ weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' }).format(d1)", "Tuesday, March 5, 2024"),
                ("dtf({ weekday: 'short', year: 'numeric', month: 'short', day: 'numeric' }).format(d1)", "Tue, Mar 5, 2024"),
                ("dtf({ month: 'short', day: 'numeric' }).format(d1)", "Mar 5"),
                ("dtf({ month: 'long' }).format(d1)", "March"),
                ("dtf({ weekday: 'long' }).format(d1)", "Tuesday"),
                ("dtf({ year: 'numeric' }).format(d1)", "2024"),
                ("dtf({ year: '2-digit', month: '2-digit', day: '2-digit' }).format(d1)", "03/05/24"),
                ("dtf({ year: 'numeric', month: 'numeric' }).format(d1)", "3/2024"),
                ("dtf({ hour: 'numeric', minute: '2-digit' }).format(d1)", "2:07 PM"),
                ("dtf({ hour: 'numeric' }).format(d1)", "2 PM"),
                ("dtf({ hour: 'numeric', minute: 'numeric', hour12: false }).format(d2)", "00:05"),
                ("dtf({ hour: 'numeric', minute: 'numeric', hourCycle: 'h23' }).format(d1)", "14:07"),
                ("dtf({ hour: '2-digit', minute: '2-digit' }).format(d2)", "12:05 AM"),
                ("dtf({ hour: 'numeric', minute: 'numeric', second: 'numeric', fractionalSecondDigits: 3 }).format(d1)", "2:07:09.045 PM"),
                ("dtf({ hour: 'numeric', timeZoneName: 'short' }).format(d1)", "2 PM UTC"),
                ("dtf({ year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' }).format(d1)", "Mar 5, 2024, 2:07 PM"),
                ("dtf({ year: 'numeric', era: 'short' }).format(d1)", "2024 AD"),
                (
                    "parts(dtf({ dateStyle: 'medium', timeStyle: 'short' }).formatToParts(d1))",
                    "month:Mar|literal: |day:5|literal:, |year:2024|literal:, |hour:2|literal::|minute:07|literal: |dayPeriod:PM",
                ),
                (
                    "JSON.stringify(new Intl.DateTimeFormat('de-DE').resolvedOptions())",
                    r#"{"locale":"en-US","calendar":"gregory","numberingSystem":"latn","timeZone":"UTC","year":"numeric","month":"numeric","day":"numeric"}"#,
                ),
                (
                    "JSON.stringify(dtf({ hour: 'numeric', minute: 'numeric' }).resolvedOptions())",
                    r#"{"locale":"en-US","calendar":"gregory","numberingSystem":"latn","timeZone":"UTC","hourCycle":"h12","hour12":true,"hour":"numeric","minute":"2-digit"}"#,
                ),
                ("Intl.DateTimeFormat().resolvedOptions().timeZone", "UTC"),
                ("dtf({ timeZone: 'Etc/UTC', dateStyle: 'short' }).resolvedOptions().timeZone", "UTC"),
                ("dtf({ timeZone: 'America/New_York' })", "THROW RangeError"),
                ("dtf({ dateStyle: 'long', year: 'numeric' })", "THROW TypeError"),
                ("dtf({ month: 'huge' })", "THROW RangeError"),
                ("dtf({ dateStyle: 'huge' })", "THROW RangeError"),
                ("dtf({ fractionalSecondDigits: 4 })", "THROW RangeError"),
                ("dtf().format(NaN)", "THROW RangeError"),
                ("dtf().format(8.64e15 + 1)", "THROW RangeError"),
                ("typeof dtf().format()", "string"),
            ],
        );
    }

    #[test]
    fn plural_rules() {
        check(
            "const pr = new Intl.PluralRules('en-US'); const ord = new Intl.PluralRules('en', { type: 'ordinal' });",
            &[
                ("[0, 1, 2, 1.5, -1].map((n) => pr.select(n)).join()", "other,one,other,other,one"),
                ("[1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111].map((n) => ord.select(n)).join()", "one,two,few,other,other,other,other,one,two,few,one,other"),
                ("new Intl.PluralRules('en', { minimumFractionDigits: 1 }).select(1)", "other"),
                ("JSON.stringify(ord.resolvedOptions().pluralCategories)", r#"["few","one","two","other"]"#),
                ("new Intl.PluralRules('fr').resolvedOptions().locale", "en-US"),
                ("Intl.PluralRules()", "THROW TypeError"),
                ("new Intl.PluralRules('en', { type: 'bogus' })", "THROW RangeError"),
            ],
        );
    }

    #[test]
    fn collator() {
        check(
            "const c = (o) => new Intl.Collator('en', o).compare;",
            &[
                ("['b', 'A', 'a', 'B', 'á'].sort(c()).join()", "a,A,á,b,B"),
                ("['a10', 'a2', 'a1'].sort(c({ numeric: true })).join()", "a1,a2,a10"),
                ("['a10', 'a2', 'a1'].sort(c()).join()", "a1,a10,a2"),
                ("[c({ sensitivity: 'base' })('a', 'Á'), c({ sensitivity: 'accent' })('a', 'A'), c({ sensitivity: 'accent' })('a', 'á'), c({ sensitivity: 'case' })('a', 'á')].join()", "0,0,-1,0"),
                ("c({ caseFirst: 'upper' })('a', 'A')", "1"),
                ("c({ ignorePunctuation: true })('a-b', 'ab')", "0"),
                ("JSON.stringify(new Intl.Collator().resolvedOptions())", r#"{"locale":"en-US","usage":"sort","sensitivity":"variant","ignorePunctuation":false,"collation":"default","numeric":false,"caseFirst":"false"}"#),
                ("new Intl.Collator('en', { sensitivity: 'bogus' })", "THROW RangeError"),
            ],
        );
    }

    #[test]
    fn relative_time_list_format() {
        check(
            "const rt = new Intl.RelativeTimeFormat('en'); const auto = new Intl.RelativeTimeFormat('en', { numeric: 'auto' }); const lf = (o) => new Intl.ListFormat('en', o);",
            &[
                ("[rt.format(1, 'day'), rt.format(-2, 'days'), rt.format(3, 'hour'), rt.format(0, 'day'), rt.format(-0, 'day'), rt.format(1000, 'year')].join(' | ')", "in 1 day | 2 days ago | in 3 hours | in 0 days | 0 days ago | in 1,000 years"),
                ("[auto.format(1, 'day'), auto.format(-1, 'day'), auto.format(0, 'day'), auto.format(-1, 'year'), auto.format(0, 'second'), auto.format(5, 'minute')].join(' | ')", "tomorrow | yesterday | today | last year | now | in 5 minutes"),
                ("new Intl.RelativeTimeFormat('en', { style: 'short' }).format(3, 'hour')", "in 3 hr."),
                ("rt.formatToParts(10, 'seconds').map((p) => p.type + ':' + p.value + ':' + p.unit).join('|')", "literal:in :undefined|integer:10:second|literal: seconds:undefined"),
                ("rt.format(1, 'fortnight')", "THROW RangeError"),
                ("rt.format(Infinity, 'day')", "THROW RangeError"),
                ("[lf().format([]), lf().format(['a']), lf().format(['a', 'b']), lf().format(['a', 'b', 'c'])].join(' | ')", " | a | a and b | a, b, and c"),
                ("lf({ type: 'disjunction' }).format(['a', 'b', 'c'])", "a, b, or c"),
                ("lf({ style: 'short' }).format(['a', 'b', 'c'])", "a, b, & c"),
                ("lf({ type: 'unit', style: 'narrow' }).format(['1h', '5m'])", "1h 5m"),
                ("lf().format(['a', 1])", "THROW TypeError"),
                ("new Intl.ListFormat('en', { type: 'bogus' })", "THROW RangeError"),
            ],
        );
    }

    #[test]
    fn segmenter() {
        check(
            "const seg = (g, s) => JSON.stringify([...new Intl.Segmenter('en', { granularity: g }).segment(s)].map((x) => g === 'word' ? [x.segment, x.isWordLike] : x.segment));",
            &[
                ("seg('word', \"Hello, world! It's 42.\")", r#"[["Hello",true],[",",false],[" ",false],["world",true],["!",false],[" ",false],["It's",true],[" ",false],["42",true],[".",false]]"#),
                ("seg('grapheme', 'e\\u0301a👍🏽🇺🇸👨‍👩‍👧\\r\\nx')", "[\"e\u{301}\",\"a\",\"👍🏽\",\"🇺🇸\",\"👨\u{200d}👩\u{200d}👧\",\"\\r\\n\",\"x\"]"),
                ("seg('sentence', 'Hi there. How are you? Fine')", r#"["Hi there. ","How are you? ","Fine"]"#),
                ("JSON.stringify(new Intl.Segmenter().segment('abc').containing(1))", r#"{"segment":"b","index":1,"input":"abc"}"#),
                ("new Intl.Segmenter().segment('abc').containing(5)", "undefined"),
                ("new Intl.Segmenter('en', { granularity: 'line' })", "THROW RangeError"),
            ],
        );
    }

    #[test]
    fn locales_and_supported_values() {
        check(
            "",
            &[
                (
                    "JSON.stringify(Intl.getCanonicalLocales(['EN-us', 'zh-hant-tw', 'en-US']))",
                    r#"["en-US","zh-Hant-TW"]"#,
                ),
                ("Intl.getCanonicalLocales('en_US')", "THROW RangeError"),
                ("Intl.getCanonicalLocales([5])", "THROW TypeError"),
                ("new Intl.NumberFormat('not a locale')", "THROW RangeError"),
                (
                    "new Intl.NumberFormat(['ja-JP', 'de']).resolvedOptions().locale",
                    "en-US",
                ),
                ("new Intl.NumberFormat('de-DE').format(1234.5)", "1,234.5"),
                (
                    "JSON.stringify(Intl.NumberFormat.supportedLocalesOf(['en-GB', 'de', 'en']))",
                    r#"["en-GB","en"]"#,
                ),
                ("Intl.supportedValuesOf('timeZone').join()", "UTC"),
                (
                    "Intl.supportedValuesOf('currency').join()",
                    "EUR,GBP,JPY,USD",
                ),
                ("Intl.supportedValuesOf('bogus')", "THROW RangeError"),
            ],
        );
    }
}
