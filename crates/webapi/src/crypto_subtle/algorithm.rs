//! Algorithm names, the operations each one supports, and normalizing a
//! JavaScript `AlgorithmIdentifier` into the parameters of one operation.
//!
//! Spec: <https://w3c.github.io/webcrypto/#algorithm-normalization-normalize-an-algorithm>

use std::rc::Rc;

use rquickjs::{Ctx, Object, Result, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::key::KeyInner;
use crate::error::{OrThrow, WebApiError};
use crate::webidl::{buffer_source, enforce_range_u64, js_to_string, string_lossy, ViewKind};

/// A hash function usable as a `hash` member or with `digest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    /// The registered algorithm name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA-1",
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }

    /// Block size in bits: the default length of an HMAC key.
    pub fn block_bits(self) -> u32 {
        match self {
            Self::Sha1 | Self::Sha256 => 512,
            Self::Sha384 | Self::Sha512 => 1024,
        }
    }

    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => Sha1::digest(data).to_vec(),
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha384 => Sha384::digest(data).to_vec(),
            Self::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// The digits of the hash in JOSE algorithm names (`HS256`, `RS1`, ...).
    pub fn jose_suffix(self) -> &'static str {
        match self {
            Self::Sha1 => "1",
            Self::Sha256 => "256",
            Self::Sha384 => "384",
            Self::Sha512 => "512",
        }
    }
}

/// A registered algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AlgName {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
    Hmac,
    AesGcm,
    AesCbc,
    AesCtr,
    AesKw,
    RsassaPkcs1V15,
    RsaPss,
    RsaOaep,
    Ecdsa,
    Ecdh,
    Ed25519,
    /// Workers' older spelling of Ed25519, with `namedCurve: "NODE-ED25519"`.
    NodeEd25519,
    Pbkdf2,
    Hkdf,
}

const ALL: [AlgName; 18] = [
    AlgName::Sha1,
    AlgName::Sha256,
    AlgName::Sha384,
    AlgName::Sha512,
    AlgName::Hmac,
    AlgName::AesGcm,
    AlgName::AesCbc,
    AlgName::AesCtr,
    AlgName::AesKw,
    AlgName::RsassaPkcs1V15,
    AlgName::RsaPss,
    AlgName::RsaOaep,
    AlgName::Ecdsa,
    AlgName::Ecdh,
    AlgName::Ed25519,
    AlgName::NodeEd25519,
    AlgName::Pbkdf2,
    AlgName::Hkdf,
];

/// An operation of the spec's registry; each algorithm supports some.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Digest,
    Sign,
    Verify,
    Encrypt,
    Decrypt,
    GenerateKey,
    ImportKey,
    DeriveBits,
    GetKeyLength,
    WrapKey,
    UnwrapKey,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Self::Digest => "digest",
            Self::Sign => "sign",
            Self::Verify => "verify",
            Self::Encrypt => "encrypt",
            Self::Decrypt => "decrypt",
            Self::GenerateKey => "generateKey",
            Self::ImportKey => "importKey",
            Self::DeriveBits => "deriveBits",
            Self::GetKeyLength => "get key length",
            Self::WrapKey => "wrapKey",
            Self::UnwrapKey => "unwrapKey",
        }
    }
}

