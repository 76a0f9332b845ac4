//! Bundles: the set of ES modules a deployment consists of, and their
//! bytecode.
//!
//! A [`Bundle`] is built by walking the module graph from an entry file on
//! disk with QuickJS's own resolver (so what is found is exactly what the
//! engine will import), turning JSON and text files into modules on the way.
//! [`CompiledBundle::compile`] then turns every module into bytecode once, so
//! a cold start only loads bytecode and runs the top level. Isolates never
//! see the file system: their loader serves modules from a `CompiledBundle`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::{qjs, Context, Ctx, Module, Runtime, WriteOptions};

use crate::error::BuildError;

/// A deployment's modules as JavaScript source, keyed by their name (a
/// `/`-separated path relative to the bundle root).
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    /// Name of the entry module.
    pub entry: String,
    /// Module name → JavaScript source (JSON and text already wrapped).
    pub modules: BTreeMap<String, String>,
    /// Files the bundle was read from (for change watching).
    pub files: Vec<PathBuf>,
}

/// Module bytecode, ready for isolates on any thread.
#[derive(Debug)]
pub struct CompiledBundle {
    /// Name of the entry module.
    pub entry: String,
    /// Module name → QuickJS bytecode.
    pub bytecode: BTreeMap<String, Arc<[u8]>>,
    /// Total bytecode size in bytes.
    pub size: usize,
}

/// Joins a specifier onto the importing module's name.
///
/// Only relative (`./`, `../`) and root-absolute (`/`) specifiers name
/// bundle modules; bare specifiers are resolved at bundle time by the
/// `outpost build` step, not by the engine.
pub fn resolve_specifier(base: &str, specifier: &str) -> Result<String, String> {
    let mut parts: Vec<&str> = if specifier.starts_with('/') {
        Vec::new()
    } else if specifier.starts_with("./") || specifier.starts_with("../") {
        let mut p: Vec<&str> = base.split('/').collect();
        p.pop();
        p
    } else {
        return Err(
            "bare module specifiers are not supported here; use a relative path (./file.js)".into(),
        );
    };
    for seg in specifier.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err("path escapes the bundle root".into());
                }
            }
            s => parts.push(s),
        }
    }
    Ok(parts.join("/"))
}

/// How a file becomes a module, by extension.
fn module_source(name: &str, bytes: Vec<u8>) -> Result<String, String> {
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    let text = String::from_utf8(bytes).map_err(|_| "file is not valid UTF-8".to_string())?;
    Ok(match ext {
        "js" | "mjs" => text,
        "json" => {
            // Validate here so a broken JSON file fails the build with its name.
            check_json(&text)?;
            format!("export default {text};")
        }
        "txt" | "html" | "md" | "css" | "svg" | "xml" | "csv" => {
            format!("export default {};", js_string_literal(&text))
        }
        other => return Err(format!("unsupported module type `.{other}`")),
    })
}

fn check_json(text: &str) -> Result<(), String> {
    let rt = Runtime::new().map_err(|e| e.to_string())?;
    let ctx = Context::full(&rt).map_err(|e| e.to_string())?;
    ctx.with(|ctx| {
        ctx.json_parse(text).map(|_| ()).map_err(|_| {
            let e = ctx.catch();
            let msg: Option<String> = e.as_object().and_then(|o| o.get("message").ok());
            format!("invalid JSON: {}", msg.unwrap_or_default())
        })
    })
}

/// Quotes `s` as a JavaScript string literal.
pub fn js_string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Finds the file for a module name: exact, then with `.js`/`.mjs`, then `/index.js`.
fn locate(root: &Path, name: &str) -> Option<String> {
    candidates(name)
        .into_iter()
        .find(|c| root.join(c).is_file())
}

/// The file names an extension-less import may refer to, in order.
fn candidates(name: &str) -> [String; 4] {
    [
        name.to_string(),
        format!("{name}.js"),
        format!("{name}.mjs"),
        format!("{name}/index.js"),
    ]
}

#[derive(Default)]
struct Walk {
    modules: BTreeMap<String, String>,
    files: Vec<PathBuf>,
    error: Option<BuildError>,
}

