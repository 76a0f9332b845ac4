//! JS plumbing shared by the D1 and KV objects: error values, settled
//! promises, SQL values to and from JS, `typeof`.

use outpost_data::Value as SqlValue;
use rquickjs::{object::Property, Array, Ctx, Exception, Function, Object, Promise, Result, Value};

/// An error as the bindings surface it: the JS class and the message.
/// Serialisable, because a remote primary's errors travel to the node
/// whose worker made the call (see [`crate::remote`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "class", content = "message")]
pub(crate) enum JsError {
    /// A plain `Error` (what D1 and KV use for operation failures).
    Error(String),
    /// A plain `Error` with a `cause` that is an `Error` with the second text
    /// (D1 sets `cause` to the message without its `D1_..._ERROR:` prefix).
    WithCause(String, String),
    /// A `TypeError`.
    Type(String),
}

impl JsError {
    /// Creates the error object (not thrown).
    pub(crate) fn to_value<'js>(&self, ctx: &Ctx<'js>) -> Result<Value<'js>> {
        match self {
            JsError::Error(m) => Ok(Exception::from_message(ctx.clone(), m)?.into_value()),
            JsError::WithCause(m, cause) => {
                let e = Exception::from_message(ctx.clone(), m)?;
                let cause = Exception::from_message(ctx.clone(), cause)?;
                e.prop("cause", Property::from(cause).writable().configurable())?;
                Ok(e.into_value())
            }
            JsError::Type(m) => {
                let _ = Exception::throw_type(ctx, m);
                Ok(ctx.catch())
            }
        }
    }

    /// Throws the error into `ctx`.
    pub(crate) fn throw(&self, ctx: &Ctx<'_>) -> rquickjs::Error {
        match self.to_value(ctx) {
            Ok(v) => ctx.throw(v),
            Err(e) => e,
        }
    }
}

/// A promise already settled with `result`: rejected with the pending
/// exception when `result` is an `Exception`.
pub(crate) fn settled<'js>(ctx: &Ctx<'js>, result: Result<Value<'js>>) -> Result<Promise<'js>> {
    let (promise, resolve, reject) = Promise::new(ctx)?;
    match result {
        Ok(v) => resolve.call::<_, ()>((v,))?,
        Err(rquickjs::Error::Exception) => reject.call::<_, ()>((ctx.catch(),))?,
        Err(e) => {
            let _ = Exception::throw_message(ctx, &e.to_string());
            reject.call::<_, ()>((ctx.catch(),))?
        }
    }
    Ok(promise)
}

/// A promise rejected with `error`.
pub(crate) fn rejected<'js>(ctx: &Ctx<'js>, error: &JsError) -> Result<Promise<'js>> {
    settled(ctx, Err(error.throw(ctx)))
}

/// JavaScript's `typeof value`.
pub(crate) fn type_of(value: &Value<'_>) -> &'static str {
    if value.is_undefined() {
        "undefined"
    } else if value.is_bool() {
        "boolean"
    } else if value.is_number() {
        "number"
    } else if value.is_string() {
        "string"
    } else if value.is_symbol() {
        "symbol"
    } else if value.is_big_int() {
        "bigint"
    } else if value.is_function() {
        "function"
    } else {
        "object"
    }
}

/// `String(value)`, as a template literal would show it (symbols included).
pub(crate) fn display<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> Result<String> {
    if let Some(s) = value.as_string() {
        return outpost_webapi::webidl::string_lossy(ctx, s);
    }
    let string: Function = ctx.globals().get("String")?;
    let s: rquickjs::String = string.call((value.clone(),))?;
    outpost_webapi::webidl::string_lossy(ctx, &s)
}

/// `ToString(value)` as a Rust string (unpaired surrogates become U+FFFD).
pub(crate) fn to_string<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> Result<String> {
    outpost_webapi::webidl::to_usv_string(ctx, value)
}

/// The JS value of a SQL value, as D1 returns them: integers and reals as
/// numbers (integers beyond 2^53 lose precision, as through D1's JSON),
/// text as strings, blobs as arrays of byte numbers, `NULL` as `null`.
pub(crate) fn sql_to_js<'js>(ctx: &Ctx<'js>, value: &SqlValue) -> Result<Value<'js>> {
    Ok(match value {
        SqlValue::Null => Value::new_null(ctx.clone()),
        SqlValue::Integer(i) => match i32::try_from(*i) {
            Ok(small) => Value::new_int(ctx.clone(), small),
            Err(_) => Value::new_number(ctx.clone(), *i as f64),
        },
        SqlValue::Real(f) => Value::new_number(ctx.clone(), *f),
        SqlValue::Text(s) => rquickjs::String::from_str(ctx.clone(), s)?.into_value(),
        SqlValue::Blob(bytes) => {
            let array = Array::new(ctx.clone())?;
            for (i, b) in bytes.iter().enumerate() {
                array.set(i, *b as i32)?;
            }
            array.into_value()
        }
    })
}

/// An object with the given own properties, in order.
pub(crate) fn object<'js>(
    ctx: &Ctx<'js>,
    props: impl IntoIterator<Item = (&'static str, Value<'js>)>,
) -> Result<Object<'js>> {
    let obj = Object::new(ctx.clone())?;
    for (k, v) in props {
        obj.set(k, v)?;
    }
    Ok(obj)
}
