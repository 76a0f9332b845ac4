//! The bundle wire format: a [`Bundle`] as one canonical byte blob, whose
//! SHA-256 is the bundle's content address.
//!
//! Bundles travel as JavaScript *sources*, not bytecode: QuickJS bytecode
//! only loads in the exact engine version that wrote it, so each node
//! compiles the sources it receives ([`crate::CompiledBundle::compile`]) and
//! a fleet may mix engine versions during an upgrade.
//!
//! Layout (all integers are big-endian `u32`):
//!
//! ```text
//! "outpost-bundle\n" "v1\n"          magic and format version
//! len entry                          the entry module's name
//! count                              number of modules
//! { len name  len source } * count   modules, names strictly ascending
//! ```
//!
//! The encoding is canonical: names must be strictly ascending (so unique)
//! and nothing may follow the last module, so a bundle has exactly one
//! encoding and therefore exactly one hash. [`decode`] enforces this, and
//! checks that names are relative module paths and that the entry is one of
//! the modules.
//!
//! A second format keeps a [`CompiledBundle`] for reuse on the machine that
//! compiled it (a node's state directory, `outpost build --out`), so a
//! restart need not compile again. It is keyed by [`engine_version`]:
//!
//! ```text
//! "outpost-bytecode\n" "v1\n"        magic and format version
//! len engine                         the engine_version() that wrote it
//! len entry                          the entry module's name
//! count                              number of modules
//! { len name  len bytecode } * count modules, names strictly ascending
//! sha256                             32 bytes: SHA-256 of all of the above
//! ```
//!
//! QuickJS does not validate the bytecode it loads, so reading one is
//! [`unsafe`](decode_compiled): only files this build wrote are read.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::bundle::{Bundle, CompiledBundle};

/// The bytes every encoded bundle starts with.
pub const MAGIC: &[u8] = b"outpost-bundle\nv1\n";

/// The bytes every encoded compiled bundle starts with.
pub const BYTECODE_MAGIC: &[u8] = b"outpost-bytecode\nv1\n";

/// Largest encoded bundle [`decode`] accepts (64 MiB).
pub const MAX_BUNDLE_BYTES: usize = 64 << 20;

/// Why bytes are not a valid encoded bundle.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    /// The blob does not start with [`MAGIC`].
    #[error("not an Outpost bundle (bad magic; expected format `outpost-bundle v1`)")]
    BadMagic,
    /// The blob ends in the middle of a field.
    #[error("bundle is truncated at byte {0}")]
    Truncated(usize),
    /// Bytes remain after the last module.
    #[error("bundle has {0} trailing bytes after its last module")]
    TrailingBytes(usize),
    /// A name or source is not UTF-8.
    #[error("bundle field at byte {0} is not valid UTF-8")]
    NotUtf8(usize),
    /// Module names are not strictly ascending (unsorted or duplicated).
    #[error("module `{0}` is out of order or duplicated (the encoding is not canonical)")]
    NotCanonical(String),
    /// A module name is not a relative `/`-separated path.
    #[error("invalid module name `{0}`: must be a relative path without `.`/`..` segments")]
    BadName(String),
    /// The entry names no module of the bundle.
    #[error("entry module `{0}` is not in the bundle")]
    MissingEntry(String),
    /// The blob is larger than [`MAX_BUNDLE_BYTES`].
    #[error("bundle is {0} bytes; the limit is {MAX_BUNDLE_BYTES}")]
    TooLarge(usize),
    /// A compiled bundle does not start with [`BYTECODE_MAGIC`].
    #[error("not an Outpost compiled bundle (bad magic; expected `outpost-bytecode v1`)")]
    NotBytecode,
    /// A compiled bundle's checksum does not match its contents.
    #[error("compiled bundle is corrupt (checksum mismatch)")]
    Checksum,
    /// A compiled bundle was written by another engine build.
    #[error("compiled bundle is for engine `{found}`; this build runs `{expected}`")]
    OtherEngine {
        /// The engine the bytecode was written by.
        found: String,
        /// [`engine_version`] of this build.
        expected: &'static str,
    },
}