struct DiskResolver {
    root: PathBuf,
    walk: Rc<RefCell<Walk>>,
}

impl Resolver for DiskResolver {
    fn resolve<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        let fail = |reason: String| {
            self.walk
                .borrow_mut()
                .error
                .get_or_insert(BuildError::Resolve {
                    importer: base.to_string(),
                    specifier: name.to_string(),
                    reason: reason.clone(),
                });
            rquickjs::Exception::throw_reference(
                ctx,
                &format!("cannot resolve `{name}` from `{base}`: {reason}"),
            )
        };
        let joined = resolve_specifier(base, name).map_err(&fail)?;
        locate(&self.root, &joined).ok_or_else(|| fail("file not found".into()))
    }
}

struct DiskLoader {
    root: PathBuf,
    walk: Rc<RefCell<Walk>>,
}

impl Loader for DiskLoader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js>> {
        let source = read_module(&self.root, name, &self.walk).map_err(|e| {
            let msg = e.to_string();
            self.walk.borrow_mut().error.get_or_insert(e);
            rquickjs::Exception::throw_reference(ctx, &msg)
        })?;
        Module::declare(ctx.clone(), name, source)
    }
}

fn read_module(root: &Path, name: &str, walk: &RefCell<Walk>) -> Result<String, BuildError> {
    let path = root.join(name);
    let bytes = std::fs::read(&path).map_err(|source| BuildError::Read {
        path: name.to_string(),
        source,
    })?;
    let source = module_source(name, bytes).map_err(|message| BuildError::Compile {
        message: format!("{name}: {message}"),
    })?;
    let mut w = walk.borrow_mut();
    w.modules.insert(name.to_string(), source.clone());
    w.files.push(path);
    Ok(source)
}

/// Formats a caught compile/resolve exception as `file:line:column: Name: message`.
pub fn describe_exception(ctx: &Ctx<'_>, value: &rquickjs::Value<'_>) -> String {
    let Some(obj) = value.as_object() else {
        return format!("{value:?}");
    };
    let name: String = obj.get("name").unwrap_or_else(|_| "Error".into());
    let message: String = obj.get("message").unwrap_or_default();
    let stack: String = obj.get("stack").unwrap_or_default();
    let _ = ctx;
    // QuickJS reports the location as the first `at` frame of the stack.
    let location = stack
        .lines()
        .find_map(|l| l.trim().strip_prefix("at "))
        .map(|l| {
            l.trim_start_matches("<anonymous> (")
                .trim_end_matches(')')
                .to_string()
        });
    match location {
        Some(loc) => format!("{loc}: {name}: {message}"),
        None => format!("{name}: {message}"),
    }
}

impl Bundle {
    /// Builds a bundle from `entry` on disk; its directory is the bundle root.
    pub fn from_entry_file(entry: &Path) -> Result<Bundle, BuildError> {
        let root = entry
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let entry_name = entry
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| BuildError::Read {
                path: entry.display().to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "entry must be a file",
                ),
            })?
            .to_string();
        Self::from_root(&root, &entry_name)
    }

    /// Builds a bundle whose modules live under `root`, starting at `entry`
    /// (a module name relative to `root`).
    pub fn from_root(root: &Path, entry: &str) -> Result<Bundle, BuildError> {
        let walk = Rc::new(RefCell::new(Walk::default()));
        let source = read_module(root, entry, &walk)?;
        let rt = Runtime::new().map_err(engine)?;
        rt.set_loader(
            DiskResolver {
                root: root.to_path_buf(),
                walk: walk.clone(),
            },
            DiskLoader {
                root: root.to_path_buf(),
                walk: walk.clone(),
            },
        );
        let ctx = Context::full(&rt).map_err(engine)?;
        let outcome = ctx.with(|ctx| compile_and_resolve(&ctx, entry, &source));
        drop(ctx);
        drop(rt);
        let mut w = walk.borrow_mut();
        if let Some(e) = w.error.take() {
            return Err(e);
        }
        outcome.map_err(|message| BuildError::Compile { message })?;
        Ok(Bundle {
            entry: entry.to_string(),
            modules: std::mem::take(&mut w.modules),
            files: std::mem::take(&mut w.files),
        })
    }

    /// Builds a bundle from in-memory modules (name → JS source).
    pub fn from_sources(
        entry: &str,
        modules: impl IntoIterator<Item = (String, String)>,
    ) -> Bundle {
        Bundle {
            entry: entry.to_string(),
            modules: modules.into_iter().collect(),
            files: Vec::new(),
        }
    }
}

