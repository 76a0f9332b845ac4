//! `CryptoKey`: the key material (Rust only, never reachable from
//! JavaScript), its algorithm, usages and extractability.
//!
//! Spec: <https://w3c.github.io/webcrypto/#cryptokey-interface>

use std::rc::Rc;

use rquickjs::{
    atom::PredefinedAtom, class::Trace, Array, Class, Ctx, JsLifetime, Object, Result, Value,
};
use zeroize::Zeroizing;

use super::algorithm::{AlgName, Curve, Hash};
use super::ec_ops::{EcPrivate, EcPublic};
use crate::error::{OrThrow, WebApiError};

/// A set of `KeyUsage` values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Usages(u8);

/// The recognized key usages, in the spec's order (which is the order
/// `key.usages` lists them in).
const USAGE_NAMES: [&str; 8] = [
    "encrypt",
    "decrypt",
    "sign",
    "verify",
    "deriveKey",
    "deriveBits",
    "wrapKey",
    "unwrapKey",
];

impl Usages {
    pub const ENCRYPT: Self = Self(1);
    pub const DECRYPT: Self = Self(1 << 1);
    pub const SIGN: Self = Self(1 << 2);
    pub const VERIFY: Self = Self(1 << 3);
    pub const DERIVE_KEY: Self = Self(1 << 4);
    pub const DERIVE_BITS: Self = Self(1 << 5);
    pub const WRAP_KEY: Self = Self(1 << 6);
    pub const UNWRAP_KEY: Self = Self(1 << 7);
    pub const NONE: Self = Self(0);

    /// The union of two sets.
    pub const fn or(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The usages in both sets.
    pub fn and(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// Whether every usage in `other` is in `self`.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Parses one `KeyUsage` string.
    pub fn parse(name: &str) -> Option<Self> {
        USAGE_NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| Self(1 << i))
    }

    /// The names of the usages in the set, in the spec's order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        USAGE_NAMES
            .into_iter()
            .enumerate()
            .filter(move |(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, n)| n)
    }

    /// A `SyntaxError` unless every usage is in `allowed`.
    pub fn check(self, allowed: Self) -> std::result::Result<(), WebApiError> {
        if allowed.contains(self) {
            Ok(())
        } else {
            let bad: Vec<_> = Self(self.0 & !allowed.0).names().collect();
            Err(WebApiError::dom(
                "SyntaxError",
                format!("Unsupported key usage for this key: {}.", bad.join(", ")),
            ))
        }
    }
}

/// The key's `[[algorithm]]`, shown as `key.algorithm`.
#[derive(Clone, Debug)]
pub(crate) enum KeyAlgorithm {
    Aes {
        name: AlgName,
        length: u32,
    },
    Hmac {
        hash: Hash,
        length: u32,
    },
    Rsa {
        name: AlgName,
        modulus_length: u32,
        public_exponent: Vec<u8>,
        hash: Hash,
    },
    Ec {
        name: AlgName,
        curve: Curve,
    },
    /// Ed25519 and NODE-ED25519.
    Ed {
        name: AlgName,
    },
    /// PBKDF2 and HKDF.
    Kdf {
        name: AlgName,
    },
}

impl KeyAlgorithm {
    /// The algorithm name operations compare against.
    pub fn name(&self) -> AlgName {
        match self {
            Self::Aes { name, .. }
            | Self::Rsa { name, .. }
            | Self::Ec { name, .. }
            | Self::Ed { name }
            | Self::Kdf { name } => *name,
            Self::Hmac { .. } => AlgName::Hmac,
        }
    }

    /// The `KeyAlgorithm` dictionary as a JS object.
    fn to_js<'js>(&self, ctx: &Ctx<'js>) -> Result<Object<'js>> {
        let obj = Object::new(ctx.clone())?;
        obj.set("name", self.name().as_str())?;
        let hash_obj = |hash: Hash| -> Result<Object<'js>> {
            let h = Object::new(ctx.clone())?;
            h.set("name", hash.name())?;
            Ok(h)
        };
        match self {
            Self::Aes { length, .. } => obj.set("length", *length)?,
            Self::Hmac { hash, length } => {
                obj.set("hash", hash_obj(*hash)?)?;
                obj.set("length", *length)?;
            }
            Self::Rsa {
                modulus_length,
                public_exponent,
                hash,
                ..
            } => {
                obj.set("modulusLength", *modulus_length)?;
                obj.set(
                    "publicExponent",
                    crate::buffer::new_uint8_array(ctx, public_exponent)?,
                )?;
                obj.set("hash", hash_obj(*hash)?)?;
            }
            Self::Ec { curve, .. } => obj.set("namedCurve", curve.name())?,
            Self::Ed { name } if *name == AlgName::NodeEd25519 => {
                obj.set("namedCurve", "NODE-ED25519")?
            }
            Self::Ed { .. } | Self::Kdf { .. } => {}
        }
        Ok(obj)
    }
}