impl AlgName {
    /// The registered name, as `key.algorithm.name` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA-1",
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
            Self::Hmac => "HMAC",
            Self::AesGcm => "AES-GCM",
            Self::AesCbc => "AES-CBC",
            Self::AesCtr => "AES-CTR",
            Self::AesKw => "AES-KW",
            Self::RsassaPkcs1V15 => "RSASSA-PKCS1-v1_5",
            Self::RsaPss => "RSA-PSS",
            Self::RsaOaep => "RSA-OAEP",
            Self::Ecdsa => "ECDSA",
            Self::Ecdh => "ECDH",
            Self::Ed25519 => "Ed25519",
            Self::NodeEd25519 => "NODE-ED25519",
            Self::Pbkdf2 => "PBKDF2",
            Self::Hkdf => "HKDF",
        }
    }

    /// Names match ASCII case-insensitively.
    fn lookup(name: &str) -> Option<Self> {
        ALL.into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(name))
    }

    fn supports(self, op: Op) -> bool {
        use AlgName::*;
        use Op::*;
        match self {
            Sha1 | Sha256 | Sha384 | Sha512 => op == Digest,
            Hmac => matches!(op, Sign | Verify | GenerateKey | ImportKey | GetKeyLength),
            AesGcm | AesCbc | AesCtr => {
                matches!(
                    op,
                    Encrypt | Decrypt | GenerateKey | ImportKey | GetKeyLength
                )
            }
            AesKw => matches!(
                op,
                WrapKey | UnwrapKey | GenerateKey | ImportKey | GetKeyLength
            ),
            RsassaPkcs1V15 | RsaPss | Ecdsa | Ed25519 | NodeEd25519 => {
                matches!(op, Sign | Verify | GenerateKey | ImportKey)
            }
            RsaOaep => matches!(op, Encrypt | Decrypt | GenerateKey | ImportKey),
            Ecdh => matches!(op, DeriveBits | GenerateKey | ImportKey),
            Pbkdf2 | Hkdf => matches!(op, DeriveBits | ImportKey | GetKeyLength),
        }
    }

    fn hash(self) -> Option<Hash> {
        match self {
            Self::Sha1 => Some(Hash::Sha1),
            Self::Sha256 => Some(Hash::Sha256),
            Self::Sha384 => Some(Hash::Sha384),
            Self::Sha512 => Some(Hash::Sha512),
            _ => None,
        }
    }
}

/// A named elliptic curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
}

impl Curve {
    /// The `namedCurve` string (also JWK's `crv`).
    pub fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
        }
    }

    /// Bytes of one coordinate or scalar.
    pub fn field_bytes(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
        }
    }
}

/// The members an operation's parameter dictionary can carry; which ones are
/// set depends on the algorithm and operation.
#[derive(Default)]
pub(crate) struct Params {
    pub hash: Option<Hash>,
    /// `length` of HMAC, AES (key bits) and AES-CTR (counter bits).
    pub length: Option<u32>,
    pub curve: Option<Curve>,
    pub modulus_length: u32,
    pub public_exponent: Vec<u8>,
    pub salt_length: u32,
    pub iv: Vec<u8>,
    pub additional_data: Option<Vec<u8>>,
    pub tag_length: Option<u32>,
    pub label: Option<Vec<u8>>,
    pub salt: Vec<u8>,
    pub info: Vec<u8>,
    pub iterations: u32,
    /// ECDH's peer public key.
    pub public: Option<Rc<KeyInner>>,
}

/// A normalized algorithm: its name and the parameters for one operation.
pub(crate) struct NormAlg {
    pub name: AlgName,
    pub p: Params,
}

fn not_supported(msg: impl Into<String>) -> WebApiError {
    WebApiError::dom("NotSupportedError", msg)
}

