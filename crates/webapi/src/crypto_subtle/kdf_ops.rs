//! PBKDF2 and HKDF: key import (raw secrets) and bit derivation.
//!
//! Spec: <https://w3c.github.io/webcrypto/#pbkdf2>,
//! <https://w3c.github.io/webcrypto/#hkdf>

use hkdf::Hkdf;
use sha1::Sha1;
use sha2::{Sha256, Sha384, Sha512};
use zeroize::Zeroizing;

use super::algorithm::{AlgName, Hash, NormAlg};
use super::key::{KeyAlgorithm, KeyInner, Material, Usages};
use super::{hash_of, not_supported, op_err, CResult, Format, KeyData};
use crate::error::WebApiError;

/// Workers refuses PBKDF2 iteration counts above this, which keeps one call
/// within a request's CPU budget.
pub(crate) const MAX_PBKDF2_ITERATIONS: u32 = 100_000;

/// Longest PBKDF2 output served, in bytes; with the iteration cap it bounds
/// the time one call can hold the isolate's thread.
pub(crate) const MAX_PBKDF2_BYTES: usize = 4096;

/// Spec: import key of PBKDF2 and HKDF (raw only, never extractable).
pub(crate) fn import(
    format: Format,
    data: KeyData,
    alg: &NormAlg,
    extractable: bool,
    usages: Usages,
) -> CResult<(KeyAlgorithm, Material)> {
    let KeyData::Bytes(bytes) = data else {
        return Err(not_supported(format!(
            "{} keys can be imported as raw only.",
            alg.name.as_str()
        )));
    };
    if format != Format::Raw {
        return Err(not_supported(format!(
            "{} keys can be imported as raw only.",
            alg.name.as_str()
        )));
    }
    usages.check(Usages::DERIVE_KEY.or(Usages::DERIVE_BITS))?;
    if extractable {
        return Err(WebApiError::dom(
            "SyntaxError",
            format!("{} keys cannot be extractable.", alg.name.as_str()),
        ));
    }
    Ok((
        KeyAlgorithm::Kdf { name: alg.name },
        Material::Secret(Zeroizing::new(bytes)),
    ))
}

fn byte_length(length: Option<u32>) -> CResult<usize> {
    match length {
        Some(n) if n.is_multiple_of(8) => Ok(n as usize / 8),
        Some(_) => Err(op_err("The length must be a multiple of 8 bits.")),
        None => Err(op_err("A length is required for this algorithm.")),
    }
}

/// PBKDF2 or HKDF derivation of `length` bits.
pub(crate) fn derive_bits(alg: &NormAlg, key: &KeyInner, length: Option<u32>) -> CResult<Vec<u8>> {
    let n = byte_length(length)?;
    let hash = hash_of(alg)?;
    let secret = key.secret();
    if alg.name == AlgName::Pbkdf2 {
        let iterations = alg.p.iterations;
        if iterations == 0 {
            return Err(op_err("PBKDF2 needs at least one iteration."));
        }
        if iterations > MAX_PBKDF2_ITERATIONS {
            return Err(not_supported(format!(
                "PBKDF2 iteration counts above {MAX_PBKDF2_ITERATIONS} are not supported (requested {iterations})."
            )));
        }
        if n > MAX_PBKDF2_BYTES {
            return Err(not_supported(format!(
                "PBKDF2 outputs over {} bits are not supported.",
                MAX_PBKDF2_BYTES * 8
            )));
        }
        let salt = &alg.p.salt;
        let mut out = vec![0u8; n];
        match hash {
            Hash::Sha1 => pbkdf2::pbkdf2_hmac::<Sha1>(secret, salt, iterations, &mut out),
            Hash::Sha256 => pbkdf2::pbkdf2_hmac::<Sha256>(secret, salt, iterations, &mut out),
            Hash::Sha384 => pbkdf2::pbkdf2_hmac::<Sha384>(secret, salt, iterations, &mut out),
            Hash::Sha512 => pbkdf2::pbkdf2_hmac::<Sha512>(secret, salt, iterations, &mut out),
        }
        return Ok(out);
    }
    // Capped so that a length past HKDF's limit (255 hash lengths) fails in
    // `expand` without first allocating what was asked for.
    let mut out = vec![0u8; n.min(255 * 64 + 1)];
    let (salt, info) = (&alg.p.salt[..], &alg.p.info[..]);
    let ok = match hash {
        Hash::Sha1 => Hkdf::<Sha1>::new(Some(salt), secret).expand(info, &mut out),
        Hash::Sha256 => Hkdf::<Sha256>::new(Some(salt), secret).expand(info, &mut out),
        Hash::Sha384 => Hkdf::<Sha384>::new(Some(salt), secret).expand(info, &mut out),
        Hash::Sha512 => Hkdf::<Sha512>::new(Some(salt), secret).expand(info, &mut out),
    };
    ok.map_err(|_| op_err("HKDF cannot derive that many bits with this hash."))?;
    Ok(out)
}
