//! `crypto.subtle`: the `SubtleCrypto` interface of Web Crypto and the
//! `CryptoKey` class, backed by the RustCrypto crates.
//!
//! Spec: <https://w3c.github.io/webcrypto/#subtlecrypto-interface>, as
//! Cloudflare Workers offers it
//! (<https://developers.cloudflare.com/workers/runtime-apis/web-crypto/>).
//!
//! This module owns the JavaScript surface: argument conversion, algorithm
//! normalization ([`algorithm`]), the key and usage checks every method
//! shares, and settling the returned promise. One file per algorithm family
//! holds the substance (`*_ops.rs`); they work on plain Rust values and
//! report [`WebApiError`]s, which become rejections here.
//!
//! Every operation runs synchronously on the isolate's thread and returns a
//! settled promise, as workerd does for all but the slowest primitives; the
//! time counts towards the request's CPU limit. Errors the spec rejects with
//! (including bad arguments) reject the promise; nothing is thrown.
//!
//! Installing costs a fresh isolate little: [`init`] only defines
//! `SubtleCrypto` and `CryptoKey` as accessors on the global object; the
//! classes are created on the first read of one of them or of
//! `crypto.subtle`.
//!
//! # Departures from workerd
//!
//! - AES-GCM takes 96-bit IVs only, and tag lengths of 96 to 128 bits
//!   (32 and 64 are a `NotSupportedError`): the `aes-gcm` crate fixes both
//!   at compile time.
//! - RSA moduli are at most 4096 bits (the `rsa` crate's limit); RSA-OAEP
//!   labels must be UTF-8 (the crate keeps them as strings).
//! - ECDSA signatures are deterministic (RFC 6979).
//! - PBKDF2 outputs are capped at 32768 bits, besides workerd's cap of
//!   100,000 iterations.
//! - No P-521, X25519, `crypto.DigestStream`, or `structuredClone` of keys.

mod aes_ops;
mod algorithm;
mod ec_ops;
mod ed25519_ops;
mod hmac_ops;
mod jwk;
mod kdf_ops;
mod key;
mod rsa_ops;

use std::rc::Rc;

use rquickjs::{
    atom::PredefinedAtom, class::Trace, function::Opt, object::Accessor, object::Property,
    ArrayBuffer, Class, Coerced, Ctx, FromJs, JsLifetime, Object, Promise, Result, Value,
};

use crate::error::{OrThrow, WebApiError};
use crate::webidl::{buffer_source, js_to_string, string_lossy, to_bool, to_sequence};
use algorithm::{normalize, AlgName, Hash, NormAlg, Op};
use jwk::Jwk;
pub use key::CryptoKey;
use key::{key_inner, new_key, KeyInner, KeyType, Usages};

/// Result of the pure-Rust operations.
pub(crate) type CResult<T> = std::result::Result<T, WebApiError>;

/// A key format of `importKey`/`exportKey`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Raw,
    Spki,
    Pkcs8,
    Jwk,
}

/// Key data handed to an import.
pub(crate) enum KeyData {
    Bytes(Vec<u8>),
    Jwk(Box<Jwk>),
}

/// Key data an export produces.
pub(crate) enum Exported {
    Bytes(Vec<u8>),
    Jwk(Box<Jwk>),
}

/// What `generateKey` made: a secret key or a key pair.
pub(crate) enum Generated {
    Secret(Box<KeyInner>),
    Pair {
        public: Box<KeyInner>,
        private: Box<KeyInner>,
    },
}

/// A `NotSupportedError`.
pub(crate) fn not_supported(msg: impl Into<String>) -> WebApiError {
    WebApiError::dom("NotSupportedError", msg)
}

/// An `OperationError`.
pub(crate) fn op_err(msg: impl Into<String>) -> WebApiError {
    WebApiError::dom("OperationError", msg)
}

/// An `InvalidAccessError`.
pub(crate) fn access_err(msg: impl Into<String>) -> WebApiError {
    WebApiError::dom("InvalidAccessError", msg)
}

/// The `hash` member normalization put into `alg`.
pub(crate) fn hash_of(alg: &NormAlg) -> CResult<Hash> {
    alg.p
        .hash
        .ok_or_else(|| WebApiError::type_error("The algorithm has no 'hash' member."))
}

/// `n` bytes from the system CSPRNG.
pub(crate) fn random_bytes(n: usize) -> CResult<Vec<u8>> {
    let mut b = vec![0u8; n];
    getrandom::getrandom(&mut b)
        .map_err(|e| op_err(format!("The system random source failed: {e}.")))?;
    Ok(b)
}

