//! RSA keys and RSASSA-PKCS1-v1_5, RSA-PSS and RSA-OAEP.
//!
//! Spec: <https://w3c.github.io/webcrypto/#rsassa-pkcs1>,
//! <https://w3c.github.io/webcrypto/#rsa-pss>,
//! <https://w3c.github.io/webcrypto/#rsa-oaep>

use rand_core::OsRng;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, Oaep, Pkcs1v15Sign, Pss, RsaPrivateKey, RsaPublicKey};
use sha1::Sha1;
use sha2::{Sha256, Sha384, Sha512};

use super::algorithm::{AlgName, Hash, NormAlg};
use super::jwk::{self, data_err, Jwk};
use super::key::{KeyAlgorithm, KeyInner, Material, Usages};
use super::{
    access_err, hash_of, not_supported, op_err, CResult, Exported, Format, Generated, KeyData,
};

/// Largest modulus accepted, in bits (the `rsa` crate's limit for public keys).
const MAX_MODULUS_BITS: u32 = 4096;

/// (usages a public key may have, usages a private key may have)
fn allowed(name: AlgName) -> (Usages, Usages) {
    match name {
        AlgName::RsaOaep => (
            Usages::ENCRYPT.or(Usages::WRAP_KEY),
            Usages::DECRYPT.or(Usages::UNWRAP_KEY),
        ),
        _ => (Usages::VERIFY, Usages::SIGN),
    }
}

/// The JOSE `alg` for this algorithm and hash.
fn jwk_alg(name: AlgName, hash: Hash) -> String {
    match (name, hash) {
        (AlgName::RsaOaep, Hash::Sha1) => "RSA-OAEP".to_owned(),
        (AlgName::RsaOaep, h) => format!("RSA-OAEP-{}", h.jose_suffix()),
        (AlgName::RsaPss, h) => format!("PS{}", h.jose_suffix()),
        (_, h) => format!("RS{}", h.jose_suffix()),
    }
}

fn key_algorithm(name: AlgName, hash: Hash, public: &RsaPublicKey) -> KeyAlgorithm {
    KeyAlgorithm::Rsa {
        name,
        modulus_length: public.n().bits() as u32,
        public_exponent: public.e().to_bytes_be(),
        hash,
    }
}

/// Spec: generate key of the RSA algorithms.
pub(crate) fn generate(alg: &NormAlg, extractable: bool, usages: Usages) -> CResult<Generated> {
    let (pub_usages, priv_usages) = allowed(alg.name);
    usages.check(pub_usages.or(priv_usages))?;
    let hash = hash_of(alg)?;
    let bits = alg.p.modulus_length;
    if !(256..=MAX_MODULUS_BITS).contains(&bits) || !bits.is_multiple_of(8) {
        return Err(op_err(format!(
            "The modulus length must be a multiple of 8 from 256 to {MAX_MODULUS_BITS} bits."
        )));
    }
    let exponent = alg.p.public_exponent.iter().try_fold(0u64, |acc, b| {
        acc.checked_mul(256).map(|v| v + u64::from(*b))
    });
    let exponent = match exponent {
        Some(e @ (3 | 65537)) => e,
        _ => {
            return Err(op_err(
                "The public exponent must be 3 or 65537 ([1, 0, 1]).",
            ))
        }
    };
    let private = RsaPrivateKey::new_with_exp(&mut OsRng, bits as usize, &BigUint::from(exponent))
        .map_err(|e| op_err(format!("RSA key generation failed: {e}.")))?;
    let public = private.to_public_key();
    let algorithm = key_algorithm(alg.name, hash, &public);
    Ok(Generated::Pair {
        public: Box::new(KeyInner {
            algorithm: algorithm.clone(),
            extractable: true,
            usages: usages.and(pub_usages),
            material: Material::RsaPublic(public),
        }),
        private: Box::new(KeyInner {
            algorithm,
            extractable,
            usages: usages.and(priv_usages),
            material: Material::RsaPrivate(Box::new(private)),
        }),
    })
}

