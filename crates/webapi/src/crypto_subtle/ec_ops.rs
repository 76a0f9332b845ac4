//! Elliptic-curve keys on P-256 and P-384: ECDSA signatures and ECDH
//! key agreement.
//!
//! Spec: <https://w3c.github.io/webcrypto/#ecdsa>,
//! <https://w3c.github.io/webcrypto/#ecdh>

use super::algorithm::{AlgName, Curve, Hash, NormAlg};
use super::jwk::{self, data_err, Jwk};
use super::key::{KeyAlgorithm, KeyInner, KeyType, Material, Usages};
use super::{access_err, op_err, CResult, Exported, Format, Generated, KeyData};

/// The same set of functions for each curve crate.
macro_rules! curve_module {
    ($m:ident, $c:ident) => {
        pub(crate) mod $m {
            use $c::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
            use $c::ecdsa::{Signature, SigningKey, VerifyingKey};
            use $c::elliptic_curve::sec1::ToEncodedPoint;
            use $c::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
            pub(crate) use $c::{PublicKey, SecretKey};
            use rand_core::OsRng;

            pub fn generate() -> SecretKey {
                SecretKey::random(&mut OsRng)
            }
            pub fn public_from_sec1(b: &[u8]) -> Option<PublicKey> {
                PublicKey::from_sec1_bytes(b).ok()
            }
            pub fn public_to_sec1(k: &PublicKey) -> Vec<u8> {
                k.to_encoded_point(false).as_bytes().to_vec()
            }
            pub fn public_from_spki(der: &[u8]) -> Option<PublicKey> {
                PublicKey::from_public_key_der(der).ok()
            }
            pub fn public_to_spki(k: &PublicKey) -> Option<Vec<u8>> {
                k.to_public_key_der().ok().map(|d| d.into_vec())
            }
            pub fn secret_from_pkcs8(der: &[u8]) -> Option<SecretKey> {
                SecretKey::from_pkcs8_der(der).ok()
            }
            pub fn secret_to_pkcs8(k: &SecretKey) -> Option<Vec<u8>> {
                k.to_pkcs8_der().ok().map(|d| d.as_bytes().to_vec())
            }
            pub fn secret_from_bytes(d: &[u8]) -> Option<SecretKey> {
                SecretKey::from_slice(d).ok()
            }
            pub fn secret_to_bytes(k: &SecretKey) -> Vec<u8> {
                k.to_bytes().to_vec()
            }
            pub fn sign(k: &SecretKey, prehash: &[u8]) -> Option<Vec<u8>> {
                let sig: Signature = SigningKey::from(k).sign_prehash(prehash).ok()?;
                Some(sig.to_bytes().to_vec())
            }
            pub fn verify(k: &PublicKey, prehash: &[u8], sig: &[u8]) -> bool {
                let Ok(sig) = Signature::from_slice(sig) else {
                    return false;
                };
                VerifyingKey::from(k).verify_prehash(prehash, &sig).is_ok()
            }
            pub fn ecdh(k: &SecretKey, peer: &PublicKey) -> Vec<u8> {
                $c::ecdh::diffie_hellman(k.to_nonzero_scalar(), peer.as_affine())
                    .raw_secret_bytes()
                    .to_vec()
            }
        }
    };
}

curve_module!(p256_ops, p256);
curve_module!(p384_ops, p384);

/// A public key on one of the supported curves.
pub(crate) enum EcPublic {
    P256(p256_ops::PublicKey),
    P384(p384_ops::PublicKey),
}

/// A private key on one of the supported curves.
pub(crate) enum EcPrivate {
    P256(p256_ops::SecretKey),
    P384(p384_ops::SecretKey),
}

impl EcPublic {
    fn curve(&self) -> Curve {
        match self {
            Self::P256(_) => Curve::P256,
            Self::P384(_) => Curve::P384,
        }
    }

    fn from_sec1(curve: Curve, b: &[u8]) -> Option<Self> {
        match curve {
            Curve::P256 => p256_ops::public_from_sec1(b).map(Self::P256),
            Curve::P384 => p384_ops::public_from_sec1(b).map(Self::P384),
        }
    }

    fn to_sec1(&self) -> Vec<u8> {
        match self {
            Self::P256(k) => p256_ops::public_to_sec1(k),
            Self::P384(k) => p384_ops::public_to_sec1(k),
        }
    }