/// The JS `SubtleCrypto` class; `crypto.subtle` is its one instance.
#[derive(Trace, JsLifetime, Default)]
#[rquickjs::class]
pub struct SubtleCrypto {}

/// Settles a new promise with `result`: every method rejects rather than
/// throws, as WebIDL specifies for promise-returning operations.
fn settle<'js>(ctx: &Ctx<'js>, result: Result<Value<'js>>) -> Result<Promise<'js>> {
    let (promise, resolve, reject) = Promise::new(ctx)?;
    match result {
        Ok(v) => resolve.call::<_, ()>((v,))?,
        Err(rquickjs::Error::Exception) => reject.call::<_, ()>((ctx.catch(),))?,
        Err(e) => {
            let _ = WebApiError::type_error(e.to_string()).throw(ctx);
            reject.call::<_, ()>((ctx.catch(),))?
        }
    }
    Ok(promise)
}

/// The arguments as values, a `TypeError` when fewer than `required` were passed.
fn args<'js, const N: usize>(
    ctx: &Ctx<'js>,
    method: &str,
    given: [Opt<Value<'js>>; N],
    required: usize,
) -> Result<[Value<'js>; N]> {
    let present = given.iter().take_while(|v| v.0.is_some()).count();
    if present < required {
        return Err(WebApiError::type_error(format!(
            "Failed to execute '{method}' on 'SubtleCrypto': {required} arguments required, but only {present} present."
        )))
        .or_throw(ctx);
    }
    Ok(given.map(|v| v.0.unwrap_or_else(|| Value::new_undefined(ctx.clone()))))
}

fn bytes_arg<'js>(ctx: &Ctx<'js>, v: &Value<'js>, method: &str, n: usize) -> Result<Vec<u8>> {
    match buffer_source(ctx, v)? {
        Some(view) => Ok(view.to_vec()),
        None => Err(WebApiError::type_error(format!(
            "Failed to execute '{method}' on 'SubtleCrypto': parameter {n} is not of type 'BufferSource'."
        )))
        .or_throw(ctx),
    }
}

fn key_arg<'js>(ctx: &Ctx<'js>, v: &Value<'js>, method: &str, n: usize) -> Result<Rc<KeyInner>> {
    match key_inner(v) {
        Some(k) => Ok(k),
        None => Err(WebApiError::type_error(format!(
            "Failed to execute '{method}' on 'SubtleCrypto': parameter {n} is not of type 'CryptoKey'."
        )))
        .or_throw(ctx),
    }
}

fn format_arg<'js>(ctx: &Ctx<'js>, v: &Value<'js>) -> Result<Format> {
    let s = string_lossy(ctx, &js_to_string(ctx, v.clone())?)?;
    match s.as_str() {
        "raw" => Ok(Format::Raw),
        "spki" => Ok(Format::Spki),
        "pkcs8" => Ok(Format::Pkcs8),
        "jwk" => Ok(Format::Jwk),
        _ => Err(WebApiError::type_error(format!(
            "The provided value '{s}' is not a valid enum value of type KeyFormat."
        )))
        .or_throw(ctx),
    }
}

/// `sequence<KeyUsage>`.
fn usages_arg<'js>(ctx: &Ctx<'js>, v: &Value<'js>) -> Result<Usages> {
    let mut usages = Usages::NONE;
    for item in to_sequence(ctx, v, "keyUsages")? {
        let s = string_lossy(ctx, &js_to_string(ctx, item)?)?;
        match Usages::parse(&s) {
            Some(u) => usages = usages.or(u),
            None => {
                return Err(WebApiError::type_error(format!(
                    "The provided value '{s}' is not a valid enum value of type KeyUsage."
                )))
                .or_throw(ctx)
            }
        }
    }
    Ok(usages)
}

/// The checks before every key operation: the key belongs to the
/// requested algorithm and allows the usage.
fn check_key(alg: &NormAlg, key: &KeyInner, usage: Usages, usage_name: &str) -> CResult<()> {
    if alg.name != key.algorithm.name() {
        return Err(access_err(format!(
            "The requested algorithm {} does not match the key's algorithm {}.",
            alg.name.as_str(),
            key.algorithm.name().as_str()
        )));
    }
    if !key.usages.contains(usage) {
        return Err(access_err(format!(
            "The key does not allow the \"{usage_name}\" usage."
        )));
    }
    Ok(())
}

fn buffer<'js>(ctx: &Ctx<'js>, bytes: Vec<u8>) -> Result<Value<'js>> {
    Ok(ArrayBuffer::new(ctx.clone(), bytes)?.into_value())
}