fn big(name: &str, v: &Option<String>) -> CResult<BigUint> {
    Ok(BigUint::from_bytes_be(&jwk::member(name, v)?))
}

fn checked_public(n: BigUint, e: BigUint) -> CResult<RsaPublicKey> {
    RsaPublicKey::new(n, e).map_err(|e| data_err(format!("Invalid RSA public key: {e}.")))
}

/// Spec: import key of the RSA algorithms.
pub(crate) fn import(
    format: Format,
    data: KeyData,
    alg: &NormAlg,
    extractable: bool,
    usages: Usages,
) -> CResult<(KeyAlgorithm, Material)> {
    let (pub_usages, priv_usages) = allowed(alg.name);
    let hash = hash_of(alg)?;
    let material = match (format, data) {
        (Format::Spki, KeyData::Bytes(der)) => {
            usages.check(pub_usages)?;
            let key = RsaPublicKey::from_public_key_der(&der)
                .map_err(|e| data_err(format!("Invalid RSA SubjectPublicKeyInfo: {e}.")))?;
            Material::RsaPublic(key)
        }
        (Format::Pkcs8, KeyData::Bytes(der)) => {
            usages.check(priv_usages)?;
            let key = RsaPrivateKey::from_pkcs8_der(&der)
                .map_err(|e| data_err(format!("Invalid RSA PKCS #8 private key: {e}.")))?;
            Material::RsaPrivate(Box::new(key))
        }
        (Format::Jwk, KeyData::Jwk(jwk)) => {
            let private = jwk.d.is_some();
            usages.check(if private { priv_usages } else { pub_usages })?;
            let use_ = if alg.name == AlgName::RsaOaep {
                "enc"
            } else {
                "sig"
            };
            jwk.check("RSA", use_, usages, extractable)?;
            jwk.check_alg(&[&jwk_alg(alg.name, hash)])?;
            if jwk.oth.is_some() {
                return Err(not_supported(
                    "RSA keys with more than two primes ('oth') are not supported.",
                ));
            }
            let n = big("n", &jwk.n)?;
            let e = big("e", &jwk.e)?;
            if private {
                let d = big("d", &jwk.d)?;
                let crt = [&jwk.p, &jwk.q, &jwk.dp, &jwk.dq, &jwk.qi];
                let primes = if crt.iter().all(|m| m.is_none()) {
                    Vec::new()
                } else {
                    for (name, m) in ["p", "q", "dp", "dq", "qi"].iter().zip(crt) {
                        if m.is_none() {
                            return Err(data_err(format!(
                                "The RSA JWK has some CRT members but not '{name}'."
                            )));
                        }
                    }
                    vec![big("p", &jwk.p)?, big("q", &jwk.q)?]
                };
                checked_public(n.clone(), e.clone())?;
                let key = RsaPrivateKey::from_components(n, e, d, primes)
                    .map_err(|e| data_err(format!("Invalid RSA private key: {e}.")))?;
                Material::RsaPrivate(Box::new(key))
            } else {
                Material::RsaPublic(checked_public(n, e)?)
            }
        }
        _ => {
            return Err(not_supported(
                "RSA keys can be imported as spki, pkcs8 or jwk only.",
            ))
        }
    };
    let algorithm = match &material {
        Material::RsaPublic(k) => key_algorithm(alg.name, hash, k),
        Material::RsaPrivate(k) => key_algorithm(alg.name, hash, &k.to_public_key()),
        _ => return Err(op_err("Not an RSA key.")),
    };
    if let KeyAlgorithm::Rsa { modulus_length, .. } = &algorithm {
        if *modulus_length > MAX_MODULUS_BITS {
            return Err(data_err(format!(
                "RSA keys over {MAX_MODULUS_BITS} bits are not supported."
            )));
        }
    }
    Ok((algorithm, material))
}