fn engine(e: rquickjs::Error) -> BuildError {
    BuildError::Compile {
        message: format!("engine error: {e}"),
    }
}

/// Compiles the entry as a module and resolves its whole import graph
/// (calling the loader for each import) without running any of it.
fn compile_and_resolve(ctx: &Ctx<'_>, name: &str, source: &str) -> Result<(), String> {
    let c_name = std::ffi::CString::new(name).map_err(|e| e.to_string())?;
    let c_src = std::ffi::CString::new(source)
        .map_err(|_| format!("{name}: source contains a NUL byte"))?;
    // SAFETY: raw calls on a context we hold the lock of (inside `with`); the
    // compiled module value is freed before returning.
    unsafe {
        let raw = ctx.as_raw().as_ptr();
        let module = qjs::JS_Eval(
            raw,
            c_src.as_ptr(),
            source.len() as _,
            c_name.as_ptr(),
            (qjs::JS_EVAL_TYPE_MODULE | qjs::JS_EVAL_FLAG_COMPILE_ONLY) as i32,
        );
        if qjs::JS_IsException(module) {
            let e = ctx.catch();
            return Err(describe_exception(ctx, &e));
        }
        let rc = qjs::JS_ResolveModule(raw, module);
        qjs::JS_FreeValue(raw, module);
        if rc < 0 {
            let e = ctx.catch();
            return Err(describe_exception(ctx, &e));
        }
    }
    Ok(())
}

impl CompiledBundle {
    /// Compiles every module of `bundle` to bytecode.
    pub fn compile(bundle: &Bundle) -> Result<CompiledBundle, BuildError> {
        let rt = Runtime::new().map_err(engine)?;
        // Declaring a module links its imports, so the compile context needs
        // to find them: serve the bundle's own sources.
        let sources = Arc::new(bundle.modules.clone());
        rt.set_loader(SourceResolver(sources.clone()), SourceLoader(sources));
        let ctx = Context::full(&rt).map_err(engine)?;
        let mut bytecode = BTreeMap::new();
        let mut size = 0;
        ctx.with(|ctx| -> Result<(), BuildError> {
            for (name, source) in &bundle.modules {
                let module =
                    Module::declare(ctx.clone(), name.as_str(), source.as_str()).map_err(|_| {
                        let e = ctx.catch();
                        BuildError::Compile {
                            message: describe_exception(&ctx, &e),
                        }
                    })?;
                let bytes = module
                    .write(WriteOptions {
                        strip_source: true,
                        ..Default::default()
                    })
                    .map_err(engine)?;
                size += bytes.len();
                bytecode.insert(name.clone(), Arc::<[u8]>::from(bytes));
            }
            Ok(())
        })?;
        if !bytecode.contains_key(&bundle.entry) {
            return Err(BuildError::Compile {
                message: format!("entry module `{}` is not in the bundle", bundle.entry),
            });
        }
        Ok(CompiledBundle {
            entry: bundle.entry.clone(),
            bytecode,
            size,
        })
    }
}

/// Serves bundle modules from source (compile time only).
struct SourceLoader(Arc<BTreeMap<String, String>>);

impl Loader for SourceLoader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js>> {
        match self.0.get(name) {
            Some(src) => Module::declare(ctx.clone(), name, src.as_str()),
            None => Err(rquickjs::Exception::throw_reference(
                ctx,
                &format!("module `{name}` is not in the bundle"),
            )),
        }
    }
}

struct SourceResolver(Arc<BTreeMap<String, String>>);

impl Resolver for SourceResolver {
    fn resolve<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        resolve_in(ctx, base, name, |c| self.0.contains_key(c))
    }
}