    fn from_spki(curve: Curve, der: &[u8]) -> Option<Self> {
        match curve {
            Curve::P256 => p256_ops::public_from_spki(der).map(Self::P256),
            Curve::P384 => p384_ops::public_from_spki(der).map(Self::P384),
        }
    }

    fn to_spki(&self) -> Option<Vec<u8>> {
        match self {
            Self::P256(k) => p256_ops::public_to_spki(k),
            Self::P384(k) => p384_ops::public_to_spki(k),
        }
    }

    fn verify(&self, prehash: &[u8], sig: &[u8]) -> bool {
        match self {
            Self::P256(k) => p256_ops::verify(k, prehash, sig),
            Self::P384(k) => p384_ops::verify(k, prehash, sig),
        }
    }
}

impl EcPrivate {
    fn curve(&self) -> Curve {
        match self {
            Self::P256(_) => Curve::P256,
            Self::P384(_) => Curve::P384,
        }
    }

    fn generate(curve: Curve) -> Self {
        match curve {
            Curve::P256 => Self::P256(p256_ops::generate()),
            Curve::P384 => Self::P384(p384_ops::generate()),
        }
    }

    fn public(&self) -> EcPublic {
        match self {
            Self::P256(k) => EcPublic::P256(k.public_key()),
            Self::P384(k) => EcPublic::P384(k.public_key()),
        }
    }

    fn from_pkcs8(curve: Curve, der: &[u8]) -> Option<Self> {
        match curve {
            Curve::P256 => p256_ops::secret_from_pkcs8(der).map(Self::P256),
            Curve::P384 => p384_ops::secret_from_pkcs8(der).map(Self::P384),
        }
    }

    fn to_pkcs8(&self) -> Option<Vec<u8>> {
        match self {
            Self::P256(k) => p256_ops::secret_to_pkcs8(k),
            Self::P384(k) => p384_ops::secret_to_pkcs8(k),
        }
    }

    fn from_bytes(curve: Curve, d: &[u8]) -> Option<Self> {
        match curve {
            Curve::P256 => p256_ops::secret_from_bytes(d).map(Self::P256),
            Curve::P384 => p384_ops::secret_from_bytes(d).map(Self::P384),
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::P256(k) => p256_ops::secret_to_bytes(k),
            Self::P384(k) => p384_ops::secret_to_bytes(k),
        }
    }

    fn sign(&self, prehash: &[u8]) -> Option<Vec<u8>> {
        match self {
            Self::P256(k) => p256_ops::sign(k, prehash),
            Self::P384(k) => p384_ops::sign(k, prehash),
        }
    }

    fn ecdh(&self, peer: &EcPublic) -> Option<Vec<u8>> {
        match (self, peer) {
            (Self::P256(k), EcPublic::P256(p)) => Some(p256_ops::ecdh(k, p)),
            (Self::P384(k), EcPublic::P384(p)) => Some(p384_ops::ecdh(k, p)),
            _ => None,
        }
    }
}

/// (usages a public key may have, usages a private key may have)
fn allowed(name: AlgName) -> (Usages, Usages) {
    match name {
        AlgName::Ecdh => (Usages::NONE, Usages::DERIVE_KEY.or(Usages::DERIVE_BITS)),
        _ => (Usages::VERIFY, Usages::SIGN),
    }
}

fn curve_of(alg: &NormAlg) -> CResult<Curve> {
    alg.p
        .curve
        .ok_or_else(|| op_err("The algorithm has no namedCurve."))
}

/// Spec: generate key of ECDSA and ECDH.
pub(crate) fn generate(alg: &NormAlg, extractable: bool, usages: Usages) -> CResult<Generated> {
    let (pub_usages, priv_usages) = allowed(alg.name);
    usages.check(pub_usages.or(priv_usages))?;
    let curve = curve_of(alg)?;
    let private = EcPrivate::generate(curve);
    let algorithm = KeyAlgorithm::Ec {
        name: alg.name,
        curve,
    };
    Ok(Generated::Pair {
        public: Box::new(KeyInner {
            algorithm: algorithm.clone(),
            extractable: true,
            usages: usages.and(pub_usages),
            material: Material::EcPublic(private.public()),
        }),
        private: Box::new(KeyInner {
            algorithm,
            extractable,
            usages: usages.and(priv_usages),
            material: Material::EcPrivate(private),
        }),
    })
}

