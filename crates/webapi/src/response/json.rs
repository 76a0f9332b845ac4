//! `JSON.stringify` for the plain data `Response.json` is usually given:
//! ordinary objects and arrays of strings, numbers, booleans and null.
//!
//! QuickJS's own `JSON.stringify` builds a JS array of key strings for every
//! object and quotes each key through a fresh JS string, which made it two
//! thirds of a `Response.json` request. This writes the same text straight
//! from the engine's property tables. It reads only own data properties and
//! never runs script: at anything whose serialization could run script or
//! differ (an accessor, a `toJSON` anywhere on a prototype chain, a proxy, a
//! `Date`, a `BigInt`, a cycle, a hole, a lone surrogate...) it gives up
//! without a trace, and the caller asks the engine instead, which then does
//! everything the spec says from the start.
//!
//! Spec: <https://tc39.es/ecma262/#sec-json.stringify>

use std::ffi::c_void;

use rquickjs::{qjs, Ctx, Value};

/// Objects nested deeper than this are left to the engine (which has its own
/// stack limit), so the recursion here stays shallow.
const MAX_DEPTH: usize = 128;

/// How many distinct property names [`Writer::key`] remembers (it looks
/// them up one by one).
const KEY_CACHE: usize = 32;

/// QuickJS's class ids of ordinary objects and arrays.
const CLASS_OBJECT: u32 = 1;
const CLASS_ARRAY: u32 = 2;

/// The fast path declined; the engine must serialize the value.
struct Declined;

type Step = std::result::Result<(), Declined>;

/// `JSON.stringify(value)` as UTF-8, or `None` when the engine must do it
/// (including when the result would be `undefined` or an exception).
pub(super) fn stringify(ctx: &Ctx<'_>, value: &Value<'_>) -> Option<Vec<u8>> {
    let mut w = Writer {
        ctx: ctx.as_raw().as_ptr(),
        out: Vec::with_capacity(256),
        path: Vec::new(),
        clean_protos: Vec::new(),
        keys: Vec::new(),
        key_text: Vec::new(),
    };
    // SAFETY: `value` is a live value of `ctx`, and the writer only reads
    // it, releasing every reference it takes.
    match unsafe { w.value(value.as_raw()) } {
        Ok(true) => Some(w.out),
        Ok(false) | Err(Declined) => None,
    }
}

struct Writer {
    ctx: *mut qjs::JSContext,
    out: Vec<u8>,
    /// The objects being written, outermost first: a cycle is the engine's
    /// to report.
    path: Vec<*mut c_void>,
    /// Prototypes already seen to have no `toJSON` on themselves or above.
    clean_protos: Vec<*mut c_void>,
    /// Property names written so far, quoted, by atom: ranges of `key_text`.
    keys: Vec<(qjs::JSAtom, std::ops::Range<usize>)>,
    key_text: Vec<u8>,
}

/// Releases a property descriptor's references when dropped.
struct Descriptor {
    ctx: *mut qjs::JSContext,
    desc: qjs::JSPropertyDescriptor,
}

impl Drop for Descriptor {
    fn drop(&mut self) {
        // SAFETY: the descriptor's values were handed to us with a reference each.
        unsafe {
            qjs::JS_FreeValue(self.ctx, self.desc.value);
            qjs::JS_FreeValue(self.ctx, self.desc.getter);
            qjs::JS_FreeValue(self.ctx, self.desc.setter);
        }
    }
}

impl Writer {
    /// Writes one value; `Ok(false)` for the values JSON leaves out
    /// (`undefined`, functions, symbols), which write nothing.
    unsafe fn value(&mut self, v: qjs::JSValue) -> std::result::Result<bool, Declined> {
        match qjs::JS_VALUE_GET_TAG(v) {
            qjs::JS_TAG_INT => self.int(qjs::JS_VALUE_GET_INT(v)),
            qjs::JS_TAG_FLOAT64 => self.number(qjs::JS_VALUE_GET_FLOAT64(v)),
            qjs::JS_TAG_BOOL => {
                let text: &[u8] = if qjs::JS_VALUE_GET_BOOL(v) {
                    b"true"
                } else {
                    b"false"
                };
                self.out.extend_from_slice(text);
            }
            qjs::JS_TAG_NULL => self.out.extend_from_slice(b"null"),
            qjs::JS_TAG_UNDEFINED | qjs::JS_TAG_SYMBOL => return Ok(false),
            qjs::JS_TAG_STRING | qjs::JS_TAG_STRING_ROPE => self.string_value(v)?,
            qjs::JS_TAG_OBJECT => {
                if qjs::JS_IsFunction(self.ctx, v) {
                    return Ok(false);
                }
                match qjs::JS_GetClassID(v) {
                    CLASS_OBJECT => self.object(v)?,
                    CLASS_ARRAY => self.array(v)?,
                    _ => return Err(Declined),
                }
            }
            _ => return Err(Declined),
        }
        Ok(true)
    }