/// Resolves `name` from `base` to the first candidate file name that `exists`.
fn resolve_in(
    ctx: &Ctx<'_>,
    base: &str,
    name: &str,
    exists: impl Fn(&str) -> bool,
) -> rquickjs::Result<String> {
    let joined = resolve_specifier(base, name).map_err(|r| {
        rquickjs::Exception::throw_type(ctx, &format!("cannot resolve `{name}` from `{base}`: {r}"))
    })?;
    if let Some(found) = candidates(&joined).into_iter().find(|c| exists(c)) {
        return Ok(found);
    }
    Err(rquickjs::Exception::throw_type(
        ctx,
        &format!("cannot resolve `{name}` from `{base}`: not in the bundle"),
    ))
}

/// Serves bundle modules to an isolate from bytecode.
pub(crate) struct BytecodeLoader(pub Arc<CompiledBundle>);

impl Loader for BytecodeLoader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js>> {
        let Some(bytes) = self.0.bytecode.get(name) else {
            return Err(rquickjs::Exception::throw_reference(
                ctx,
                &format!("module `{name}` is not in the bundle"),
            ));
        };
        // SAFETY: the bytes were written by `CompiledBundle::compile` in this
        // process, hence by this exact QuickJS version.
        unsafe { Module::load(ctx.clone(), bytes) }
    }
}

/// Resolves imports against the bundle's module names.
pub(crate) struct BundleResolver(pub Arc<CompiledBundle>);

impl Resolver for BundleResolver {
    fn resolve<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        resolve_in(ctx, base, name, |c| self.0.bytecode.contains_key(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("outpost-bundle-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn resolves_specifiers() {
        assert_eq!(
            resolve_specifier("src/index.js", "./a.js").unwrap(),
            "src/a.js"
        );
        assert_eq!(
            resolve_specifier("src/index.js", "../b/c.js").unwrap(),
            "b/c.js"
        );
        assert_eq!(resolve_specifier("src/index.js", "/x.js").unwrap(), "x.js");
        assert!(resolve_specifier("index.js", "../../x.js").is_err());
        assert!(resolve_specifier("index.js", "hono").is_err());
    }

    #[test]
    fn walks_the_module_graph() {
        let d = tmp_dir("graph");
        std::fs::create_dir_all(d.join("lib")).unwrap();
        std::fs::write(d.join("index.js"), "import {f} from './lib/f.js'; import data from './data.json'; import t from './t.txt'; export default {fetch(){ return f(data, t) }}").unwrap();
        std::fs::write(
            d.join("lib/f.js"),
            "import {g} from '../g'; export const f = (d, t) => g(d.a) + t;",
        )
        .unwrap();
        std::fs::write(d.join("g.js"), "export const g = x => x * 2;").unwrap();
        std::fs::write(d.join("data.json"), "{\"a\": 21}").unwrap();
        std::fs::write(d.join("t.txt"), "line\n\"quoted\"").unwrap();
        std::fs::write(d.join("unused.js"), "syntax error here (").unwrap();
        let b = Bundle::from_entry_file(&d.join("index.js")).unwrap();
        let names: Vec<&str> = b.modules.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["data.json", "g.js", "index.js", "lib/f.js", "t.txt"]
        );
        let c = CompiledBundle::compile(&b).unwrap();
        assert_eq!(c.bytecode.len(), 5);
        assert!(c.size > 0);
    }

    #[test]
    fn reports_errors_with_locations() {
        let d = tmp_dir("errors");
        std::fs::write(
            d.join("index.js"),
            "import './broken.js';\nexport default {};",
        )
        .unwrap();
        std::fs::write(d.join("broken.js"), "const a = 1;\nconst b = ;\n").unwrap();
        let e = Bundle::from_entry_file(&d.join("index.js"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("broken.js:2:"), "{e}");
        assert!(e.contains("SyntaxError"), "{e}");

        std::fs::write(d.join("index.js"), "import './missing.js';").unwrap();
        let e = Bundle::from_entry_file(&d.join("index.js"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("./missing.js") && e.contains("index.js") && e.contains("not found"),
            "{e}"
        );

        std::fs::write(d.join("index.js"), "import x from './bad.json';").unwrap();
        std::fs::write(d.join("bad.json"), "{nope").unwrap();
        let e = Bundle::from_entry_file(&d.join("index.js"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad.json") && e.contains("invalid JSON"), "{e}");
    }
}
