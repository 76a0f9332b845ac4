//! `console`: formats arguments the way browsers and workerd do (strings
//! raw, other values inspected) and writes them to the node's log, tagged
//! with the deployment name.
//!
//! Spec: <https://console.spec.whatwg.org/>

use std::fmt::Write;

use rquickjs::{function::Rest, Ctx, Function, Object, Result, Type, Value};

use crate::host::host_info;

/// Console severity, mapped onto `tracing` levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `console.debug`
    Debug,
    /// `console.log`, `console.info`
    Info,
    /// `console.warn`
    Warn,
    /// `console.error`, `console.trace`
    Error,
}

/// Formats console arguments into one line, applying `%s %d %i %f %o %O %j %c`
/// substitutions in a leading format string.
pub fn format_args<'js>(ctx: &Ctx<'js>, args: &[Value<'js>]) -> Result<String> {
    let mut out = String::new();
    let mut rest = args;
    if let Some(first) = args.first().and_then(|v| v.as_string()) {
        let fmt = first.to_string()?;
        rest = &args[1..];
        let mut chars = fmt.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            let Some(&spec) = chars.peek() else {
                out.push('%');
                break;
            };
            match spec {
                '%' => {
                    chars.next();
                    out.push('%');
                }
                's' | 'd' | 'i' | 'f' | 'o' | 'O' | 'j' | 'c'
                    if !rest.is_empty() || spec == 'c' =>
                {
                    chars.next();
                    if spec == 'c' {
                        rest = rest.get(1..).unwrap_or_default();
                        continue;
                    }
                    let v = &rest[0];
                    rest = &rest[1..];
                    match spec {
                        's' => out.push_str(&display(ctx, v, 0)?),
                        'd' | 'i' => {
                            let n = rquickjs::Coerced::<f64>::from_js(ctx, v.clone())
                                .map(|c| c.0)
                                .unwrap_or(f64::NAN);
                            if n.is_nan() {
                                out.push_str("NaN");
                            } else {
                                let _ = write!(out, "{}", n.trunc() as i64);
                            }
                        }
                        'f' => {
                            let n = rquickjs::Coerced::<f64>::from_js(ctx, v.clone())
                                .map(|c| c.0)
                                .unwrap_or(f64::NAN);
                            out.push_str(&number_string(n));
                        }
                        _ => out.push_str(&inspect(ctx, v, 0)?),
                    }
                }
                _ => out.push('%'),
            }
        }
    }
    for v in rest {
        if !out.is_empty() || rest.len() < args.len() {
            out.push(' ');
        }
        out.push_str(&display(ctx, v, 0)?);
    }
    Ok(out)
}

use rquickjs::FromJs;

fn number_string(n: f64) -> String {
    if n.is_nan() {
        "NaN".into()
    } else if n.is_infinite() {
        if n > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else if n == n.trunc() && n.abs() < 1e21 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Top-level display: strings print raw, everything else inspected.
fn display<'js>(ctx: &Ctx<'js>, v: &Value<'js>, depth: usize) -> Result<String> {
    match v.as_string() {
        Some(s) => s.to_string(),
        None => inspect(ctx, v, depth),
    }
}

/// A compact `util.inspect`: quoted strings, arrays and plain objects two
/// levels deep, errors with their stack.
pub fn inspect<'js>(ctx: &Ctx<'js>, v: &Value<'js>, depth: usize) -> Result<String> {
    Ok(match v.type_of() {
        Type::Undefined | Type::Uninitialized => "undefined".into(),
        Type::Null => "null".into(),
        Type::Bool => v.as_bool().unwrap_or_default().to_string(),
        Type::Int => v.as_int().unwrap_or_default().to_string(),
        Type::Float => number_string(v.as_float().unwrap_or_default()),
        Type::String => format!(
            "'{}'",
            v.as_string()
                .map(|s| s.to_string())
                .transpose()?
                .unwrap_or_default()
        ),
        Type::Symbol | Type::BigInt => {
            let s: rquickjs::Coerced<String> =
                rquickjs::Coerced::from_js(ctx, v.clone()).or_else(|_| {
                    Ok::<_, rquickjs::Error>(rquickjs::Coerced(String::from("Symbol()")))
                })?;
            if v.type_of() == Type::BigInt {
                format!("{}n", s.0)
            } else {
                s.0
            }
        }
        Type::Function | Type::Constructor => {
            let name: Option<String> = v.as_object().and_then(|o| o.get("name").ok()).flatten();
            match name {
                Some(n) if !n.is_empty() => format!("[Function: {n}]"),
                _ => "[Function (anonymous)]".into(),
            }
        }
        Type::Exception => {
            let o = v.as_object().expect("exception is an object");
            error_string(o)?
        }
        Type::Array => {
            if depth > 2 {
                return Ok("[Array]".into());
            }
            let arr = v.as_array().expect("array");
            let mut parts = Vec::with_capacity(arr.len().min(100));
            for (i, item) in arr.iter::<Value>().enumerate() {
                if i == 100 {
                    parts.push(format!("... {} more items", arr.len() - 100));
                    break;
                }
                parts.push(inspect(ctx, &item?, depth + 1)?);
            }
            if parts.is_empty() {
                "[]".into()
            } else {
                format!("[ {} ]", parts.join(", "))
            }
        }
        Type::Promise => "Promise { <pending> }".into(),
        _ => {
            let Some(o) = v.as_object() else {
                return Ok(String::new());
            };
            if o.is_error() {
                return error_string(o);
            }
            if depth > 2 {
                return Ok("[Object]".into());
            }
            // Objects with their own toString (URL, Date, ...) print as that.
            let ctor_name = constructor_name(o);
            if let Some(n) = &ctor_name {
                if matches!(n.as_str(), "Date" | "URL" | "RegExp") {
                    let f: Function = o.get("toString")?;
                    let s: String = f.call((rquickjs::function::This(o.clone()),))?;
                    return Ok(s);
                }
            }
            let mut parts = Vec::new();
            for key in o.keys::<String>() {
                let key = key?;
                let value: Value = o.get(&key)?;
                parts.push(format!("{key}: {}", inspect(ctx, &value, depth + 1)?));
            }
            let prefix = match ctor_name.as_deref() {
                None | Some("Object") => String::new(),
                Some(n) => format!("{n} "),
            };
            if parts.is_empty() {
                format!("{prefix}{{}}")
            } else {
                format!("{prefix}{{ {} }}", parts.join(", "))
            }
        }
    })
}

