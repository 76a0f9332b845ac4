//! JSON Web Keys: the `JsonWebKey` dictionary read from JavaScript or from
//! unwrapped JSON, written back as a plain object or JSON, and the checks
//! every algorithm's JWK import shares.
//!
//! Spec: <https://w3c.github.io/webcrypto/#JsonWebKey-dictionary>,
//! <https://www.rfc-editor.org/rfc/rfc7517>

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use rquickjs::{Ctx, Object, Result, Value};
use serde::{Deserialize, Serialize};

use super::key::{KeyInner, Usages};
use super::CResult;
use crate::error::WebApiError;
use crate::webidl::{js_to_string, string_lossy, to_bool, to_sequence};

/// A JSON Web Key; every member optional, as in the WebIDL dictionary.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Jwk {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kty: Option<String>,
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ext: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dq: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qi: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oth: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<String>,
}

/// Base64url without padding, as JWK writes it; decoding also accepts padding.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Encodes `bytes` as a JWK member.
pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A `DataError`.
pub(crate) fn data_err(msg: impl Into<String>) -> WebApiError {
    WebApiError::dom("DataError", msg)
}

impl Jwk {
    /// Converts a JS value to the `JsonWebKey` dictionary (a `TypeError`
    /// unless it is an object).
    pub fn from_js<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> Result<Option<Self>> {
        let Some(obj) = value.as_object() else {
            return Ok(None);
        };
        let s = |key: &str| -> Result<Option<String>> {
            let v: Value = obj.get(key)?;
            if v.is_undefined() {
                return Ok(None);
            }
            Ok(Some(string_lossy(ctx, &js_to_string(ctx, v)?)?))
        };
        let key_ops: Value = obj.get("key_ops")?;
        let key_ops = if key_ops.is_undefined() {
            None
        } else {
            let items = to_sequence(ctx, &key_ops, "JsonWebKey.key_ops")?;
            let mut out = Vec::with_capacity(items.len());
            for v in items {
                out.push(string_lossy(ctx, &js_to_string(ctx, v)?)?);
            }
            Some(out)
        };
        let ext: Value = obj.get("ext")?;
        let ext = if ext.is_undefined() {
            None
        } else {
            Some(to_bool(ctx, ext)?)
        };
        let oth: Value = obj.get("oth")?;
        Ok(Some(Self {
            kty: s("kty")?,
            use_: s("use")?,
            key_ops,
            alg: s("alg")?,
            ext,
            crv: s("crv")?,
            x: s("x")?,
            y: s("y")?,
            d: s("d")?,
            n: s("n")?,
            e: s("e")?,
            p: s("p")?,
            q: s("q")?,
            dp: s("dp")?,
            dq: s("dq")?,
            qi: s("qi")?,
            oth: (!oth.is_undefined()).then_some(serde_json::Value::Null),
            k: s("k")?,
        }))
    }

    /// Parses the JSON text of an unwrapped key.
    ///
    /// Spec: <https://w3c.github.io/webcrypto/#concept-parse-a-jwk>
    pub fn from_json(bytes: &[u8]) -> CResult<Self> {
        let jwk: Self = serde_json::from_slice(bytes)
            .map_err(|e| data_err(format!("The unwrapped key is not a valid JWK: {e}.")))?;
        if jwk.kty.is_none() {
            return Err(data_err("The unwrapped JWK has no 'kty' member."));
        }
        Ok(jwk)
    }

    /// The JSON text of this key.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// This key as a plain JS object.
    pub fn to_js<'js>(&self, ctx: &Ctx<'js>) -> Result<Object<'js>> {
        let v = ctx.json_parse(self.to_json())?;
        v.into_object()
            .ok_or_else(|| rquickjs::Error::new_from_js("value", "object"))
    }

    /// The members every exported key has: `kty`, `key_ops` and `ext`.
    pub fn base(kty: &str, key: &KeyInner) -> Self {
        Self {
            kty: Some(kty.to_owned()),
            key_ops: Some(key.usages.names().map(str::to_owned).collect()),
            ext: Some(key.extractable),
            ..Self::default()
        }
    }

    /// The checks shared by every algorithm's JWK import: `kty`, `use`
    /// (`expected_use` when there are usages), `key_ops` (must cover the
    /// requested usages), and `ext` (may not be false for an extractable key).
    pub fn check(
        &self,
        kty: &str,
        expected_use: &str,
        usages: Usages,
        extractable: bool,
    ) -> CResult<()> {
        if self.kty.as_deref() != Some(kty) {
            return Err(data_err(format!(
                "The JWK's 'kty' member is not \"{kty}\"."
            )));
        }
        if !usages.is_empty() {
            if let Some(u) = &self.use_ {
                if u != expected_use {
                    return Err(data_err(format!(
                        "The JWK's 'use' member is not \"{expected_use}\"."
                    )));
                }
            }
        }
        if let Some(ops) = &self.key_ops {
            let mut listed = Usages::NONE;
            for op in ops {
                let Some(u) = Usages::parse(op) else {
                    continue;
                };
                if listed.contains(u) {
                    return Err(data_err(format!(
                        "The JWK's 'key_ops' member lists \"{op}\" twice."
                    )));
                }
                listed = listed.or(u);
            }
            if !listed.contains(usages) {
                return Err(data_err(
                    "The JWK's 'key_ops' member does not allow the requested usages.",
                ));
            }
        }
        if self.ext == Some(false) && extractable {
            return Err(data_err(
                "The JWK is not extractable ('ext' is false) but an extractable key was requested.",
            ));
        }
        Ok(())
    }

    /// A `DataError` unless `alg` is absent or one of `allowed`.
    pub fn check_alg(&self, allowed: &[&str]) -> CResult<()> {
        match &self.alg {
            Some(a) if !allowed.contains(&a.as_str()) => Err(data_err(format!(
                "The JWK's 'alg' member \"{a}\" does not match the algorithm (expected {}).",
                allowed.join(" or ")
            ))),
            _ => Ok(()),
        }
    }
}

/// Decodes the base64url member `name`, a `DataError` when it is missing or
/// not base64url.
pub(crate) fn member(name: &str, value: &Option<String>) -> CResult<Vec<u8>> {
    let Some(v) = value else {
        return Err(data_err(format!("The JWK has no '{name}' member.")));
    };
    B64.decode(v)
        .map_err(|_| data_err(format!("The JWK's '{name}' member is not valid base64url.")))
}