fn generate(alg: &NormAlg, extractable: bool, usages: Usages) -> CResult<Generated> {
    use AlgName::*;
    match alg.name {
        Hmac => hmac_ops::generate(alg, extractable, usages),
        AesGcm | AesCbc | AesCtr | AesKw => aes_ops::generate(alg, extractable, usages),
        RsassaPkcs1V15 | RsaPss | RsaOaep => rsa_ops::generate(alg, extractable, usages),
        Ecdsa | Ecdh => ec_ops::generate(alg, extractable, usages),
        Ed25519 | NodeEd25519 => ed25519_ops::generate(alg, extractable, usages),
        _ => Err(not_supported(
            "generateKey is not supported for this algorithm.",
        )),
    }
}

/// Imports key data and applies `extractable` and `usages`.
fn import(
    format: Format,
    data: KeyData,
    alg: &NormAlg,
    extractable: bool,
    usages: Usages,
) -> CResult<KeyInner> {
    use AlgName::*;
    let (algorithm, material) = match alg.name {
        Hmac => hmac_ops::import(format, data, alg, extractable, usages),
        AesGcm | AesCbc | AesCtr | AesKw => aes_ops::import(format, data, alg, extractable, usages),
        RsassaPkcs1V15 | RsaPss | RsaOaep => {
            rsa_ops::import(format, data, alg, extractable, usages)
        }
        Ecdsa | Ecdh => ec_ops::import(format, data, alg, extractable, usages),
        Ed25519 | NodeEd25519 => ed25519_ops::import(format, data, alg, extractable, usages),
        Pbkdf2 | Hkdf => kdf_ops::import(format, data, alg, extractable, usages),
        _ => Err(not_supported(
            "importKey is not supported for this algorithm.",
        )),
    }?;
    let key = KeyInner {
        algorithm,
        extractable,
        usages,
        material,
    };
    if key.key_type() != KeyType::Public && usages.is_empty() {
        return Err(WebApiError::dom(
            "SyntaxError",
            "Usages cannot be empty when creating a secret or private key.",
        ));
    }
    Ok(key)
}

/// Spec: export a key, steps from "If the name member of the
/// [[algorithm]] ..." on.
fn export(format: Format, key: &KeyInner) -> CResult<Exported> {
    use AlgName::*;
    let name = key.algorithm.name();
    if matches!(name, Pbkdf2 | Hkdf) {
        return Err(not_supported(format!(
            "{} keys cannot be exported.",
            name.as_str()
        )));
    }
    if !key.extractable {
        return Err(access_err("The key is not extractable."));
    }
    match name {
        Hmac => hmac_ops::export(format, key),
        AesGcm | AesCbc | AesCtr | AesKw => aes_ops::export(format, key),
        RsassaPkcs1V15 | RsaPss | RsaOaep => rsa_ops::export(format, key),
        Ecdsa | Ecdh => ec_ops::export(format, key),
        Ed25519 | NodeEd25519 => ed25519_ops::export(format, key),
        _ => Err(not_supported(
            "exportKey is not supported for this algorithm.",
        )),
    }
}

fn encrypt_or_decrypt(
    alg: &NormAlg,
    key: &KeyInner,
    data: &[u8],
    encrypt: bool,
) -> CResult<Vec<u8>> {
    match alg.name {
        AlgName::RsaOaep => rsa_ops::crypt(alg, key, data, encrypt),
        _ => aes_ops::crypt(alg, key, data, encrypt),
    }
}

fn derive_bits(alg: &NormAlg, key: &KeyInner, length: Option<u32>) -> CResult<Vec<u8>> {
    match alg.name {
        AlgName::Ecdh => ec_ops::derive_bits(alg, key, length),
        _ => kdf_ops::derive_bits(alg, key, length),
    }
}

/// Spec: "get key length" of the derived key's algorithm (`None` is null).
fn key_length(alg: &NormAlg) -> CResult<Option<u32>> {
    match alg.name {
        AlgName::Hmac => hmac_ops::key_length(alg).map(Some),
        AlgName::Pbkdf2 | AlgName::Hkdf => Ok(None),
        _ => aes_ops::key_length(alg).map(Some),
    }
}

/// A key (or key pair) as a JS value.
fn generated_to_js<'js>(ctx: &Ctx<'js>, g: Generated) -> Result<Value<'js>> {
    match g {
        Generated::Secret(k) => new_key(ctx, *k),
        Generated::Pair { public, private } => {
            let pair = Object::new(ctx.clone())?;
            pair.set("publicKey", new_key(ctx, *public)?)?;
            pair.set("privateKey", new_key(ctx, *private)?)?;
            Ok(pair.into_value())
        }
    }
}