fn coordinate(name: &str, v: &Option<String>, curve: Curve) -> CResult<Vec<u8>> {
    let b = jwk::member(name, v)?;
    if b.len() != curve.field_bytes() {
        return Err(data_err(format!(
            "The JWK's '{name}' member has the wrong length for {}.",
            curve.name()
        )));
    }
    Ok(b)
}

/// Spec: import key of ECDSA and ECDH.
pub(crate) fn import(
    format: Format,
    data: KeyData,
    alg: &NormAlg,
    extractable: bool,
    usages: Usages,
) -> CResult<(KeyAlgorithm, Material)> {
    let (pub_usages, priv_usages) = allowed(alg.name);
    let curve = curve_of(alg)?;
    let material = match (format, data) {
        (Format::Raw, KeyData::Bytes(b)) => {
            usages.check(pub_usages)?;
            let key = EcPublic::from_sec1(curve, &b).ok_or_else(|| {
                data_err(format!("The key data is not a {} point.", curve.name()))
            })?;
            Material::EcPublic(key)
        }
        (Format::Spki, KeyData::Bytes(der)) => {
            usages.check(pub_usages)?;
            let key = EcPublic::from_spki(curve, &der).ok_or_else(|| {
                data_err(format!(
                    "The key data is not a {} SubjectPublicKeyInfo.",
                    curve.name()
                ))
            })?;
            Material::EcPublic(key)
        }
        (Format::Pkcs8, KeyData::Bytes(der)) => {
            usages.check(priv_usages)?;
            let key = EcPrivate::from_pkcs8(curve, &der).ok_or_else(|| {
                data_err(format!(
                    "The key data is not a {} PKCS #8 private key.",
                    curve.name()
                ))
            })?;
            Material::EcPrivate(key)
        }
        (Format::Jwk, KeyData::Jwk(jwk)) => {
            let private = jwk.d.is_some();
            usages.check(if private { priv_usages } else { pub_usages })?;
            let use_ = if alg.name == AlgName::Ecdh {
                "enc"
            } else {
                "sig"
            };
            jwk.check("EC", use_, usages, extractable)?;
            if jwk.crv.as_deref() != Some(curve.name()) {
                return Err(data_err(format!(
                    "The JWK's 'crv' member is not \"{}\".",
                    curve.name()
                )));
            }
            if alg.name == AlgName::Ecdsa {
                let es = match curve {
                    Curve::P256 => "ES256",
                    Curve::P384 => "ES384",
                };
                jwk.check_alg(&[es])?;
            }
            let mut sec1 = vec![4u8];
            sec1.extend(coordinate("x", &jwk.x, curve)?);
            sec1.extend(coordinate("y", &jwk.y, curve)?);
            let public = EcPublic::from_sec1(curve, &sec1)
                .ok_or_else(|| data_err("The JWK's x and y are not a point on the curve."))?;
            if private {
                let d = coordinate("d", &jwk.d, curve)?;
                let key = EcPrivate::from_bytes(curve, &d)
                    .ok_or_else(|| data_err("The JWK's 'd' member is not a valid scalar."))?;
                if key.public().to_sec1() != public.to_sec1() {
                    return Err(data_err(
                        "The JWK's public point does not belong to its private key.",
                    ));
                }
                Material::EcPrivate(key)
            } else {
                Material::EcPublic(public)
            }
        }
        (Format::Raw, _) | (Format::Spki, _) | (Format::Pkcs8, _) | (Format::Jwk, _) => {
            return Err(op_err("Key data does not match the format."))
        }
    };
    Ok((
        KeyAlgorithm::Ec {
            name: alg.name,
            curve,
        },
        material,
    ))
}