/// Normalizes `value` for `op`.
///
/// Spec: <https://w3c.github.io/webcrypto/#algorithm-normalization-normalize-an-algorithm>
pub(crate) fn normalize<'js>(ctx: &Ctx<'js>, op: Op, value: &Value<'js>) -> Result<NormAlg> {
    let (dict, name) = match value.as_object() {
        Some(obj) => {
            let name: Value = obj.get("name")?;
            if name.is_undefined() {
                return Err(WebApiError::type_error(
                    "Algorithm: the required member 'name' is missing.",
                ))
                .or_throw(ctx);
            }
            (Some(obj.clone()), name)
        }
        None => (None, value.clone()),
    };
    let name = string_lossy(ctx, &js_to_string(ctx, name)?)?;
    let Some(alg) = AlgName::lookup(&name) else {
        return Err(not_supported(format!(
            "Unrecognized or unimplemented algorithm name: \"{name}\"."
        )))
        .or_throw(ctx);
    };
    if !alg.supports(op) {
        return Err(not_supported(format!(
            "The algorithm \"{}\" does not support {}.",
            alg.as_str(),
            op.name()
        )))
        .or_throw(ctx);
    }
    let d = Dict {
        ctx,
        obj: dict,
        what: dict_name(alg, op),
    };
    let mut p = Params::default();
    use AlgName::*;
    use Op::*;
    match (alg, op) {
        (Hmac, GenerateKey | ImportKey | GetKeyLength) => {
            p.hash = Some(d.hash("hash")?);
            p.length = d.opt_u32("length", u32::MAX)?;
        }
        (AesGcm, Encrypt | Decrypt) => {
            p.iv = d.bytes("iv")?;
            p.additional_data = d.opt_bytes("additionalData")?;
            p.tag_length = d.opt_u32("tagLength", 255)?;
        }
        (AesCbc, Encrypt | Decrypt) => p.iv = d.bytes("iv")?,
        (AesCtr, Encrypt | Decrypt) => {
            p.iv = d.bytes("counter")?;
            p.length = Some(d.u32("length", 255)?);
        }
        (AesGcm | AesCbc | AesCtr | AesKw, GenerateKey | GetKeyLength) => {
            p.length = Some(d.u32("length", 65535)?);
        }
        (RsassaPkcs1V15 | RsaPss | RsaOaep, GenerateKey) => {
            p.hash = Some(d.hash("hash")?);
            p.modulus_length = d.u32("modulusLength", u32::MAX)?;
            p.public_exponent = d.big_integer("publicExponent")?;
        }
        (RsassaPkcs1V15 | RsaPss | RsaOaep, ImportKey) => p.hash = Some(d.hash("hash")?),
        (RsaPss, Sign | Verify) => p.salt_length = d.u32("saltLength", u32::MAX)?,
        (RsaOaep, Encrypt | Decrypt) => p.label = d.opt_bytes("label")?,
        (Ecdsa | Ecdh, GenerateKey | ImportKey) => p.curve = Some(d.curve()?),
        (Ecdsa, Sign | Verify) => p.hash = Some(d.hash("hash")?),
        (Ecdh, DeriveBits) => p.public = Some(d.key("public")?),
        (NodeEd25519, GenerateKey | ImportKey) => {
            let curve = d.string("namedCurve")?;
            if curve != "NODE-ED25519" {
                return Err(not_supported(format!(
                    "Unrecognized or unimplemented namedCurve \"{curve}\" for NODE-ED25519."
                )))
                .or_throw(ctx);
            }
        }
        (Pbkdf2, DeriveBits) => {
            p.hash = Some(d.hash("hash")?);
            p.iterations = d.u32("iterations", u32::MAX)?;
            p.salt = d.bytes("salt")?;
        }
        (Hkdf, DeriveBits) => {
            p.hash = Some(d.hash("hash")?);
            p.info = d.bytes("info")?;
            p.salt = d.bytes("salt")?;
        }
        _ => {}
    }
    if op == Digest {
        p.hash = alg.hash();
    }
    Ok(NormAlg { name: alg, p })
}

/// The spec's dictionary type for an (algorithm, operation), named in errors.
fn dict_name(alg: AlgName, op: Op) -> &'static str {
    use AlgName::*;
    use Op::*;
    match (alg, op) {
        (Hmac, GenerateKey) => "HmacKeyGenParams",
        (Hmac, _) => "HmacImportParams",
        (AesGcm, Encrypt | Decrypt) => "AesGcmParams",
        (AesCbc, Encrypt | Decrypt) => "AesCbcParams",
        (AesCtr, Encrypt | Decrypt) => "AesCtrParams",
        (AesGcm | AesCbc | AesCtr | AesKw, GenerateKey) => "AesKeyGenParams",
        (AesGcm | AesCbc | AesCtr | AesKw, _) => "AesDerivedKeyParams",
        (_, GenerateKey) if matches!(alg, RsassaPkcs1V15 | RsaPss | RsaOaep) => {
            "RsaHashedKeyGenParams"
        }
        (RsassaPkcs1V15 | RsaPss | RsaOaep, ImportKey) => "RsaHashedImportParams",
        (RsaPss, _) => "RsaPssParams",
        (RsaOaep, _) => "RsaOaepParams",
        (Ecdsa | Ecdh | NodeEd25519, GenerateKey) => "EcKeyGenParams",
        (Ecdsa | Ecdh | NodeEd25519, ImportKey) => "EcKeyImportParams",
        (Ecdsa, _) => "EcdsaParams",
        (Ecdh, _) => "EcdhKeyDeriveParams",
        (Pbkdf2, DeriveBits) => "Pbkdf2Params",
        (Hkdf, DeriveBits) => "HkdfParams",
        _ => "Algorithm",
    }
}

