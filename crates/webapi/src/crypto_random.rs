//! The randomness half of Web Crypto: the `crypto` global (an instance of
//! `Crypto`) with `getRandomValues` and `randomUUID`, backed by the operating
//! system's CSPRNG through `getrandom`.
//!
//! Spec: <https://w3c.github.io/webcrypto/#crypto-interface>
//!
//! `crypto.subtle` is a getter here that creates the `SubtleCrypto`
//! instance (see `crate::crypto_subtle`) on first read and caches it.

use rquickjs::{
    atom::PredefinedAtom, class::Trace, object::Property, Class, Ctx, JsLifetime, Result, Value,
};

use crate::error::{OrThrow, WebApiError};
use crate::webidl::array_buffer_view;

/// Largest request `getRandomValues` serves, in bytes.
pub const MAX_RANDOM_BYTES: usize = 65_536;

/// The JS `Crypto` class.
#[derive(Trace, JsLifetime, Default)]
#[rquickjs::class]
pub struct Crypto<'js> {
    /// `crypto.subtle`, made on first read (`[SameObject]`).
    subtle: Option<Class<'js, crate::crypto_subtle::SubtleCrypto>>,
}

fn fill_random(ctx: &Ctx<'_>, buf: &mut [u8]) -> Result<()> {
    getrandom::getrandom(buf)
        .map_err(|e| {
            WebApiError::dom(
                "OperationError",
                format!("The system random source failed: {e}"),
            )
        })
        .or_throw(ctx)
}

/// Formats 16 random bytes as a version 4 UUID.
///
/// Spec: <https://w3c.github.io/webcrypto/#dfn-generate-a-random-uuid>
fn format_uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[rquickjs::methods(rename_all = "camelCase")]
impl<'js> Crypto<'js> {
    /// `Crypto` has no public constructor.
    #[qjs(constructor)]
    pub fn constructor(ctx: Ctx<'js>) -> Result<Self> {
        Err(WebApiError::type_error("Illegal constructor")).or_throw(&ctx)
    }

    /// The `SubtleCrypto` instance, created on first read.
    ///
    /// Spec: <https://w3c.github.io/webcrypto/#Crypto-attribute-subtle>
    #[qjs(get, enumerable, configurable)]
    pub fn subtle(
        &mut self,
        ctx: Ctx<'js>,
    ) -> Result<Class<'js, crate::crypto_subtle::SubtleCrypto>> {
        if let Some(s) = &self.subtle {
            return Ok(s.clone());
        }
        let s = crate::crypto_subtle::new_subtle(&ctx)?;
        self.subtle = Some(s.clone());
        Ok(s)
    }

    /// Fills an integer typed array with random values and returns it.
    ///
    /// Spec: <https://w3c.github.io/webcrypto/#Crypto-method-getRandomValues>
    pub fn get_random_values(&self, ctx: Ctx<'js>, array: Value<'js>) -> Result<Value<'js>> {
        let Some(view) = array_buffer_view(&ctx, &array)? else {
            return Err(WebApiError::type_error(
                "Failed to execute 'getRandomValues' on 'Crypto': parameter 1 is not of type 'ArrayBufferView'.",
            ))
            .or_throw(&ctx);
        };
        if !view.kind.is_some_and(|k| k.is_integer()) {
            return Err(WebApiError::dom(
                "TypeMismatchError",
                "The provided ArrayBufferView is not an integer array type.",
            ))
            .or_throw(&ctx);
        }
        if view.byte_length > MAX_RANDOM_BYTES {
            return Err(WebApiError::dom(
                "QuotaExceededError",
                format!(
                    "The ArrayBufferView's byte length ({}) exceeds the number of bytes of entropy available via this API ({MAX_RANDOM_BYTES}).",
                    view.byte_length
                ),
            ))
            .or_throw(&ctx);
        }
        let mut random = vec![0u8; view.byte_length];
        fill_random(&ctx, &mut random)?;
        let copied = view.with_bytes_mut(|dst| {
            let n = dst.len().min(random.len());
            dst[..n].copy_from_slice(&random[..n]);
        });
        if copied.is_none() {
            return Err(WebApiError::type_error(
                "Cannot write into an immutable ArrayBuffer.",
            ))
            .or_throw(&ctx);
        }
        Ok(array)
    }

    /// Spec: <https://w3c.github.io/webcrypto/#Crypto-method-randomUUID>
    #[qjs(rename = "randomUUID")]
    pub fn random_uuid(&self, ctx: Ctx<'js>) -> Result<String> {
        let mut bytes = [0u8; 16];
        fill_random(&ctx, &mut bytes)?;
        Ok(format_uuid_v4(bytes))
    }

    #[qjs(prop, rename = PredefinedAtom::SymbolToStringTag, configurable)]
    pub fn to_string_tag() -> &'static str {
        "Crypto"
    }
}

