//! HMAC keys, signatures and verification.
//!
//! Spec: <https://w3c.github.io/webcrypto/#hmac>

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha384, Sha512};
use zeroize::Zeroizing;

use super::algorithm::{Hash, NormAlg};
use super::jwk::{self, data_err, Jwk};
use super::key::{KeyAlgorithm, KeyInner, Material, Usages};
use super::{
    hash_of, not_supported, op_err, random_bytes, CResult, Exported, Format, Generated, KeyData,
};
use crate::error::WebApiError;

const USAGES: Usages = Usages::SIGN.or(Usages::VERIFY);

/// Longest HMAC key served, in bits (8 KiB). The spec sets no bound, but
/// key material lives in host memory outside the isolate's heap limit, so a
/// `length` of 2^31 would otherwise allocate 256 MiB per call. Keys longer
/// than the hash's block size (at most 1024 bits, SHA-512) are hashed down
/// before use (RFC 2104 section 2), so longer keys add no strength; the
/// bound leaves 64 times that.
pub(crate) const MAX_KEY_BITS: u32 = 65_536;

fn jwk_alg(hash: Hash) -> String {
    format!("HS{}", hash.jose_suffix())
}

/// Spec: <https://w3c.github.io/webcrypto/#hmac-operations> (generate key)
pub(crate) fn generate(alg: &NormAlg, extractable: bool, usages: Usages) -> CResult<Generated> {
    usages.check(USAGES)?;
    let hash = hash_of(alg)?;
    let length = match alg.p.length {
        None => hash.block_bits(),
        Some(0) => return Err(op_err("The HMAC key length must not be zero.")),
        // The spec's "if the key generation step fails, throw an
        // OperationError" is the nearest it has to an unsupported length.
        Some(n) if n > MAX_KEY_BITS => return Err(too_long(n)),
        Some(n) => n,
    };
    let mut bytes = random_bytes(length.div_ceil(8) as usize)?;
    mask_tail(&mut bytes, length);
    Ok(Generated::Secret(Box::new(KeyInner {
        algorithm: KeyAlgorithm::Hmac { hash, length },
        extractable,
        usages,
        material: Material::Secret(Zeroizing::new(bytes)),
    })))
}

fn too_long(bits: u32) -> WebApiError {
    op_err(format!(
        "HMAC keys longer than {MAX_KEY_BITS} bits are not supported (requested {bits})."
    ))
}

/// Clears the bits of the last byte beyond `bits`.
fn mask_tail(bytes: &mut [u8], bits: u32) {
    let rem = bits % 8;
    if rem != 0 {
        if let Some(last) = bytes.last_mut() {
            *last &= 0xffu8 << (8 - rem);
        }
    }
}

/// Spec: <https://w3c.github.io/webcrypto/#hmac-operations> (import key)
pub(crate) fn import(
    format: Format,
    data: KeyData,
    alg: &NormAlg,
    extractable: bool,
    usages: Usages,
) -> CResult<(KeyAlgorithm, Material)> {
    usages.check(USAGES)?;
    let hash = hash_of(alg)?;
    let bytes = match (format, data) {
        (Format::Raw, KeyData::Bytes(b)) => b,
        (Format::Jwk, KeyData::Jwk(jwk)) => {
            jwk.check("oct", "sig", usages, extractable)?;
            jwk.check_alg(&[&jwk_alg(hash)])?;
            jwk::member("k", &jwk.k)?
        }
        _ => {
            return Err(not_supported(
                "HMAC keys can be imported as raw or jwk only.",
            ))
        }
    };
    let bits = bytes.len() as u64 * 8;
    if bits == 0 {
        return Err(data_err("The HMAC key is empty."));
    }
    // Each import copies the data into host memory, outside the heap limit.
    if bits > u64::from(MAX_KEY_BITS) {
        return Err(data_err(format!(
            "HMAC keys longer than {MAX_KEY_BITS} bits are not supported (the key data has {bits})."
        )));
    }
    let length = match alg.p.length {
        Some(l) if u64::from(l) > bits || u64::from(l) + 8 <= bits => {
            return Err(data_err(format!(
                "The HMAC key length {l} does not match the key data ({bits} bits)."
            )))
        }
        Some(l) => l,
        // Fits: `bits` is at most MAX_KEY_BITS.
        None => bits as u32,
    };
    Ok((
        KeyAlgorithm::Hmac { hash, length },
        Material::Secret(Zeroizing::new(bytes)),
    ))
}

/// Spec: <https://w3c.github.io/webcrypto/#hmac-operations> (export key)
pub(crate) fn export(format: Format, key: &KeyInner) -> CResult<Exported> {
    let KeyAlgorithm::Hmac { hash, .. } = key.algorithm else {
        return Err(op_err("Not an HMAC key."));
    };
    match format {
        Format::Raw => Ok(Exported::Bytes(key.secret().to_vec())),
        Format::Jwk => Ok(Exported::Jwk(Box::new(Jwk {
            k: Some(jwk::b64(key.secret())),
            alg: Some(jwk_alg(hash)),
            ..Jwk::base("oct", key)
        }))),
        _ => Err(not_supported(
            "HMAC keys can be exported as raw or jwk only.",
        )),
    }
}

fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> CResult<M> {
    let mut m = <M as Mac>::new_from_slice(key).map_err(|_| op_err("Bad HMAC key."))?;
    m.update(data);
    Ok(m)
}

/// The HMAC of `data` under `key`.
pub(crate) fn sign(key: &KeyInner, data: &[u8]) -> CResult<Vec<u8>> {
    let KeyAlgorithm::Hmac { hash, .. } = key.algorithm else {
        return Err(op_err("Not an HMAC key."));
    };
    let k = key.secret();
    Ok(match hash {
        Hash::Sha1 => mac::<Hmac<Sha1>>(k, data)?.finalize().into_bytes().to_vec(),
        Hash::Sha256 => mac::<Hmac<Sha256>>(k, data)?
            .finalize()
            .into_bytes()
            .to_vec(),
        Hash::Sha384 => mac::<Hmac<Sha384>>(k, data)?
            .finalize()
            .into_bytes()
            .to_vec(),
        Hash::Sha512 => mac::<Hmac<Sha512>>(k, data)?
            .finalize()
            .into_bytes()
            .to_vec(),
    })
}

/// Whether `signature` is the HMAC of `data`, compared in constant time.
pub(crate) fn verify(key: &KeyInner, signature: &[u8], data: &[u8]) -> CResult<bool> {
    let KeyAlgorithm::Hmac { hash, .. } = key.algorithm else {
        return Err(op_err("Not an HMAC key."));
    };
    let k = key.secret();
    Ok(match hash {
        Hash::Sha1 => mac::<Hmac<Sha1>>(k, data)?.verify_slice(signature),
        Hash::Sha256 => mac::<Hmac<Sha256>>(k, data)?.verify_slice(signature),
        Hash::Sha384 => mac::<Hmac<Sha384>>(k, data)?.verify_slice(signature),
        Hash::Sha512 => mac::<Hmac<Sha512>>(k, data)?.verify_slice(signature),
    }
    .is_ok())
}

/// The key length `deriveKey` derives for an HMAC key.
pub(crate) fn key_length(alg: &NormAlg) -> CResult<u32> {
    match alg.p.length {
        Some(0) => Err(WebApiError::type_error(
            "The HMAC key length must not be zero.",
        )),
        Some(n) if n > MAX_KEY_BITS => Err(too_long(n)),
        Some(n) => Ok(n),
        None => Ok(hash_of(alg)?.block_bits()),
    }
}