/// Spec: export key of the RSA algorithms.
pub(crate) fn export(format: Format, key: &KeyInner) -> CResult<Exported> {
    let KeyAlgorithm::Rsa { name, hash, .. } = key.algorithm else {
        return Err(op_err("Not an RSA key."));
    };
    let encode_err = |e: rsa::pkcs8::Error| op_err(format!("Could not encode the key: {e}."));
    let spki_err = |e: rsa::pkcs8::spki::Error| op_err(format!("Could not encode the key: {e}."));
    match (format, &key.material) {
        (Format::Spki, Material::RsaPublic(k)) => Ok(Exported::Bytes(
            k.to_public_key_der().map_err(spki_err)?.into_vec(),
        )),
        (Format::Pkcs8, Material::RsaPrivate(k)) => Ok(Exported::Bytes(
            k.to_pkcs8_der().map_err(encode_err)?.as_bytes().to_vec(),
        )),
        (Format::Spki, _) => Err(access_err("Only a public key can be exported as spki.")),
        (Format::Pkcs8, _) => Err(access_err("Only a private key can be exported as pkcs8.")),
        (Format::Jwk, material) => {
            let mut jwk = Jwk {
                alg: Some(jwk_alg(name, hash)),
                ..Jwk::base("RSA", key)
            };
            let b = |v: &BigUint| jwk::b64(&v.to_bytes_be());
            match material {
                Material::RsaPublic(k) => {
                    jwk.n = Some(b(k.n()));
                    jwk.e = Some(b(k.e()));
                }
                Material::RsaPrivate(k) => {
                    jwk.n = Some(b(k.n()));
                    jwk.e = Some(b(k.e()));
                    jwk.d = Some(b(k.d()));
                    if let ([p, q], Some(dp), Some(dq), Some(qi)) =
                        (k.primes(), k.dp(), k.dq(), k.crt_coefficient())
                    {
                        jwk.p = Some(b(p));
                        jwk.q = Some(b(q));
                        jwk.dp = Some(b(dp));
                        jwk.dq = Some(b(dq));
                        jwk.qi = Some(b(&qi));
                    }
                }
                _ => return Err(op_err("Not an RSA key.")),
            }
            Ok(Exported::Jwk(Box::new(jwk)))
        }
        (Format::Raw, _) => Err(not_supported(
            "RSA keys can be exported as spki, pkcs8 or jwk only.",
        )),
    }
}

fn pkcs1(hash: Hash) -> Pkcs1v15Sign {
    match hash {
        Hash::Sha1 => Pkcs1v15Sign::new::<Sha1>(),
        Hash::Sha256 => Pkcs1v15Sign::new::<Sha256>(),
        Hash::Sha384 => Pkcs1v15Sign::new::<Sha384>(),
        Hash::Sha512 => Pkcs1v15Sign::new::<Sha512>(),
    }
}

fn pss(hash: Hash, salt: usize) -> Pss {
    match hash {
        Hash::Sha1 => Pss::new_with_salt::<Sha1>(salt),
        Hash::Sha256 => Pss::new_with_salt::<Sha256>(salt),
        Hash::Sha384 => Pss::new_with_salt::<Sha384>(salt),
        Hash::Sha512 => Pss::new_with_salt::<Sha512>(salt),
    }
}

fn oaep(hash: Hash, label: Option<&[u8]>) -> CResult<Oaep> {
    let label = match label {
        None | Some([]) => None,
        Some(l) => Some(
            std::str::from_utf8(l)
                .map_err(|_| not_supported("RSA-OAEP labels must be valid UTF-8 text here."))?,
        ),
    };
    Ok(match (hash, label) {
        (Hash::Sha1, None) => Oaep::new::<Sha1>(),
        (Hash::Sha256, None) => Oaep::new::<Sha256>(),
        (Hash::Sha384, None) => Oaep::new::<Sha384>(),
        (Hash::Sha512, None) => Oaep::new::<Sha512>(),
        (Hash::Sha1, Some(l)) => Oaep::new_with_label::<Sha1, _>(l),
        (Hash::Sha256, Some(l)) => Oaep::new_with_label::<Sha256, _>(l),
        (Hash::Sha384, Some(l)) => Oaep::new_with_label::<Sha384, _>(l),
        (Hash::Sha512, Some(l)) => Oaep::new_with_label::<Sha512, _>(l),
    })
}

