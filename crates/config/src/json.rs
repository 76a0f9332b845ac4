//! A minimal TOML-to-JSON serializer for non-string `[vars]` values.
//!
//! Output matches what Wrangler produces with `JSON.stringify` on the parsed
//! TOML, except that table keys come out sorted (the `toml` crate does not
//! keep document order).

use std::fmt::Write as _;

use toml::Value;

/// Serializes `value` as compact JSON (no whitespace, like `JSON.stringify`).
pub(crate) fn to_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::String(s) => write_string(out, s),
        Value::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => write_float(out, *f),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        // A TOML datetime becomes a JS `Date`, which serializes as a string.
        Value::Datetime(d) => write_string(out, &d.to_string()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Table(table) => {
            out.push('{');
            for (i, (key, item)) in table.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

/// Formats a float the way JavaScript's `Number.prototype.toString` does for
/// the common cases: integral values without a fraction, exponent form with an
/// explicit sign outside `[1e-6, 1e21)`, and `null` for NaN and infinities.
fn write_float(out: &mut String, f: f64) {
    if !f.is_finite() {
        out.push_str("null");
    } else if f == 0.0 {
        out.push('0'); // also for -0.0, as JSON.stringify(-0) === "0"
    } else if f.abs() >= 1e21 || f.abs() < 1e-6 {
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => {
                let _ = write!(out, "{mantissa}e+{exp}");
            }
            _ => out.push_str(&s),
        }
    } else {
        let _ = write!(out, "{f}");
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_of(toml_value: &str) -> String {
        let table: toml::Table = format!("v = {toml_value}").parse().unwrap();
        to_json(&table["v"])
    }

    #[test]
    fn scalars() {
        assert_eq!(json_of("123"), "123");
        assert_eq!(json_of("-7"), "-7");
        assert_eq!(json_of("true"), "true");
        assert_eq!(json_of("false"), "false");
        assert_eq!(json_of("1.5"), "1.5");
        assert_eq!(json_of("2.0"), "2");
        assert_eq!(json_of("-0.0"), "0");
        assert_eq!(json_of("1e21"), "1e+21");
        assert_eq!(json_of("1.5e-7"), "1.5e-7");
        assert_eq!(json_of("nan"), "null");
        assert_eq!(json_of("inf"), "null");
        assert_eq!(json_of("1979-05-27"), "\"1979-05-27\"");
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(
            json_of(r#""a\"b\\c\nd\te\u0001é""#),
            r#""a\"b\\c\nd\te\u0001é""#
        );
    }

    #[test]
    fn nested_structures_are_compact() {
        assert_eq!(
            json_of(r#"{ URL = "x", MY_ID = 123, list = [1, "two", { a = [] }] }"#),
            r#"{"MY_ID":123,"URL":"x","list":[1,"two",{"a":[]}]}"#
        );
        assert_eq!(json_of("[]"), "[]");
        assert_eq!(json_of("{}"), "{}");
    }
}