/// Spec: export key of ECDSA and ECDH.
pub(crate) fn export(format: Format, key: &KeyInner) -> CResult<Exported> {
    let encode_err = || op_err("Could not encode the key.");
    match (format, &key.material) {
        (Format::Raw, Material::EcPublic(k)) => Ok(Exported::Bytes(k.to_sec1())),
        (Format::Spki, Material::EcPublic(k)) => {
            Ok(Exported::Bytes(k.to_spki().ok_or_else(encode_err)?))
        }
        (Format::Pkcs8, Material::EcPrivate(k)) => {
            Ok(Exported::Bytes(k.to_pkcs8().ok_or_else(encode_err)?))
        }
        (Format::Raw | Format::Spki, _) => Err(access_err(
            "Only a public key can be exported as raw or spki.",
        )),
        (Format::Pkcs8, _) => Err(access_err("Only a private key can be exported as pkcs8.")),
        (Format::Jwk, material) => {
            let (public, d, curve) = match material {
                Material::EcPublic(k) => (k.to_sec1(), None, k.curve()),
                Material::EcPrivate(k) => (k.public().to_sec1(), Some(k.to_bytes()), k.curve()),
                _ => return Err(op_err("Not an EC key.")),
            };
            let n = curve.field_bytes();
            let (x, y) = public
                .get(1..)
                .filter(|xy| xy.len() == 2 * n)
                .map(|xy| xy.split_at(n))
                .ok_or_else(encode_err)?;
            Ok(Exported::Jwk(Box::new(Jwk {
                crv: Some(curve.name().to_owned()),
                x: Some(jwk::b64(x)),
                y: Some(jwk::b64(y)),
                d: d.map(|d| jwk::b64(&d)),
                ..Jwk::base("EC", key)
            })))
        }
    }
}

/// The digest as the ECDSA integer input: a digest shorter than the curve's
/// field is its value unchanged (SEC 1, 4.1.3 step 5), which the `ecdsa`
/// crate only accepts from half the field size on, so pad it with zeros.
fn prehash(hash: Hash, curve: Curve, data: &[u8]) -> Vec<u8> {
    let digest = hash.digest(data);
    let n = curve.field_bytes();
    if digest.len() >= n {
        return digest;
    }
    let mut padded = vec![0u8; n - digest.len()];
    padded.extend_from_slice(&digest);
    padded
}

/// ECDSA signature (IEEE P1363 `r || s`) of `data` hashed with `hash`.
pub(crate) fn sign(hash: Hash, key: &KeyInner, data: &[u8]) -> CResult<Vec<u8>> {
    let Material::EcPrivate(k) = &key.material else {
        return Err(access_err("Signing needs a private key."));
    };
    k.sign(&prehash(hash, k.curve(), data))
        .ok_or_else(|| op_err("ECDSA signing failed."))
}

/// Whether `signature` is a valid ECDSA signature of `data`.
pub(crate) fn verify(hash: Hash, key: &KeyInner, signature: &[u8], data: &[u8]) -> CResult<bool> {
    let Material::EcPublic(k) = &key.material else {
        return Err(access_err("Verifying needs a public key."));
    };
    Ok(k.verify(&prehash(hash, k.curve(), data), signature))
}

/// ECDH: the shared secret's x coordinate, cut to `length` bits.
///
/// Spec: <https://w3c.github.io/webcrypto/#ecdh-operations> (derive bits)
pub(crate) fn derive_bits(alg: &NormAlg, key: &KeyInner, length: Option<u32>) -> CResult<Vec<u8>> {
    let Some(public) = &alg.p.public else {
        return Err(op_err("ECDH needs a public key."));
    };
    if public.key_type() != KeyType::Public {
        return Err(access_err("The 'public' member must be a public key."));
    }
    if public.algorithm.name() != AlgName::Ecdh {
        return Err(access_err("The 'public' member must be an ECDH key."));
    }
    let (Material::EcPrivate(private), Material::EcPublic(peer)) =
        (&key.material, &public.material)
    else {
        return Err(access_err("ECDH needs a private base key."));
    };
    if private.curve() != peer.curve() {
        return Err(access_err(
            "The public key is on a different curve than the base key.",
        ));
    }
    let secret = private
        .ecdh(peer)
        .ok_or_else(|| op_err("ECDH key agreement failed."))?;
    truncate_bits(secret, length)
}

/// The first `length` bits of `secret` (all of it for `None`).
pub(crate) fn truncate_bits(mut secret: Vec<u8>, length: Option<u32>) -> CResult<Vec<u8>> {
    let Some(length) = length else {
        return Ok(secret);
    };
    if u64::from(length) > secret.len() as u64 * 8 {
        return Err(op_err(format!(
            "Cannot derive {length} bits from a {}-bit shared secret.",
            secret.len() * 8
        )));
    }
    secret.truncate(length.div_ceil(8) as usize);
    let rem = length % 8;
    if rem != 0 {
        if let Some(last) = secret.last_mut() {
            *last &= 0xffu8 << (8 - rem);
        }
    }
    Ok(secret)
}
