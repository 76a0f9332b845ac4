//! AES keys and the AES-GCM, AES-CBC, AES-CTR and AES-KW modes.
//!
//! Spec: <https://w3c.github.io/webcrypto/#aes-ctr>,
//! <https://w3c.github.io/webcrypto/#aes-cbc>,
//! <https://w3c.github.io/webcrypto/#aes-gcm>,
//! <https://w3c.github.io/webcrypto/#aes-kw>

use aes::cipher::{
    block_padding::Pkcs7, BlockCipher, BlockDecrypt, BlockDecryptMut, BlockEncrypt,
    BlockEncryptMut, BlockSizeUser, KeyInit, KeyIvInit, StreamCipher,
};
use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::consts::{U12, U13, U14, U15, U16};
use aes_gcm::aead::{Aead, Payload};
use aes_gcm::AesGcm;
use zeroize::Zeroizing;

use super::algorithm::{AlgName, NormAlg};
use super::jwk::{self, data_err, Jwk};
use super::key::{KeyAlgorithm, KeyInner, Material, Usages};
use super::{not_supported, op_err, random_bytes, CResult, Exported, Format, Generated, KeyData};

fn allowed(name: AlgName) -> Usages {
    if name == AlgName::AesKw {
        Usages::WRAP_KEY.or(Usages::UNWRAP_KEY)
    } else {
        Usages::ENCRYPT
            .or(Usages::DECRYPT)
            .or(Usages::WRAP_KEY)
            .or(Usages::UNWRAP_KEY)
    }
}

/// `A128GCM`, `A256KW`, ...
fn jwk_alg(name: AlgName, bits: u32) -> String {
    let mode = match name {
        AlgName::AesGcm => "GCM",
        AlgName::AesCbc => "CBC",
        AlgName::AesCtr => "CTR",
        _ => "KW",
    };
    format!("A{bits}{mode}")
}

fn check_length(length: Option<u32>) -> CResult<u32> {
    match length {
        Some(n @ (128 | 192 | 256)) => Ok(n),
        _ => Err(op_err("AES key length must be 128, 192 or 256 bits.")),
    }
}

/// Spec: generate key of each AES algorithm.
pub(crate) fn generate(alg: &NormAlg, extractable: bool, usages: Usages) -> CResult<Generated> {
    usages.check(allowed(alg.name))?;
    let length = check_length(alg.p.length)?;
    let bytes = random_bytes(length as usize / 8)?;
    Ok(Generated::Secret(Box::new(KeyInner {
        algorithm: KeyAlgorithm::Aes {
            name: alg.name,
            length,
        },
        extractable,
        usages,
        material: Material::Secret(Zeroizing::new(bytes)),
    })))
}

/// The length `deriveKey` derives for an AES key.
pub(crate) fn key_length(alg: &NormAlg) -> CResult<u32> {
    check_length(alg.p.length)
}

/// Spec: import key of each AES algorithm.
pub(crate) fn import(
    format: Format,
    data: KeyData,
    alg: &NormAlg,
    extractable: bool,
    usages: Usages,
) -> CResult<(KeyAlgorithm, Material)> {
    usages.check(allowed(alg.name))?;
    let bytes = match (format, data) {
        (Format::Raw, KeyData::Bytes(b)) => b,
        (Format::Jwk, KeyData::Jwk(jwk)) => {
            jwk.check("oct", "enc", usages, extractable)?;
            let k = jwk::member("k", &jwk.k)?;
            jwk.check_alg(&[&jwk_alg(alg.name, k.len() as u32 * 8)])?;
            k
        }
        _ => {
            return Err(not_supported(
                "AES keys can be imported as raw or jwk only.",
            ))
        }
    };
    if !matches!(bytes.len(), 16 | 24 | 32) {
        return Err(data_err(format!(
            "AES key data must be 128, 192 or 256 bits, not {}.",
            bytes.len() * 8
        )));
    }
    Ok((
        KeyAlgorithm::Aes {
            name: alg.name,
            length: bytes.len() as u32 * 8,
        },
        Material::Secret(Zeroizing::new(bytes)),
    ))
}