/// Converts `importKey`'s `keyData` for `format`.
fn key_data_arg<'js>(
    ctx: &Ctx<'js>,
    format: Format,
    v: &Value<'js>,
    method: &str,
) -> Result<KeyData> {
    if format == Format::Jwk {
        match Jwk::from_js(ctx, v)? {
            Some(j) if buffer_source(ctx, v)?.is_none() => Ok(KeyData::Jwk(Box::new(j))),
            _ => Err(WebApiError::type_error(
                "The key data for the 'jwk' format must be a JsonWebKey object.",
            ))
            .or_throw(ctx),
        }
    } else {
        match buffer_source(ctx, v)? {
            Some(view) => Ok(KeyData::Bytes(view.to_vec())),
            None => Err(WebApiError::type_error(format!(
                "Failed to execute '{method}' on 'SubtleCrypto': the key data for a binary format must be a BufferSource."
            )))
            .or_throw(ctx),
        }
    }
}

/// `deriveBits`' `optional unsigned long? length = null`.
fn length_arg<'js>(ctx: &Ctx<'js>, v: Value<'js>) -> Result<Option<u32>> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    let n = Coerced::<f64>::from_js(ctx, v)?.0;
    // WebIDL `unsigned long`: ToNumber, truncate, modulo 2^32.
    let n = if n.is_finite() {
        n.trunc().rem_euclid(4_294_967_296.0)
    } else {
        0.0
    };
    Ok(Some(n as u32))
}

/// Normalizes for `first`, falling back to `second` on any error (as
/// `wrapKey`/`unwrapKey` do with their key-wrap and cipher operations).
fn normalize_either<'js>(ctx: &Ctx<'js>, v: &Value<'js>, first: Op, second: Op) -> Result<NormAlg> {
    match normalize(ctx, first, v) {
        Ok(a) => Ok(a),
        Err(rquickjs::Error::Exception) => {
            let _ = ctx.catch();
            normalize(ctx, second, v)
        }
        Err(e) => Err(e),
    }
}

#[rquickjs::methods(rename_all = "camelCase")]
impl SubtleCrypto {
    /// `SubtleCrypto` has no public constructor.
    #[qjs(constructor)]
    pub fn constructor(ctx: Ctx<'_>) -> Result<Self> {
        Err(WebApiError::type_error("Illegal constructor")).or_throw(&ctx)
    }