/// Key material.
pub(crate) enum Material {
    /// HMAC, AES, PBKDF2 and HKDF keys.
    Secret(Zeroizing<Vec<u8>>),
    RsaPublic(rsa::RsaPublicKey),
    RsaPrivate(Box<rsa::RsaPrivateKey>),
    EcPublic(EcPublic),
    EcPrivate(EcPrivate),
    EdPublic(ed25519_dalek::VerifyingKey),
    EdPrivate(Box<ed25519_dalek::SigningKey>),
}

/// The key type, as `key.type` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyType {
    Secret,
    Public,
    Private,
}

impl KeyType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Secret => "secret",
            Self::Public => "public",
            Self::Private => "private",
        }
    }
}

/// Everything a `CryptoKey` holds, shared (immutably) between the JS object
/// and operations in progress.
pub(crate) struct KeyInner {
    pub algorithm: KeyAlgorithm,
    pub extractable: bool,
    pub usages: Usages,
    pub material: Material,
}

impl KeyInner {
    /// `secret`, `public` or `private`, from the material.
    pub fn key_type(&self) -> KeyType {
        match self.material {
            Material::Secret(_) => KeyType::Secret,
            Material::RsaPublic(_) | Material::EcPublic(_) | Material::EdPublic(_) => {
                KeyType::Public
            }
            Material::RsaPrivate(_) | Material::EcPrivate(_) | Material::EdPrivate(_) => {
                KeyType::Private
            }
        }
    }

    /// The secret bytes of a secret key (empty for other kinds, which the
    /// algorithm checks before this is reached never pass).
    pub fn secret(&self) -> &[u8] {
        match &self.material {
            Material::Secret(s) => s,
            _ => &[],
        }
    }
}

/// The JS `CryptoKey` class.
///
/// Spec: <https://w3c.github.io/webcrypto/#cryptokey-interface>
#[derive(Trace, JsLifetime)]
#[rquickjs::class]
pub struct CryptoKey<'js> {
    #[qjs(skip_trace)]
    pub(crate) inner: Rc<KeyInner>,
    /// `[[algorithm_cached]]`: the same object on every read.
    algorithm: Object<'js>,
    /// `[[usages_cached]]`.
    usages: Object<'js>,
}

#[rquickjs::methods(rename_all = "camelCase")]
impl<'js> CryptoKey<'js> {
    /// `CryptoKey` has no public constructor.
    #[qjs(constructor)]
    pub fn constructor(ctx: Ctx<'js>) -> Result<Self> {
        Err(WebApiError::type_error("Illegal constructor")).or_throw(&ctx)
    }

    /// `"secret"`, `"public"` or `"private"`.
    #[qjs(get, rename = "type", enumerable, configurable)]
    pub fn key_type(&self) -> &'static str {
        self.inner.key_type().as_str()
    }

    /// Whether `exportKey` and `wrapKey` may reveal the key.
    #[qjs(get, enumerable, configurable)]
    pub fn extractable(&self) -> bool {
        self.inner.extractable
    }

    /// The key's algorithm dictionary (the same object every time).
    #[qjs(get, enumerable, configurable)]
    pub fn algorithm(&self) -> Object<'js> {
        self.algorithm.clone()
    }

    /// The key's usages (the same array every time).
    #[qjs(get, enumerable, configurable)]
    pub fn usages(&self) -> Object<'js> {
        self.usages.clone()
    }

    /// `Symbol.toStringTag`, as WebIDL gives every interface prototype.
    #[qjs(prop, rename = PredefinedAtom::SymbolToStringTag, configurable)]
    pub fn to_string_tag() -> &'static str {
        "CryptoKey"
    }
}

/// Wraps key data in a new `CryptoKey` object.
pub(crate) fn new_key<'js>(ctx: &Ctx<'js>, inner: KeyInner) -> Result<Value<'js>> {
    let algorithm = inner.algorithm.to_js(ctx)?;
    let usages = Array::new(ctx.clone())?;
    for (i, name) in inner.usages.names().enumerate() {
        usages.set(i, name)?;
    }
    let key = CryptoKey {
        inner: Rc::new(inner),
        algorithm,
        usages: usages.into_object(),
    };
    Ok(Class::instance(ctx.clone(), key)?.into_value())
}

/// The key data of `value` if it is a `CryptoKey`.
pub(crate) fn key_inner(value: &Value<'_>) -> Option<Rc<KeyInner>> {
    let class = Class::<CryptoKey>::from_value(value).ok()?;
    let borrow = class.try_borrow().ok()?;
    Some(borrow.inner.clone())
}