/// Spec: export key of each AES algorithm.
pub(crate) fn export(format: Format, key: &KeyInner) -> CResult<Exported> {
    match format {
        Format::Raw => Ok(Exported::Bytes(key.secret().to_vec())),
        Format::Jwk => Ok(Exported::Jwk(Box::new(Jwk {
            k: Some(jwk::b64(key.secret())),
            alg: Some(jwk_alg(key.algorithm.name(), key.secret().len() as u32 * 8)),
            ..Jwk::base("oct", key)
        }))),
        _ => Err(not_supported(
            "AES keys can be exported as raw or jwk only.",
        )),
    }
}

/// Runs `$body` with `$c` bound to the AES type of the key's size.
macro_rules! with_aes {
    ($key:expr, $c:ident => $body:expr) => {
        match $key.len() {
            16 => {
                type $c = Aes128;
                $body
            }
            24 => {
                type $c = Aes192;
                $body
            }
            32 => {
                type $c = Aes256;
                $body
            }
            _ => Err(op_err("Bad AES key length.")),
        }
    };
}

/// AES-GCM encryption or decryption; `tag_length` is in bits.
fn gcm<C, T>(key: &[u8], alg: &NormAlg, data: &[u8], encrypt: bool) -> CResult<Vec<u8>>
where
    C: BlockCipher + BlockSizeUser<BlockSize = U16> + BlockEncrypt + KeyInit,
    T: aes_gcm::TagSize,
{
    let cipher =
        AesGcm::<C, U12, T>::new_from_slice(key).map_err(|_| op_err("Bad AES key length."))?;
    let nonce = aes_gcm::Nonce::<U12>::from_slice(&alg.p.iv);
    let payload = Payload {
        msg: data,
        aad: alg.p.additional_data.as_deref().unwrap_or(&[]),
    };
    if encrypt {
        cipher
            .encrypt(nonce, payload)
            .map_err(|_| op_err("AES-GCM encryption failed (the data is too long)."))
    } else {
        cipher
            .decrypt(nonce, payload)
            .map_err(|_| op_err("The AES-GCM ciphertext or its tag is not authentic."))
    }
}

fn gcm_any<C>(key: &[u8], alg: &NormAlg, data: &[u8], encrypt: bool) -> CResult<Vec<u8>>
where
    C: BlockCipher + BlockSizeUser<BlockSize = U16> + BlockEncrypt + KeyInit,
{
    let tag = alg.p.tag_length.unwrap_or(128);
    if !encrypt && data.len() < tag as usize / 8 {
        return Err(op_err("The AES-GCM ciphertext is shorter than its tag."));
    }
    match tag {
        96 => gcm::<C, U12>(key, alg, data, encrypt),
        104 => gcm::<C, U13>(key, alg, data, encrypt),
        112 => gcm::<C, U14>(key, alg, data, encrypt),
        120 => gcm::<C, U15>(key, alg, data, encrypt),
        128 => gcm::<C, U16>(key, alg, data, encrypt),
        32 | 64 => Err(not_supported(
            "AES-GCM tag lengths of 32 and 64 bits are not supported.",
        )),
        _ => Err(op_err(format!("{tag} is not a valid AES-GCM tag length."))),
    }
}

fn cbc_mode<C>(key: &[u8], iv: &[u8], data: &[u8], encrypt: bool) -> CResult<Vec<u8>>
where
    C: BlockCipher + BlockEncrypt + BlockDecrypt + KeyInit,
    cbc::Encryptor<C>: KeyIvInit + BlockEncryptMut,
    cbc::Decryptor<C>: KeyIvInit + BlockDecryptMut,
{
    if encrypt {
        let c = cbc::Encryptor::<C>::new_from_slices(key, iv)
            .map_err(|_| op_err("Bad AES-CBC key or iv."))?;
        Ok(c.encrypt_padded_vec_mut::<Pkcs7>(data))
    } else {
        let c = cbc::Decryptor::<C>::new_from_slices(key, iv)
            .map_err(|_| op_err("Bad AES-CBC key or iv."))?;
        c.decrypt_padded_vec_mut::<Pkcs7>(data)
            .map_err(|_| op_err("AES-CBC decryption failed (bad padding)."))
    }
}