fn constructor_name(o: &Object<'_>) -> Option<String> {
    let ctor: Object = o.get("constructor").ok()?;
    ctor.get("name").ok()
}

fn error_string(o: &Object<'_>) -> Result<String> {
    let name: Option<String> = o.get("name").ok().flatten();
    let message: Option<String> = o.get("message").ok().flatten();
    let stack: Option<String> = o.get("stack").ok().flatten();
    let head = match (name, message) {
        (Some(n), Some(m)) if !m.is_empty() => format!("{n}: {m}"),
        (Some(n), _) => n,
        (None, Some(m)) => m,
        (None, None) => "Error".into(),
    };
    Ok(match stack {
        Some(s) if !s.is_empty() => format!("{head}\n{}", s.trim_end()),
        _ => head,
    })
}

/// Writes one console line to the log.
pub fn emit(ctx: &Ctx<'_>, level: Level, line: &str) {
    let info = host_info(ctx);
    let deployment = info.deployment.as_str();
    match level {
        Level::Debug => tracing::debug!(target: "console", "[{deployment}] {line}"),
        Level::Info => tracing::info!(target: "console", "[{deployment}] {line}"),
        Level::Warn => tracing::warn!(target: "console", "[{deployment}] {line}"),
        Level::Error => tracing::error!(target: "console", "[{deployment}] {line}"),
    }
    if let Some(sink) = ctx.userdata::<ConsoleSink>() {
        (sink.0)(level, line);
    }
}

/// A receiver of console lines.
pub type LineSink = Box<dyn Fn(Level, &str)>;

/// An extra per-isolate receiver of console lines (tests, log tail).
#[derive(rquickjs::JsLifetime)]
pub struct ConsoleSink(pub LineSink);

fn method<'js>(ctx: &Ctx<'js>, console: &Object<'js>, name: &str, level: Level) -> Result<()> {
    let f = Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, args: Rest<Value<'js>>| -> Result<()> {
            let line = format_args(&ctx, &args.0)?;
            emit(&ctx, level, &line);
            Ok(())
        },
    )?
    .with_name(name)?;
    console.set(name, f)
}

/// Installs the `console` global.
pub fn init(ctx: &Ctx<'_>) -> Result<()> {
    let console = Object::new(ctx.clone())?;
    for (name, level) in [
        ("log", Level::Info),
        ("info", Level::Info),
        ("debug", Level::Debug),
        ("warn", Level::Warn),
        ("error", Level::Error),
        ("trace", Level::Error),
    ] {
        method(ctx, &console, name, level)?;
    }
    ctx.globals().set("console", console)
}

#[cfg(test)]
mod tests {
    use crate::testing::run_js;

    #[test]
    fn formats_like_workerd() {
        let out =
            run_js("return globalThis.__fmt(['a', 1, {b: [1, 'x']}, null, undefined, 1.5, 10n]);");
        assert_eq!(out, "a 1 { b: [ 1, 'x' ] } null undefined 1.5 10n");
        let out = run_js("return globalThis.__fmt(['%s=%d%% %o', 'k', 42.9, 'v', 'extra']);");
        assert_eq!(out, "k=42% 'v' extra");
        let out = run_js("return globalThis.__fmt([new TypeError('boom')]).split('\\n')[0];");
        assert_eq!(out, "TypeError: boom");
    }
}