    /// Spec: <https://w3c.github.io/webcrypto/#SubtleCrypto-method-digest>
    pub fn digest<'js>(
        &self,
        ctx: Ctx<'js>,
        algorithm: Opt<Value<'js>>,
        data: Opt<Value<'js>>,
    ) -> Result<Promise<'js>> {
        let run = || {
            let [algorithm, data] = args(&ctx, "digest", [algorithm, data], 2)?;
            let data = bytes_arg(&ctx, &data, "digest", 2)?;
            let alg = normalize(&ctx, Op::Digest, &algorithm)?;
            let hash = hash_of(&alg).or_throw(&ctx)?;
            buffer(&ctx, hash.digest(&data))
        };
        settle(&ctx, run())
    }

    /// Spec: <https://w3c.github.io/webcrypto/#SubtleCrypto-method-encrypt>
    pub fn encrypt<'js>(
        &self,
        ctx: Ctx<'js>,
        algorithm: Opt<Value<'js>>,
        key: Opt<Value<'js>>,
        data: Opt<Value<'js>>,
    ) -> Result<Promise<'js>> {
        settle(&ctx, crypt(&ctx, "encrypt", [algorithm, key, data], true))
    }

    /// Spec: <https://w3c.github.io/webcrypto/#SubtleCrypto-method-decrypt>
    pub fn decrypt<'js>(
        &self,
        ctx: Ctx<'js>,
        algorithm: Opt<Value<'js>>,
        key: Opt<Value<'js>>,
        data: Opt<Value<'js>>,
    ) -> Result<Promise<'js>> {
        settle(&ctx, crypt(&ctx, "decrypt", [algorithm, key, data], false))
    }

    /// Spec: <https://w3c.github.io/webcrypto/#SubtleCrypto-method-sign>
    pub fn sign<'js>(
        &self,
        ctx: Ctx<'js>,
        algorithm: Opt<Value<'js>>,
        key: Opt<Value<'js>>,
        data: Opt<Value<'js>>,
    ) -> Result<Promise<'js>> {
        let run = || {
            let [algorithm, key, data] = args(&ctx, "sign", [algorithm, key, data], 3)?;
            let key = key_arg(&ctx, &key, "sign", 2)?;
            let data = bytes_arg(&ctx, &data, "sign", 3)?;
            let alg = normalize(&ctx, Op::Sign, &algorithm)?;
            let sig = sign_bytes(&alg, &key, &data).or_throw(&ctx)?;
            buffer(&ctx, sig)
        };
        settle(&ctx, run())
    }

    /// Spec: <https://w3c.github.io/webcrypto/#SubtleCrypto-method-verify>
    pub fn verify<'js>(
        &self,
        ctx: Ctx<'js>,
        algorithm: Opt<Value<'js>>,
        key: Opt<Value<'js>>,
        signature: Opt<Value<'js>>,
        data: Opt<Value<'js>>,
    ) -> Result<Promise<'js>> {
        let run = || {
            let [algorithm, key, signature, data] =
                args(&ctx, "verify", [algorithm, key, signature, data], 4)?;
            let key = key_arg(&ctx, &key, "verify", 2)?;
            let signature = bytes_arg(&ctx, &signature, "verify", 3)?;
            let data = bytes_arg(&ctx, &data, "verify", 4)?;
            let alg = normalize(&ctx, Op::Verify, &algorithm)?;
            let ok = verify_bytes(&alg, &key, &signature, &data).or_throw(&ctx)?;
            Ok(Value::new_bool(ctx.clone(), ok))
        };
        settle(&ctx, run())
    }

    /// Spec: <https://w3c.github.io/webcrypto/#SubtleCrypto-method-generateKey>
    pub fn generate_key<'js>(
        &self,
        ctx: Ctx<'js>,
        algorithm: Opt<Value<'js>>,
        extractable: Opt<Value<'js>>,
        key_usages: Opt<Value<'js>>,
    ) -> Result<Promise<'js>> {
        let run = || {
            let [algorithm, extractable, key_usages] =
                args(&ctx, "generateKey", [algorithm, extractable, key_usages], 3)?;
            let extractable = to_bool(&ctx, extractable)?;
            let usages = usages_arg(&ctx, &key_usages)?;
            let alg = normalize(&ctx, Op::GenerateKey, &algorithm)?;
            let generated = generate(&alg, extractable, usages).or_throw(&ctx)?;
            let empty = match &generated {
                Generated::Secret(k) => k.usages.is_empty(),
                Generated::Pair { private, .. } => private.usages.is_empty(),
            };
            if empty {
                return Err(WebApiError::dom(
                    "SyntaxError",
                    "Usages cannot be empty when creating a secret or private key.",
                ))
                .or_throw(&ctx);
            }
            generated_to_js(&ctx, generated)
        };
        settle(&ctx, run())
    }

    /// Spec: <https://w3c.github.io/webcrypto/#SubtleCrypto-method-deriveKey>
    pub fn derive_key<'js>(
        &self,
        ctx: Ctx<'js>,
        algorithm: Opt<Value<'js>>,
        base_key: Opt<Value<'js>>,
        derived_key_type: Opt<Value<'js>>,
        extractable: Opt<Value<'js>>,
        key_usages: Opt<Value<'js>>,
    ) -> Result<Promise<'js>> {
        let run = || {
            let [algorithm, base_key, derived, extractable, key_usages] = args(
                &ctx,
                "deriveKey",
                [
                    algorithm,
                    base_key,
                    derived_key_type,
                    extractable,
                    key_usages,
                ],
                5,
            )?;
            let base_key = key_arg(&ctx, &base_key, "deriveKey", 2)?;
            let extractable = to_bool(&ctx, extractable)?;
            let usages = usages_arg(&ctx, &key_usages)?;
            let alg = normalize(&ctx, Op::DeriveBits, &algorithm)?;
            let import_alg = normalize(&ctx, Op::ImportKey, &derived)?;
            let length_alg = normalize(&ctx, Op::GetKeyLength, &derived)?;
            let run = || -> CResult<KeyInner> {
                check_key(&alg, &base_key, Usages::DERIVE_KEY, "deriveKey")?;
                let length = key_length(&length_alg)?;
                let secret = derive_bits(&alg, &base_key, length)?;
                import(
                    Format::Raw,
                    KeyData::Bytes(secret),
                    &import_alg,
                    extractable,
                    usages,
                )
            };
            let key = run().or_throw(&ctx)?;
            new_key(&ctx, key)
        };
        settle(&ctx, run())
    }

    /// Spec: <https://w3c.github.io/webcrypto/#SubtleCrypto-method-deriveBits>
    pub fn derive_bits<'js>(
        &self,
        ctx: Ctx<'js>,
        algorithm: Opt<Value<'js>>,
        base_key: Opt<Value<'js>>,
        length: Opt<Value<'js>>,
    ) -> Result<Promise<'js>> {
        let run = || {
            let [algorithm, base_key, length] =
                args(&ctx, "deriveBits", [algorithm, base_key, length], 2)?;
            let base_key = key_arg(&ctx, &base_key, "deriveBits", 2)?;
            let length = length_arg(&ctx, length)?;
            let alg = normalize(&ctx, Op::DeriveBits, &algorithm)?;
            let run = || -> CResult<Vec<u8>> {
                check_key(&alg, &base_key, Usages::DERIVE_BITS, "deriveBits")?;
                derive_bits(&alg, &base_key, length)
            };
            buffer(&ctx, run().or_throw(&ctx)?)
        };
        settle(&ctx, run())
    }

    /// Spec: <https://w3c.github.io/webcrypto/#SubtleCrypto-method-importKey>
    pub fn import_key<'js>(
        &self,
        ctx: Ctx<'js>,
        format: Opt<Value<'js>>,
        key_data: Opt<Value<'js>>,
        algorithm: Opt<Value<'js>>,
        extractable: Opt<Value<'js>>,
        key_usages: Opt<Value<'js>>,
    ) -> Result<Promise<'js>> {
        let run = || {
            let [format, key_data, algorithm, extractable, key_usages] = args(
                &ctx,
                "importKey",
                [format, key_data, algorithm, extractable, key_usages],
                5,
            )?;
            let format = format_arg(&ctx, &format)?;
            let data = key_data_arg(&ctx, format, &key_data, "importKey")?;
            let extractable = to_bool(&ctx, extractable)?;
            let usages = usages_arg(&ctx, &key_usages)?;
            let alg = normalize(&ctx, Op::ImportKey, &algorithm)?;
            let key = import(format, data, &alg, extractable, usages).or_throw(&ctx)?;
            new_key(&ctx, key)
        };
        settle(&ctx, run())
    }

    /// Spec: <https://w3c.github.io/webcrypto/#SubtleCrypto-method-exportKey>
    pub fn export_key<'js>(
        &self,
        ctx: Ctx<'js>,
        format: Opt<Value<'js>>,
        key: Opt<Value<'js>>,
    ) -> Result<Promise<'js>> {
        let run = || {
            let [format, key] = args(&ctx, "exportKey", [format, key], 2)?;
            let format = format_arg(&ctx, &format)?;
            let key = key_arg(&ctx, &key, "exportKey", 2)?;
            match export(format, &key).or_throw(&ctx)? {
                Exported::Bytes(b) => buffer(&ctx, b),
                Exported::Jwk(j) => Ok(j.to_js(&ctx)?.into_value()),
            }
        };
        settle(&ctx, run())
    }

    /// Spec: <https://w3c.github.io/webcrypto/#SubtleCrypto-method-wrapKey>
    pub fn wrap_key<'js>(
        &self,
        ctx: Ctx<'js>,
        format: Opt<Value<'js>>,
        key: Opt<Value<'js>>,
        wrapping_key: Opt<Value<'js>>,
        wrap_algorithm: Opt<Value<'js>>,
    ) -> Result<Promise<'js>> {
        let run = || {
            let [format, key, wrapping_key, wrap_algorithm] = args(
                &ctx,
                "wrapKey",
                [format, key, wrapping_key, wrap_algorithm],
                4,
            )?;
            let format = format_arg(&ctx, &format)?;
            let key = key_arg(&ctx, &key, "wrapKey", 2)?;
            let wrapping_key = key_arg(&ctx, &wrapping_key, "wrapKey", 3)?;
            let alg = normalize_either(&ctx, &wrap_algorithm, Op::WrapKey, Op::Encrypt)?;
            let run = || -> CResult<Vec<u8>> {
                check_key(&alg, &wrapping_key, Usages::WRAP_KEY, "wrapKey")?;
                let bytes = match export(format, &key)? {
                    Exported::Bytes(b) => b,
                    Exported::Jwk(j) => j.to_json(),
                };
                if alg.name == AlgName::AesKw {
                    aes_ops::key_wrap(&wrapping_key, &bytes, true)
                } else {
                    encrypt_or_decrypt(&alg, &wrapping_key, &bytes, true)
                }
            };
            buffer(&ctx, run().or_throw(&ctx)?)
        };
        settle(&ctx, run())
    }

    /// Spec: <https://w3c.github.io/webcrypto/#SubtleCrypto-method-unwrapKey>
    #[allow(clippy::too_many_arguments)]
    pub fn unwrap_key<'js>(
        &self,
        ctx: Ctx<'js>,
        format: Opt<Value<'js>>,
        wrapped_key: Opt<Value<'js>>,
        unwrapping_key: Opt<Value<'js>>,
        unwrap_algorithm: Opt<Value<'js>>,
        unwrapped_key_algorithm: Opt<Value<'js>>,
        extractable: Opt<Value<'js>>,
        key_usages: Opt<Value<'js>>,
    ) -> Result<Promise<'js>> {
        let run = || {
            let [format, wrapped, unwrapping_key, unwrap_alg, key_alg, extractable, key_usages] =
                args(
                    &ctx,
                    "unwrapKey",
                    [
                        format,
                        wrapped_key,
                        unwrapping_key,
                        unwrap_algorithm,
                        unwrapped_key_algorithm,
                        extractable,
                        key_usages,
                    ],
                    7,
                )?;
            let format = format_arg(&ctx, &format)?;
            let wrapped = bytes_arg(&ctx, &wrapped, "unwrapKey", 2)?;
            let unwrapping_key = key_arg(&ctx, &unwrapping_key, "unwrapKey", 3)?;
            let extractable = to_bool(&ctx, extractable)?;
            let usages = usages_arg(&ctx, &key_usages)?;
            let alg = normalize_either(&ctx, &unwrap_alg, Op::UnwrapKey, Op::Decrypt)?;
            let import_alg = normalize(&ctx, Op::ImportKey, &key_alg)?;
            let run = || -> CResult<KeyInner> {
                check_key(&alg, &unwrapping_key, Usages::UNWRAP_KEY, "unwrapKey")?;
                let bytes = if alg.name == AlgName::AesKw {
                    aes_ops::key_wrap(&unwrapping_key, &wrapped, false)?
                } else {
                    encrypt_or_decrypt(&alg, &unwrapping_key, &wrapped, false)?
                };
                let data = if format == Format::Jwk {
                    KeyData::Jwk(Box::new(Jwk::from_json(&bytes)?))
                } else {
                    KeyData::Bytes(bytes)
                };
                import(format, data, &import_alg, extractable, usages)
            };
            let key = run().or_throw(&ctx)?;
            new_key(&ctx, key)
        };
        settle(&ctx, run())
    }

    /// Workers' extension: whether two buffers hold the same bytes,
    /// compared in constant time. Synchronous; buffers of different lengths
    /// are a `TypeError`.
    ///
    /// See <https://developers.cloudflare.com/workers/runtime-apis/web-crypto/#timingsafeequal>
    pub fn timing_safe_equal<'js>(
        &self,
        ctx: Ctx<'js>,
        a: Opt<Value<'js>>,
        b: Opt<Value<'js>>,
    ) -> Result<bool> {
        use subtle::ConstantTimeEq;
        let [a, b] = args(&ctx, "timingSafeEqual", [a, b], 2)?;
        let a = bytes_arg(&ctx, &a, "timingSafeEqual", 1)?;
        let b = bytes_arg(&ctx, &b, "timingSafeEqual", 2)?;
        if a.len() != b.len() {
            return Err(WebApiError::type_error(
                "Input buffers must have the same byte length.",
            ))
            .or_throw(&ctx);
        }
        Ok(a.ct_eq(&b).into())
    }

    /// `Symbol.toStringTag`, as WebIDL gives every interface prototype.
    #[qjs(prop, rename = PredefinedAtom::SymbolToStringTag, configurable)]
    pub fn to_string_tag() -> &'static str {
        "SubtleCrypto"
    }
}