/// AES-CTR over `data`: the rightmost `length` bits of `counter` count
/// blocks, modulo 2^length, and the rest stays fixed. Refuses data that
/// would reuse a counter value.
fn ctr_mode<C>(key: &[u8], counter: &[u8], length: u32, data: &[u8]) -> CResult<Vec<u8>>
where
    C: BlockCipher + BlockSizeUser<BlockSize = U16> + BlockEncrypt + KeyInit,
    ctr::Ctr128BE<C>: KeyIvInit + StreamCipher,
{
    let counter: [u8; 16] = counter
        .try_into()
        .map_err(|_| op_err("The AES-CTR counter must be 16 bytes."))?;
    if !(1..=128).contains(&length) {
        return Err(op_err("The AES-CTR counter length must be 1 to 128 bits."));
    }
    let blocks = (data.len() as u128).div_ceil(16);
    let start = u128::from_be_bytes(counter);
    let mask = if length == 128 {
        u128::MAX
    } else {
        (1u128 << length) - 1
    };
    if length < 128 && blocks > (1u128 << length) {
        return Err(op_err(
            "The data is too long for the AES-CTR counter length (the counter would repeat).",
        ));
    }
    // Blocks left before the counter bits wrap to zero; the second segment
    // restarts with them zeroed and the fixed bits unchanged.
    let before_wrap = if length == 128 {
        u128::MAX
    } else {
        mask - (start & mask) + 1
    };
    let first = usize::try_from(before_wrap.saturating_mul(16))
        .unwrap_or(usize::MAX)
        .min(data.len());
    let mut out = data.to_vec();
    let (a, b) = out.split_at_mut(first);
    let mut c = ctr::Ctr128BE::<C>::new_from_slices(key, &counter)
        .map_err(|_| op_err("Bad AES-CTR key."))?;
    c.apply_keystream(a);
    if !b.is_empty() {
        let wrapped = (start & !mask).to_be_bytes();
        let mut c = ctr::Ctr128BE::<C>::new_from_slices(key, &wrapped)
            .map_err(|_| op_err("Bad AES-CTR key."))?;
        c.apply_keystream(b);
    }
    Ok(out)
}

/// AES-GCM/CBC/CTR encryption (`encrypt` true) or decryption.
pub(crate) fn crypt(alg: &NormAlg, key: &KeyInner, data: &[u8], encrypt: bool) -> CResult<Vec<u8>> {
    let k = key.secret();
    match alg.name {
        AlgName::AesGcm => {
            if alg.p.iv.len() != 12 {
                return Err(op_err(
                    "AES-GCM needs a 12-byte (96-bit) iv here; other iv lengths are not supported.",
                ));
            }
            with_aes!(k, C => gcm_any::<C>(k, alg, data, encrypt))
        }
        AlgName::AesCbc => {
            if alg.p.iv.len() != 16 {
                return Err(op_err("The AES-CBC iv must be 16 bytes."));
            }
            with_aes!(k, C => cbc_mode::<C>(k, &alg.p.iv, data, encrypt))
        }
        AlgName::AesCtr => {
            let length = alg.p.length.unwrap_or(0);
            with_aes!(k, C => ctr_mode::<C>(k, &alg.p.iv, length, data))
        }
        _ => Err(not_supported("Not an AES encryption algorithm.")),
    }
}

/// AES-KW (RFC 3394) wrapping (`wrap` true) or unwrapping.
pub(crate) fn key_wrap(key: &KeyInner, data: &[u8], wrap: bool) -> CResult<Vec<u8>> {
    if wrap && (!data.len().is_multiple_of(8) || data.len() < 16) {
        return Err(op_err(
            "AES-KW wraps data of at least 16 bytes in multiples of 8 bytes.",
        ));
    }
    let k = key.secret();
    let run = |r: Result<Vec<u8>, aes_kw::Error>| {
        r.map_err(|_| {
            if wrap {
                op_err("AES-KW wrapping failed.")
            } else {
                op_err("AES-KW unwrapping failed (the wrapped key is not authentic).")
            }
        })
    };
    macro_rules! kw {
        ($t:ty, $n:literal) => {{
            let arr: [u8; $n] = k.try_into().map_err(|_| op_err("Bad AES key length."))?;
            let kek = <$t>::from(arr);
            run(if wrap {
                kek.wrap_vec(data)
            } else {
                kek.unwrap_vec(data)
            })
        }};
    }
    match k.len() {
        16 => kw!(aes_kw::KekAes128, 16),
        24 => kw!(aes_kw::KekAes192, 24),
        32 => kw!(aes_kw::KekAes256, 32),
        _ => Err(op_err("Bad AES key length.")),
    }
}
