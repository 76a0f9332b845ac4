//! Ed25519 keys and signatures, under the standard name `Ed25519` and
//! Workers' older `NODE-ED25519` (with `namedCurve: "NODE-ED25519"`).
//!
//! Spec: <https://wicg.github.io/webcrypto-secure-curves/#ed25519>,
//! <https://developers.cloudflare.com/workers/runtime-apis/web-crypto/>

use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand_core::OsRng;

use super::algorithm::NormAlg;
use super::jwk::{self, data_err, Jwk};
use super::key::{KeyAlgorithm, KeyInner, Material, Usages};
use super::{access_err, not_supported, op_err, CResult, Exported, Format, Generated, KeyData};

fn public_from(bytes: &[u8]) -> CResult<VerifyingKey> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| data_err("An Ed25519 public key is 32 bytes."))?;
    VerifyingKey::from_bytes(&arr).map_err(|_| data_err("Invalid Ed25519 public key."))
}

/// Spec: generate key of Ed25519.
pub(crate) fn generate(alg: &NormAlg, extractable: bool, usages: Usages) -> CResult<Generated> {
    usages.check(Usages::SIGN.or(Usages::VERIFY))?;
    let private = SigningKey::generate(&mut OsRng);
    let algorithm = KeyAlgorithm::Ed { name: alg.name };
    Ok(Generated::Pair {
        public: Box::new(KeyInner {
            algorithm: algorithm.clone(),
            extractable: true,
            usages: usages.and(Usages::VERIFY),
            material: Material::EdPublic(private.verifying_key()),
        }),
        private: Box::new(KeyInner {
            algorithm,
            extractable,
            usages: usages.and(Usages::SIGN),
            material: Material::EdPrivate(Box::new(private)),
        }),
    })
}

/// Spec: import key of Ed25519.
pub(crate) fn import(
    format: Format,
    data: KeyData,
    alg: &NormAlg,
    extractable: bool,
    usages: Usages,
) -> CResult<(KeyAlgorithm, Material)> {
    let material = match (format, data) {
        (Format::Raw, KeyData::Bytes(b)) => {
            usages.check(Usages::VERIFY)?;
            Material::EdPublic(public_from(&b)?)
        }
        (Format::Spki, KeyData::Bytes(der)) => {
            usages.check(Usages::VERIFY)?;
            let key = VerifyingKey::from_public_key_der(&der)
                .map_err(|e| data_err(format!("Invalid Ed25519 SubjectPublicKeyInfo: {e}.")))?;
            Material::EdPublic(key)
        }
        (Format::Pkcs8, KeyData::Bytes(der)) => {
            usages.check(Usages::SIGN)?;
            let key = SigningKey::from_pkcs8_der(&der)
                .map_err(|e| data_err(format!("Invalid Ed25519 PKCS #8 private key: {e}.")))?;
            Material::EdPrivate(Box::new(key))
        }
        (Format::Jwk, KeyData::Jwk(jwk)) => {
            let private = jwk.d.is_some();
            usages.check(if private {
                Usages::SIGN
            } else {
                Usages::VERIFY
            })?;
            jwk.check("OKP", "sig", usages, extractable)?;
            if jwk.crv.as_deref() != Some("Ed25519") {
                return Err(data_err("The JWK's 'crv' member is not \"Ed25519\"."));
            }
            jwk.check_alg(&["EdDSA", "Ed25519"])?;
            let public = public_from(&jwk::member("x", &jwk.x)?)?;
            if private {
                let d = jwk::member("d", &jwk.d)?;
                let arr: [u8; 32] = d
                    .as_slice()
                    .try_into()
                    .map_err(|_| data_err("An Ed25519 private key is 32 bytes."))?;
                let key = SigningKey::from_bytes(&arr);
                if key.verifying_key() != public {
                    return Err(data_err(
                        "The JWK's 'x' member does not belong to its private key.",
                    ));
                }
                Material::EdPrivate(Box::new(key))
            } else {
                Material::EdPublic(public)
            }
        }
        _ => return Err(op_err("Key data does not match the format.")),
    };
    Ok((KeyAlgorithm::Ed { name: alg.name }, material))
}

/// Spec: export key of Ed25519.
pub(crate) fn export(format: Format, key: &KeyInner) -> CResult<Exported> {
    let encode_err = |_| op_err("Could not encode the key.");
    match (format, &key.material) {
        (Format::Raw, Material::EdPublic(k)) => Ok(Exported::Bytes(k.to_bytes().to_vec())),
        (Format::Spki, Material::EdPublic(k)) => Ok(Exported::Bytes(
            k.to_public_key_der().map_err(encode_err)?.into_vec(),
        )),
        (Format::Pkcs8, Material::EdPrivate(k)) => Ok(Exported::Bytes(
            k.to_pkcs8_der()
                .map_err(|_| op_err("Could not encode the key."))?
                .as_bytes()
                .to_vec(),
        )),
        (Format::Raw | Format::Spki, _) => Err(access_err(
            "Only a public key can be exported as raw or spki.",
        )),
        (Format::Pkcs8, _) => Err(access_err("Only a private key can be exported as pkcs8.")),
        (Format::Jwk, material) => {
            let (x, d) = match material {
                Material::EdPublic(k) => (k.to_bytes(), None),
                Material::EdPrivate(k) => (k.verifying_key().to_bytes(), Some(k.to_bytes())),
                _ => return Err(not_supported("Not an Ed25519 key.")),
            };
            Ok(Exported::Jwk(Box::new(Jwk {
                crv: Some("Ed25519".to_owned()),
                x: Some(jwk::b64(&x)),
                d: d.map(|d| jwk::b64(&d)),
                ..Jwk::base("OKP", key)
            })))
        }
    }
}

/// The Ed25519 signature of `data`.
pub(crate) fn sign(key: &KeyInner, data: &[u8]) -> CResult<Vec<u8>> {
    let Material::EdPrivate(k) = &key.material else {
        return Err(access_err("Signing needs a private key."));
    };
    Ok(k.sign(data).to_bytes().to_vec())
}

/// Whether `signature` is a valid Ed25519 signature of `data` (strict
/// verification: non-canonical signatures and small-order keys fail).
pub(crate) fn verify(key: &KeyInner, signature: &[u8], data: &[u8]) -> CResult<bool> {
    let Material::EdPublic(k) = &key.material else {
        return Err(access_err("Verifying needs a public key."));
    };
    let Ok(sig) = Signature::from_slice(signature) else {
        return Ok(false);
    };
    Ok(k.verify_strict(data, &sig).is_ok())
}