/// `encrypt` and `decrypt`, which differ only in direction.
fn crypt<'js>(
    ctx: &Ctx<'js>,
    method: &str,
    given: [Opt<Value<'js>>; 3],
    encrypt: bool,
) -> Result<Value<'js>> {
    let [algorithm, key, data] = args(ctx, method, given, 3)?;
    let key = key_arg(ctx, &key, method, 2)?;
    let data = bytes_arg(ctx, &data, method, 3)?;
    let op = if encrypt { Op::Encrypt } else { Op::Decrypt };
    let alg = normalize(ctx, op, &algorithm)?;
    let (usage, name) = if encrypt {
        (Usages::ENCRYPT, "encrypt")
    } else {
        (Usages::DECRYPT, "decrypt")
    };
    let out = check_key(&alg, &key, usage, name)
        .and_then(|()| encrypt_or_decrypt(&alg, &key, &data, encrypt))
        .or_throw(ctx)?;
    buffer(ctx, out)
}

fn sign_bytes(alg: &NormAlg, key: &KeyInner, data: &[u8]) -> CResult<Vec<u8>> {
    check_key(alg, key, Usages::SIGN, "sign")?;
    use AlgName::*;
    match alg.name {
        Hmac => hmac_ops::sign(key, data),
        RsassaPkcs1V15 | RsaPss => rsa_ops::sign(alg, key, data),
        Ecdsa => ec_ops::sign(hash_of(alg)?, key, data),
        Ed25519 | NodeEd25519 => ed25519_ops::sign(key, data),
        _ => Err(not_supported("sign is not supported for this algorithm.")),
    }
}