fn key_hash(key: &KeyInner) -> CResult<Hash> {
    match key.algorithm {
        KeyAlgorithm::Rsa { hash, .. } => Ok(hash),
        _ => Err(op_err("Not an RSA key.")),
    }
}

/// RSASSA-PKCS1-v1_5 or RSA-PSS signature of `data`.
pub(crate) fn sign(alg: &NormAlg, key: &KeyInner, data: &[u8]) -> CResult<Vec<u8>> {
    let Material::RsaPrivate(k) = &key.material else {
        return Err(access_err("Signing needs a private key."));
    };
    let hash = key_hash(key)?;
    let digest = hash.digest(data);
    // EMSA-PSS-ENCODE step 3 (<https://www.rfc-editor.org/rfc/rfc8017#section-9.1.1>):
    // the salt must fit in the emLen = ceil((modBits - 1) / 8) bytes of the
    // encoded message. Checked here because the rsa crate first allocates
    // and fills a salt of the requested length (4 GiB, outside the
    // isolate's heap limit, for a saltLength of 2^32 - 1).
    let em_len = k.n().bits().saturating_sub(1).div_ceil(8);
    let needed = (alg.p.salt_length as usize).saturating_add(digest.len() + 2);
    if alg.name == AlgName::RsaPss && em_len < needed {
        return Err(op_err(format!(
            "The salt length {} is too long for this key and hash.",
            alg.p.salt_length
        )));
    }
    let sig = if alg.name == AlgName::RsaPss {
        k.sign_with_rng(&mut OsRng, pss(hash, alg.p.salt_length as usize), &digest)
    } else {
        k.sign(pkcs1(hash), &digest)
    };
    sig.map_err(|e| op_err(format!("RSA signing failed: {e}.")))
}

/// Whether `signature` is a valid RSASSA-PKCS1-v1_5 or RSA-PSS signature.
pub(crate) fn verify(
    alg: &NormAlg,
    key: &KeyInner,
    signature: &[u8],
    data: &[u8],
) -> CResult<bool> {
    let Material::RsaPublic(k) = &key.material else {
        return Err(access_err("Verifying needs a public key."));
    };
    let hash = key_hash(key)?;
    let digest = hash.digest(data);
    let ok = if alg.name == AlgName::RsaPss {
        k.verify(pss(hash, alg.p.salt_length as usize), &digest, signature)
    } else {
        k.verify(pkcs1(hash), &digest, signature)
    };
    Ok(ok.is_ok())
}

/// RSA-OAEP encryption (`encrypt` true) or decryption.
pub(crate) fn crypt(alg: &NormAlg, key: &KeyInner, data: &[u8], encrypt: bool) -> CResult<Vec<u8>> {
    let hash = key_hash(key)?;
    let padding = oaep(hash, alg.p.label.as_deref())?;
    match (&key.material, encrypt) {
        (Material::RsaPublic(k), true) => k
            .encrypt(&mut OsRng, padding, data)
            .map_err(|e| op_err(format!("RSA-OAEP encryption failed: {e}."))),
        (Material::RsaPrivate(k), false) => k
            .decrypt(padding, data)
            .map_err(|_| op_err("RSA-OAEP decryption failed.")),
        (_, true) => Err(access_err("Encrypting needs a public key.")),
        (_, false) => Err(access_err("Decrypting needs a private key.")),
    }
}