/// Encodes `bundle` (its entry and modules; `files` is local build
/// information and is not sent).
pub fn encode(bundle: &Bundle) -> Vec<u8> {
    let size = MAGIC.len()
        + 8
        + bundle.entry.len()
        + bundle
            .modules
            .iter()
            .map(|(n, s)| 8 + n.len() + s.len())
            .sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(MAGIC);
    put(&mut out, bundle.entry.as_bytes());
    out.extend_from_slice(&(bundle.modules.len() as u32).to_be_bytes());
    // BTreeMap iterates in ascending byte order of the names: canonical.
    for (name, source) in &bundle.modules {
        put(&mut out, name.as_bytes());
        put(&mut out, source.as_bytes());
    }
    out
}

/// The engine build bytecode belongs to, safe to use in a file name:
/// QuickJS-ng's version, the target architecture and byte order, and a
/// digest of a probe module's bytecode, so a change in the bytecode format
/// that the version string misses (a patched engine, another build option)
/// still changes the key.
pub fn engine_version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        // SAFETY: QuickJS returns a static NUL-terminated string.
        let version = unsafe { std::ffi::CStr::from_ptr(rquickjs::qjs::JS_GetVersion()) };
        let probe = Bundle::from_sources(
            "probe.js",
            [(
                "probe.js".to_string(),
                "export const probe = async (a, ...b) => [a ?? 1n, `${b}`, /x/u, { ...b }];"
                    .to_string(),
            )],
        );
        let digest = match CompiledBundle::compile(&probe) {
            Ok(c) => content_hash(&c.bytecode["probe.js"]),
            Err(e) => format!("uncompiled-{e}"),
        };
        let endian = if cfg!(target_endian = "little") {
            "le"
        } else {
            "be"
        };
        format!(
            "quickjs-ng-{}-{}-{endian}-{}",
            version.to_string_lossy(),
            std::env::consts::ARCH,
            &digest[..12.min(digest.len())]
        )
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
    })
}

/// Encodes `compiled` with this build's [`engine_version`].
pub fn encode_compiled(compiled: &CompiledBundle) -> Vec<u8> {
    let mut out = Vec::with_capacity(BYTECODE_MAGIC.len() + compiled.size + 1024);
    out.extend_from_slice(BYTECODE_MAGIC);
    put(&mut out, engine_version().as_bytes());
    put(&mut out, compiled.entry.as_bytes());
    out.extend_from_slice(&(compiled.bytecode.len() as u32).to_be_bytes());
    for (name, bytecode) in &compiled.bytecode {
        put(&mut out, name.as_bytes());
        put(&mut out, bytecode);
    }
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    out
}

/// Decodes a compiled bundle written by [`encode_compiled`].
///
/// The checks (magic, checksum, engine, canonical names, entry present)
/// catch truncation, disk corruption and other engine builds.
///
/// # Safety
///
/// Isolates load the bytecode without validation, and malformed bytecode
/// is undefined behaviour in QuickJS: `bytes` must come from
/// [`encode_compiled`] run by a trusted process (this node's own state
/// directory), never from the network or a user.
pub unsafe fn decode_compiled(bytes: &[u8]) -> Result<CompiledBundle, WireError> {
    let rest = bytes
        .strip_prefix(BYTECODE_MAGIC)
        .ok_or(WireError::NotBytecode)?;
    let Some(split) = rest.len().checked_sub(32) else {
        return Err(WireError::Truncated(bytes.len()));
    };
    let (body, digest) = rest.split_at(split);
    if Sha256::digest(&bytes[..BYTECODE_MAGIC.len() + split]).as_slice() != digest {
        return Err(WireError::Checksum);
    }
    let mut r = Reader {
        bytes: body,
        pos: BYTECODE_MAGIC.len(),
    };
    let engine = r.string()?;
    if engine != engine_version() {
        return Err(WireError::OtherEngine {
            found: engine,
            expected: engine_version(),
        });
    }
    let entry = r.string()?;
    let count = r.u32()? as usize;
    let mut bytecode = BTreeMap::new();
    let mut size = 0;
    let mut last: Option<String> = None;
    for _ in 0..count {
        let name = r.module_name(&mut last)?;
        let len = r.u32()? as usize;
        let code = r.take(len)?;
        size += code.len();
        bytecode.insert(name, std::sync::Arc::<[u8]>::from(code));
    }
    if !r.bytes.is_empty() {
        return Err(WireError::TrailingBytes(r.bytes.len()));
    }
    if !bytecode.contains_key(&entry) {
        return Err(WireError::MissingEntry(entry));
    }
    Ok(CompiledBundle {
        entry,
        bytecode,
        size,
    })
}