fn verify_bytes(alg: &NormAlg, key: &KeyInner, signature: &[u8], data: &[u8]) -> CResult<bool> {
    check_key(alg, key, Usages::VERIFY, "verify")?;
    use AlgName::*;
    match alg.name {
        Hmac => hmac_ops::verify(key, signature, data),
        RsassaPkcs1V15 | RsaPss => rsa_ops::verify(alg, key, signature, data),
        Ecdsa => ec_ops::verify(hash_of(alg)?, key, signature, data),
        Ed25519 | NodeEd25519 => ed25519_ops::verify(key, signature, data),
        _ => Err(not_supported("verify is not supported for this algorithm.")),
    }
}

/// The interface object of `C`, created on first use (which also sets
/// `C.prototype.constructor`).
fn interface_object<'js, C: rquickjs::class::JsClass<'js>>(ctx: &Ctx<'js>) -> Result<Object<'js>> {
    let proto = Class::<C>::prototype(ctx)?.ok_or(rquickjs::Error::Unknown)?;
    let existing: Value = proto.get(PredefinedAtom::Constructor)?;
    if let Some(f) = existing.as_object() {
        let p: Value = f.get(PredefinedAtom::Prototype)?;
        if p.as_object() == Some(&proto) {
            return Ok(f.clone());
        }
    }
    let ctor = Class::<C>::create_constructor(ctx)?.ok_or(rquickjs::Error::Unknown)?;
    ctor.into_value()
        .into_object()
        .ok_or(rquickjs::Error::Unknown)
}

/// Makes sure both interfaces exist, so `key.constructor === CryptoKey`
/// whichever global or property is touched first.
fn ensure_interfaces<'js>(ctx: &Ctx<'js>) -> Result<(Object<'js>, Object<'js>)> {
    Ok((
        interface_object::<SubtleCrypto>(ctx)?,
        interface_object::<CryptoKey>(ctx)?,
    ))
}