/// Installs `Crypto` and the `crypto` global.
pub fn init(ctx: &Ctx<'_>) -> Result<()> {
    crate::webidl::define_interface::<Crypto>(ctx)?;
    let crypto = Class::instance(ctx.clone(), Crypto::default())?;
    ctx.globals().prop(
        "crypto",
        Property::from(crypto)
            .writable()
            .enumerable()
            .configurable(),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::format_uuid_v4;
    use crate::testing::run_js;

    #[test]
    fn uuid_format() {
        assert_eq!(
            format_uuid_v4([0xff; 16]),
            "ffffffff-ffff-4fff-bfff-ffffffffffff"
        );
        assert_eq!(
            format_uuid_v4([0; 16]),
            "00000000-0000-4000-8000-000000000000"
        );
    }

    #[test]
    fn random_uuid() {
        assert_eq!(
            run_js(
                "const re = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
                 const ids = new Set(Array.from({ length: 50 }, () => crypto.randomUUID()));
                 return [ids.size, [...ids].every((id) => re.test(id))].join();"
            ),
            "50,true"
        );
    }

    #[test]
    fn get_random_values() {
        assert_eq!(
            run_js(
                "const a = new Uint8Array(64); const r = crypto.getRandomValues(a);
                 const b = crypto.getRandomValues(new BigUint64Array(2));
                 const big = crypto.getRandomValues(new Uint32Array(16384));
                 const part = new Uint8Array(8); crypto.getRandomValues(part.subarray(2, 4));
                 return [r === a, a.some((x) => x !== 0), typeof b[0], big.length,
                         part[0] === 0 && part[1] === 0 && part[4] === 0 && part[7] === 0,
                         crypto.getRandomValues(new Int8Array(0)).length,
                         crypto instanceof Crypto, Object.prototype.toString.call(crypto)].join();"
            ),
            "true,true,bigint,16384,true,0,true,[object Crypto]"
        );
    }

    #[test]
    fn get_random_values_errors() {
        let check = |src: &str| {
            run_js(&format!(
                "try {{ {src}; return 'no error'; }} catch (e) {{ return e.name + ':' + (e instanceof DOMException); }}"
            ))
        };
        assert_eq!(
            check("crypto.getRandomValues(new Uint8Array(65537))"),
            "QuotaExceededError:true"
        );
        assert_eq!(
            check("crypto.getRandomValues(new Float64Array(1))"),
            "TypeMismatchError:true"
        );
        assert_eq!(
            check("crypto.getRandomValues(new DataView(new ArrayBuffer(4)))"),
            "TypeMismatchError:true"
        );
        assert_eq!(check("crypto.getRandomValues([1, 2])"), "TypeError:false");
        assert_eq!(
            check("crypto.getRandomValues(new ArrayBuffer(4))"),
            "TypeError:false"
        );
        assert_eq!(check("new Crypto()"), "TypeError:false");
    }

    #[test]
    fn subtle_is_same_object() {
        assert_eq!(
            run_js(
                "const s = crypto.subtle;
                    return [s === crypto.subtle, s instanceof SubtleCrypto,
                            Object.prototype.toString.call(s), typeof s.digest,
                            'subtle' in Crypto.prototype].join();"
            ),
            "true,true,[object SubtleCrypto],function,true"
        );
    }
}