fn put(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&(field.len() as u32).to_be_bytes());
    out.extend_from_slice(field);
}

/// Decodes and validates an encoded bundle.
pub fn decode(bytes: &[u8]) -> Result<Bundle, WireError> {
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(WireError::TooLarge(bytes.len()));
    }
    let rest = bytes.strip_prefix(MAGIC).ok_or(WireError::BadMagic)?;
    let mut r = Reader {
        bytes: rest,
        pos: MAGIC.len(),
    };
    let entry = r.string()?;
    let count = r.u32()? as usize;
    let mut modules = BTreeMap::new();
    let mut last: Option<String> = None;
    for _ in 0..count {
        let name = r.module_name(&mut last)?;
        let source = r.string()?;
        modules.insert(name, source);
    }
    if !r.bytes.is_empty() {
        return Err(WireError::TrailingBytes(r.bytes.len()));
    }
    if !modules.contains_key(&entry) {
        return Err(WireError::MissingEntry(entry));
    }
    Ok(Bundle {
        entry,
        modules,
        files: Vec::new(),
    })
}

/// Whether `name` is a relative module path: non-empty `/`-separated
/// segments, none of them `.` or `..`, and no NUL or backslash.
pub fn valid_module_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains(['\0', '\\'])
        && name
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], WireError> {
        if self.bytes.len() < n {
            return Err(WireError::Truncated(self.pos + self.bytes.len()));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        self.pos += n;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self) -> Result<String, WireError> {
        let n = self.u32()? as usize;
        let at = self.pos;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| WireError::NotUtf8(at))
    }

    /// The next module name, which must be valid and sort strictly after
    /// `last` (so the encoding is canonical); `last` becomes it.
    fn module_name(&mut self, last: &mut Option<String>) -> Result<String, WireError> {
        let name = self.string()?;
        if last
            .as_ref()
            .is_some_and(|l| l.as_bytes() >= name.as_bytes())
        {
            return Err(WireError::NotCanonical(name));
        }
        if !valid_module_name(&name) {
            return Err(WireError::BadName(name));
        }
        *last = Some(name.clone());
        Ok(name)
    }
}

/// The content address of encoded bytes: their SHA-256 as 64 lower-case hex
/// digits.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(b & 15), 16).unwrap_or('0'));
    }
    out
}