/// The object `crypto.subtle` returns (the `Crypto` instance caches it).
pub(crate) fn new_subtle<'js>(ctx: &Ctx<'js>) -> Result<Class<'js, SubtleCrypto>> {
    ensure_interfaces(ctx)?;
    Class::instance(ctx.clone(), SubtleCrypto {})
}

/// Defines global `name` as an accessor that creates the interface on first
/// read and then becomes the data property WebIDL specifies.
fn define_lazy_global<'js>(ctx: &Ctx<'js>, name: &'static str, crypto_key: bool) -> Result<()> {
    let get = move |ctx: Ctx<'js>| -> Result<Value<'js>> {
        let (subtle, key) = ensure_interfaces(&ctx)?;
        let ctor = if crypto_key { key } else { subtle };
        ctx.globals()
            .prop(name, Property::from(ctor.clone()).writable().configurable())?;
        Ok(ctor.into_value())
    };
    let set = move |ctx: Ctx<'js>, v: Value<'js>| -> Result<()> {
        ctx.globals()
            .prop(name, Property::from(v).writable().configurable())
    };
    ctx.globals()
        .prop(name, Accessor::new(get, set).configurable())
}

/// Installs the `SubtleCrypto` and `CryptoKey` globals (lazily; see the
/// module documentation). `crypto.subtle` itself is a getter of `Crypto`.
pub fn init(ctx: &Ctx<'_>) -> Result<()> {
    define_lazy_global(ctx, "SubtleCrypto", false)?;
    define_lazy_global(ctx, "CryptoKey", true)?;
    Ok(())
}

#[cfg(test)]
mod tests;