    /// Whether [`Writer::value`] would write nothing for `v`.
    unsafe fn is_omitted(&self, v: qjs::JSValue) -> bool {
        match qjs::JS_VALUE_GET_TAG(v) {
            qjs::JS_TAG_UNDEFINED | qjs::JS_TAG_SYMBOL => true,
            qjs::JS_TAG_OBJECT => qjs::JS_IsFunction(self.ctx, v),
            _ => false,
        }
    }

    fn int(&mut self, n: i32) {
        if n < 0 {
            self.out.push(b'-');
        }
        self.digits(u64::from(n.unsigned_abs()));
    }

    /// `m` in decimal.
    fn digits(&mut self, mut m: u64) {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (m % 10) as u8;
            m /= 10;
            if m == 0 {
                break;
            }
        }
        self.out.extend_from_slice(&buf[i..]);
    }

    /// Number::toString, which JSON uses for finite numbers.
    ///
    /// Spec: <https://tc39.es/ecma262/#sec-numeric-types-number-tostring>
    fn number(&mut self, x: f64) {
        if !x.is_finite() {
            self.out.extend_from_slice(b"null");
            return;
        }
        if x == 0.0 {
            // -0 too.
            self.out.push(b'0');
            return;
        }
        if x.fract() == 0.0 && x.abs() < 1e15 {
            // Integral and exact in i64: the digits are the integer's.
            let n = x as i64;
            if n < 0 {
                self.out.push(b'-');
            }
            self.digits(n.unsigned_abs());
            return;
        }
        // Rust's `{:e}` gives the shortest digits that read back as `x`,
        // which are the digits the spec asks for; only the layout differs.
        let mut buf = [0u8; 40];
        let len = {
            use std::io::Write as _;
            let mut cursor = std::io::Cursor::new(&mut buf[..]);
            if write!(cursor, "{:e}", x.abs()).is_err() {
                self.out.extend_from_slice(b"null");
                return;
            }
            cursor.position() as usize
        };
        let text = &buf[..len];
        let e_at = text.iter().position(|&b| b == b'e').unwrap_or(len);
        let mut digits = [0u8; 20];
        let mut k = 0;
        for &b in &text[..e_at] {
            if b.is_ascii_digit() && k < digits.len() {
                digits[k] = b;
                k += 1;
            }
        }
        let digits = &digits[..k];
        let exp: i32 = std::str::from_utf8(&text[(e_at + 1).min(len)..])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        // x = 0.d1d2...dk × 10^n
        let n = exp + 1;
        let k = k as i32;
        if x < 0.0 {
            self.out.push(b'-');
        }
        if k <= n && n <= 21 {
            self.out.extend_from_slice(digits);
            self.out.extend(std::iter::repeat_n(b'0', (n - k) as usize));
        } else if 0 < n && n <= 21 {
            self.out.extend_from_slice(&digits[..n as usize]);
            self.out.push(b'.');
            self.out.extend_from_slice(&digits[n as usize..]);
        } else if -6 < n && n <= 0 {
            self.out.extend_from_slice(b"0.");
            self.out.extend(std::iter::repeat_n(b'0', (-n) as usize));
            self.out.extend_from_slice(digits);
        } else {
            self.out.push(digits[0]);
            if k > 1 {
                self.out.push(b'.');
                self.out.extend_from_slice(&digits[1..]);
            }
            self.out.push(b'e');
            self.out.push(if n - 1 < 0 { b'-' } else { b'+' });
            self.digits(u64::from((n - 1).unsigned_abs()));
        }
    }

    unsafe fn string_value(&mut self, v: qjs::JSValue) -> Step {
        let mut len: usize = 0;
        let ptr = qjs::JS_ToCStringLen(self.ctx, &mut len, v);
        if ptr.is_null() {
            return Err(Declined);
        }
        let result = self.quote(std::slice::from_raw_parts(ptr.cast::<u8>(), len));
        qjs::JS_FreeCString(self.ctx, ptr);
        result
    }

    /// Writes a property name. Arrays of records repeat the same few
    /// names, so each name's quoted text is kept by its atom (which the
    /// objects keep alive, and nothing here can collect).
    unsafe fn key(&mut self, atom: qjs::JSAtom) -> Step {
        if let Some((_, range)) = self.keys.iter().find(|(a, _)| *a == atom) {
            self.out.extend_from_slice(&self.key_text[range.clone()]);
            return Ok(());
        }
        let mut len: qjs::size_t = 0;
        let ptr = qjs::JS_AtomToCStringLen(self.ctx, &mut len, atom);
        if ptr.is_null() {
            return Err(Declined);
        }
        let start = self.out.len();
        let result = self.quote(std::slice::from_raw_parts(ptr.cast::<u8>(), len as usize));
        qjs::JS_FreeCString(self.ctx, ptr);
        if result.is_ok() && self.keys.len() < KEY_CACHE {
            let begin = self.key_text.len();
            self.key_text.extend_from_slice(&self.out[start..]);
            self.keys.push((atom, begin..self.key_text.len()));
        }
        result
    }

    /// QuoteJSONString over the engine's UTF-8 of a string. A lone
    /// surrogate (which JSON escapes) comes out of the engine as invalid
    /// UTF-8, so any string that is not valid UTF-8 is declined.
    ///
    /// Spec: <https://tc39.es/ecma262/#sec-quotejsonstring>
    fn quote(&mut self, s: &[u8]) -> Step {
        if !s.is_ascii() && std::str::from_utf8(s).is_err() {
            return Err(Declined);
        }
        self.out.reserve(s.len() + 2);
        self.out.push(b'"');
        let mut rest = s;
        // Runs of bytes that need no escape are copied whole.
        while let Some(at) = rest
            .iter()
            .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
        {
            self.out.extend_from_slice(&rest[..at]);
            let b = rest[at];
            let escape: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0C => b"\\f",
                _ => b"",
            };
            if escape.is_empty() {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                self.out.extend_from_slice(b"\\u00");
                self.out.push(HEX[(b >> 4) as usize]);
                self.out.push(HEX[(b & 0xF) as usize]);
            } else {
                self.out.extend_from_slice(escape);
            }
            rest = &rest[at + 1..];
        }
        self.out.extend_from_slice(rest);
        self.out.push(b'"');
        Ok(())
    }

    /// Enters an object: declines cycles, deep nesting and anything with a
    /// `toJSON` of its own or on its prototype chain.
    unsafe fn enter(&mut self, v: qjs::JSValue) -> Step {
        let ptr = qjs::JS_VALUE_GET_PTR(v);
        if self.path.len() >= MAX_DEPTH || self.path.contains(&ptr) {
            return Err(Declined);
        }
        if self.has_own(v, qjs::JS_ATOM_toJSON as qjs::JSAtom)? {
            return Err(Declined);
        }
        // An ordinary object's prototype is read without running script.
        let mut proto = qjs::JS_GetPrototype(self.ctx, v);
        let mut checked = Vec::new();
        let clean = loop {
            if qjs::JS_VALUE_GET_TAG(proto) != qjs::JS_TAG_OBJECT {
                break true;
            }
            let p = qjs::JS_VALUE_GET_PTR(proto);
            if self.clean_protos.contains(&p) {
                break true;
            }
            let ordinary = matches!(qjs::JS_GetClassID(proto), CLASS_OBJECT | CLASS_ARRAY);
            if !ordinary || self.has_own(proto, qjs::JS_ATOM_toJSON as qjs::JSAtom)? {
                break false;
            }
            checked.push(p);
            let next = qjs::JS_GetPrototype(self.ctx, proto);
            qjs::JS_FreeValue(self.ctx, proto);
            proto = next;
        };
        qjs::JS_FreeValue(self.ctx, proto);
        if !clean {
            return Err(Declined);
        }
        // Prototypes stay alive while the value refers to them, and the
        // value is not changed by anything here.
        self.clean_protos.extend(checked);
        self.path.push(ptr);
        Ok(())
    }

    /// Whether `obj` (an ordinary object) has an own property `atom`.
    unsafe fn has_own(
        &self,
        obj: qjs::JSValue,
        atom: qjs::JSAtom,
    ) -> std::result::Result<bool, Declined> {
        match qjs::JS_GetOwnProperty(self.ctx, std::ptr::null_mut(), obj, atom) {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Declined),
        }
    }

    /// An own data property's value; declines accessors and absent ones.
    unsafe fn own_data(
        &self,
        obj: qjs::JSValue,
        atom: qjs::JSAtom,
    ) -> std::result::Result<Descriptor, Declined> {
        let mut d = Descriptor {
            ctx: self.ctx,
            desc: qjs::JSPropertyDescriptor {
                flags: 0,
                value: qjs::JS_MKVAL(qjs::JS_TAG_UNDEFINED, 0),
                getter: qjs::JS_MKVAL(qjs::JS_TAG_UNDEFINED, 0),
                setter: qjs::JS_MKVAL(qjs::JS_TAG_UNDEFINED, 0),
            },
        };
        match qjs::JS_GetOwnProperty(self.ctx, &mut d.desc, obj, atom) {
            1 if d.desc.flags & qjs::JS_PROP_GETSET as i32 == 0 => Ok(d),
            _ => Err(Declined),
        }
    }

    unsafe fn object(&mut self, v: qjs::JSValue) -> Step {
        self.enter(v)?;
        let mut tab: *mut qjs::JSPropertyEnum = std::ptr::null_mut();
        let mut len: u32 = 0;
        let flags = (qjs::JS_GPN_STRING_MASK | qjs::JS_GPN_ENUM_ONLY) as i32;
        if qjs::JS_GetOwnPropertyNames(self.ctx, &mut tab, &mut len, v, flags) < 0 {
            return Err(Declined);
        }
        let result = self.members(v, std::slice::from_raw_parts(tab, len as usize));
        qjs::JS_FreePropertyEnum(self.ctx, tab, len);
        self.path.pop();
        result
    }

    unsafe fn members(&mut self, v: qjs::JSValue, props: &[qjs::JSPropertyEnum]) -> Step {
        self.out.push(b'{');
        let mut first = true;
        for prop in props {
            let d = self.own_data(v, prop.atom)?;
            if self.is_omitted(d.desc.value) {
                continue;
            }
            if !first {
                self.out.push(b',');
            }
            first = false;
            self.key(prop.atom)?;
            self.out.push(b':');
            self.value(d.desc.value)?;
        }
        self.out.push(b'}');
        Ok(())
    }

    unsafe fn array(&mut self, v: qjs::JSValue) -> Step {
        self.enter(v)?;
        let result = self.elements(v);
        self.path.pop();
        result
    }

    unsafe fn elements(&mut self, v: qjs::JSValue) -> Step {
        let mut len: i64 = 0;
        if qjs::JS_GetLength(self.ctx, v, &mut len) < 0 || len > u32::MAX as i64 {
            return Err(Declined);
        }
        self.out.push(b'[');
        for i in 0..len as u32 {
            if i > 0 {
                self.out.push(b',');
            }
            let atom = qjs::JS_NewAtomUInt32(self.ctx, i);
            let d = self.own_data(v, atom);
            qjs::JS_FreeAtom(self.ctx, atom);
            // A hole would be looked up on the prototypes.
            let d = d?;
            if !self.value(d.desc.value)? {
                self.out.extend_from_slice(b"null");
            }
        }
        self.out.push(b']');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rquickjs::{Context, Runtime, Value};

    /// What the fast path writes, or `None` where it leaves the engine to.
    fn fast(src: &str) -> Option<String> {
        let rt = Runtime::new().unwrap();
        let ctx = Context::full(&rt).unwrap();
        ctx.with(|ctx| {
            let v: Value = ctx.eval(src).unwrap();
            super::stringify(&ctx, &v).map(|b| String::from_utf8(b).unwrap())
        })
    }

    #[test]
    fn writes_plain_data_and_declines_the_rest() {
        assert_eq!(
            fast(r#"({a: [1, 2.5, "x\n", null, true, undefined], b: {c: -0}, d: () => 1})"#)
                .as_deref(),
            Some(r#"{"a":[1,2.5,"x\n",null,true,null],"b":{"c":0}}"#)
        );
        assert_eq!(
            fast("[1e21, 1e-7, 0.000001]").as_deref(),
            Some("[1e+21,1e-7,0.000001]")
        );
        for declined in [
            "undefined",
            "({get a() { return 1; }})",
            "({d: new Date(0)})",
            "[1, , 2]",
            "({toJSON() { return 1; }})",
            "'\\ud800'",
            "1n",
            "new Proxy({}, {})",
        ] {
            assert_eq!(fast(&format!("({declined})")), None, "{declined}");
        }
    }
}