/// Reads members of one parameter dictionary, with the spec's errors.
struct Dict<'a, 'js> {
    ctx: &'a Ctx<'js>,
    obj: Option<Object<'js>>,
    what: &'static str,
}

impl<'js> Dict<'_, 'js> {
    fn get(&self, key: &str) -> Result<Option<Value<'js>>> {
        match &self.obj {
            Some(o) => {
                let v: Value = o.get(key)?;
                Ok((!v.is_undefined()).then_some(v))
            }
            None => Ok(None),
        }
    }

    fn required(&self, key: &str) -> Result<Value<'js>> {
        match self.get(key)? {
            Some(v) => Ok(v),
            None => Err(WebApiError::type_error(format!(
                "{}: the required member '{key}' is missing.",
                self.what
            )))
            .or_throw(self.ctx),
        }
    }

    fn to_bytes(&self, key: &str, v: Value<'js>) -> Result<Vec<u8>> {
        match buffer_source(self.ctx, &v)? {
            Some(view) => Ok(view.to_vec()),
            None => Err(WebApiError::type_error(format!(
                "{}: the member '{key}' is not a BufferSource.",
                self.what
            )))
            .or_throw(self.ctx),
        }
    }

    fn bytes(&self, key: &str) -> Result<Vec<u8>> {
        let v = self.required(key)?;
        self.to_bytes(key, v)
    }

    fn opt_bytes(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.get(key)?.map(|v| self.to_bytes(key, v)).transpose()
    }

    /// `[EnforceRange]` integer of at most `max`.
    fn to_u32(&self, key: &str, v: Value<'js>, max: u32) -> Result<u32> {
        let n = enforce_range_u64(self.ctx, v)?;
        if n > u64::from(max) {
            return Err(WebApiError::type_error(format!(
                "{}: the member '{key}' is out of range.",
                self.what
            )))
            .or_throw(self.ctx);
        }
        Ok(n as u32)
    }

    fn u32(&self, key: &str, max: u32) -> Result<u32> {
        let v = self.required(key)?;
        self.to_u32(key, v, max)
    }

    fn opt_u32(&self, key: &str, max: u32) -> Result<Option<u32>> {
        self.get(key)?.map(|v| self.to_u32(key, v, max)).transpose()
    }

    fn string(&self, key: &str) -> Result<String> {
        let v = self.required(key)?;
        string_lossy(self.ctx, &js_to_string(self.ctx, v)?)
    }

    fn hash(&self, key: &str) -> Result<Hash> {
        let v = self.required(key)?;
        let alg = normalize(self.ctx, Op::Digest, &v)?;
        Ok(alg.p.hash.unwrap_or(Hash::Sha256))
    }

    fn curve(&self) -> Result<Curve> {
        let name = self.string("namedCurve")?;
        match name.as_str() {
            "P-256" => Ok(Curve::P256),
            "P-384" => Ok(Curve::P384),
            _ => Err(not_supported(format!(
                "Unrecognized or unimplemented namedCurve \"{name}\"."
            )))
            .or_throw(self.ctx),
        }
    }

    /// `BigInteger`, a big-endian `Uint8Array`.
    fn big_integer(&self, key: &str) -> Result<Vec<u8>> {
        let v = self.required(key)?;
        match crate::webidl::array_buffer_view(self.ctx, &v)? {
            Some(view) if view.kind == Some(ViewKind::Uint8) => Ok(view.to_vec()),
            _ => Err(WebApiError::type_error(format!(
                "{}: the member '{key}' is not a Uint8Array.",
                self.what
            )))
            .or_throw(self.ctx),
        }
    }

    fn key(&self, key: &str) -> Result<Rc<KeyInner>> {
        let v = self.required(key)?;
        match super::key::key_inner(&v) {
            Some(k) => Ok(k),
            None => Err(WebApiError::type_error(format!(
                "{}: the member '{key}' is not a CryptoKey.",
                self.what
            )))
            .or_throw(self.ctx),
        }
    }
}