/// Whether `s` looks like a content address (64 lower-case hex digits).
pub fn is_content_hash(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Bundle {
    /// The bundle in the wire format (see [`crate::wire`]).
    pub fn to_wire(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes a bundle from the wire format.
    pub fn from_wire(bytes: &[u8]) -> Result<Bundle, WireError> {
        decode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Bundle {
        Bundle::from_sources(
            "src/index.js",
            [
                (
                    "src/index.js".to_string(),
                    "import x from './x.js'; export default { fetch() { return new Response(x) } };"
                        .to_string(),
                ),
                (
                    "src/x.js".to_string(),
                    "export default 'héllo \u{1F600}';".to_string(),
                ),
            ],
        )
    }

    #[test]
    fn round_trips_and_is_canonical() {
        let b = sample();
        let bytes = b.to_wire();
        let back = Bundle::from_wire(&bytes).unwrap();
        assert_eq!(back.entry, b.entry);
        assert_eq!(back.modules, b.modules);
        assert_eq!(back.to_wire(), bytes);
        let h = content_hash(&bytes);
        assert!(is_content_hash(&h), "{h}");
        assert_eq!(h, content_hash(&sample().to_wire()));
        // The empty string's SHA-256, as a check on the hex encoding.
        assert_eq!(
            content_hash(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // A compiled round trip still works.
        crate::CompiledBundle::compile(&back).unwrap();
    }

    #[test]
    fn refuses_corrupt_blobs() {
        let bytes = sample().to_wire();
        assert_eq!(decode(b"hello").err(), Some(WireError::BadMagic));
        assert!(matches!(
            decode(&bytes[..bytes.len() - 3]),
            Err(WireError::Truncated(_))
        ));
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(decode(&extra).err(), Some(WireError::TrailingBytes(1)));

        // Swapped module order is not canonical.
        let mut b = Vec::from(MAGIC);
        put(&mut b, b"b.js");
        b.extend_from_slice(&2u32.to_be_bytes());
        for name in ["b.js", "a.js"] {
            put(&mut b, name.as_bytes());
            put(&mut b, b"export default 1;");
        }
        assert_eq!(
            decode(&b).err(),
            Some(WireError::NotCanonical("a.js".into()))
        );

        let bad = |name: &str, entry: &str| {
            let mut b = Vec::from(MAGIC);
            put(&mut b, entry.as_bytes());
            b.extend_from_slice(&1u32.to_be_bytes());
            put(&mut b, name.as_bytes());
            put(&mut b, b"export default 1;");
            decode(&b).err()
        };
        assert_eq!(
            bad("../x.js", "../x.js"),
            Some(WireError::BadName("../x.js".into()))
        );
        assert_eq!(
            bad("/x.js", "/x.js"),
            Some(WireError::BadName("/x.js".into()))
        );
        assert_eq!(
            bad("x.js", "y.js"),
            Some(WireError::MissingEntry("y.js".into()))
        );
        assert!(bad("x.js", "x.js").is_none());

        let mut utf = Vec::from(MAGIC);
        put(&mut utf, &[0xff, 0xfe]);
        assert!(matches!(decode(&utf), Err(WireError::NotUtf8(_))));
    }

    #[test]
    fn compiled_bundles_round_trip_and_refuse_corruption() {
        let compiled = crate::CompiledBundle::compile(&sample()).unwrap();
        let bytes = encode_compiled(&compiled);
        // SAFETY (for every decode below): the bytes come from
        // `encode_compiled` in this process, or are refused before use.
        let back = unsafe { decode_compiled(&bytes) }.unwrap();
        assert_eq!(back.entry, compiled.entry);
        assert_eq!(back.bytecode, compiled.bytecode);
        assert_eq!(back.size, compiled.size);
        assert!(
            engine_version().starts_with("quickjs-ng-"),
            "{}",
            engine_version()
        );
        assert_eq!(engine_version(), engine_version());

        assert_eq!(
            unsafe { decode_compiled(&sample().to_wire()) }.err(),
            Some(WireError::NotBytecode)
        );
        // Any flipped byte or truncation is caught by the checksum.
        for at in [BYTECODE_MAGIC.len() + 2, bytes.len() / 2, bytes.len() - 1] {
            let mut flipped = bytes.clone();
            flipped[at] ^= 1;
            assert_eq!(
                unsafe { decode_compiled(&flipped) }.err(),
                Some(WireError::Checksum),
                "byte {at}"
            );
        }
        assert_eq!(
            unsafe { decode_compiled(&bytes[..bytes.len() - 7]) }.err(),
            Some(WireError::Checksum)
        );

        // Another engine's bytecode is refused by name, checksum intact.
        let mut other = Vec::from(BYTECODE_MAGIC);
        put(&mut other, b"quickjs-ng-0.0.0-elsewhere");
        put(&mut other, b"x.js");
        other.extend_from_slice(&0u32.to_be_bytes());
        let digest = Sha256::digest(&other);
        other.extend_from_slice(&digest);
        assert!(matches!(
            unsafe { decode_compiled(&other) },
            Err(WireError::OtherEngine { found, .. }) if found == "quickjs-ng-0.0.0-elsewhere"
        ));
    }
}
