//! The bundle builder behind `outpost build`, `outpost dev` and `outpost
//! deploy`: walks the module graph from an entry file and produces an
//! [`outpost_runtime::Bundle`].
//!
//! Each file stays its own module in the bundle (module identity is kept;
//! nothing is concatenated), named by its path relative to the project
//! root. On the way:
//!
//! - TypeScript and JSX files become JavaScript ([`typescript`]);
//! - JSON and text files become modules whose default export is the value;
//! - every `import`/`export … from` and literal `import()` is resolved
//!   ([`resolve`]): relative paths, and bare specifiers from `node_modules`;
//!   specifiers the engine could not follow by itself (extension-less,
//!   `.js` naming a `.ts` source, packages) are rewritten in the module's
//!   text to the relative path of the module they resolved to, so the
//!   isolate's loader needs no resolution rules of its own.
//!
//! Module sources are parsed with oxc to find their imports; a syntax error
//! fails the build with `file:line:column`.

pub mod json;
pub mod resolve;
pub mod typescript;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};

use outpost_runtime::bundle::js_string_literal;
use outpost_runtime::Bundle;
use oxc_allocator::Allocator;
use oxc_parser::Parser;
use oxc_span::SourceType;

use crate::resolve::Resolver;

/// Why a bundle could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A module file could not be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The file, relative to the root when inside it.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// An import could not be resolved.
    #[error("{location}: cannot resolve \"{specifier}\" from {importer}: {reason}")]
    Resolve {
        /// `module:line:column` of the specifier.
        location: String,
        /// The importing module.
        importer: String,
        /// The specifier as written.
        specifier: String,
        /// Why it failed.
        reason: String,
    },
    /// A module is not valid: a syntax error (`file:line:column: …`), bad
    /// JSON, an unsupported file type, or CommonJS.
    #[error("{0}")]
    Module(String),
}

/// Builds the bundle whose entry is the file `entry`, with module names
/// relative to `root` (which must contain `entry`).
pub fn build(root: &Path, entry: &Path) -> Result<Bundle, BundleError> {
    let root = root.canonicalize().map_err(|source| BundleError::Read {
        path: root.display().to_string(),
        source,
    })?;
    let entry = entry.canonicalize().map_err(|source| BundleError::Read {
        path: entry.display().to_string(),
        source,
    })?;
    let mut walk = Walk {
        resolver: Resolver::new(&root),
        root,
        names: HashMap::new(),
        taken: HashMap::new(),
        modules: BTreeMap::new(),
        files: Vec::new(),
    };
    let entry_name = walk.name_of(&entry).map_err(BundleError::Module)?;
    let mut queue = VecDeque::from([entry]);
    while let Some(path) = queue.pop_front() {
        let name = walk.names[&path].clone();
        if walk.modules.contains_key(&name) {
            continue;
        }
        let (source, deps) = walk.load(&path, &name)?;
        walk.modules.insert(name, source);
        walk.files.push(path);
        queue.extend(deps);
    }
    Ok(Bundle {
        entry: entry_name,
        modules: walk.modules,
        files: walk.files,
    })
}

struct Walk {
    root: PathBuf,
    resolver: Resolver,
    /// File → module name.
    names: HashMap<PathBuf, String>,
    /// Module name → file (to catch two files mapping to one name).
    taken: HashMap<String, PathBuf>,
    modules: BTreeMap<String, String>,
    files: Vec<PathBuf>,
}

/// One import in a module's JavaScript: the specifier and the byte span of
/// its string literal (quotes included).
struct Import {
    specifier: String,
    start: usize,
    end: usize,
}

impl Walk {
    /// The module name of a (canonical) file: its path under the root, or,
    /// for a package hoisted above the root, its path from the outermost
    /// `node_modules` directory.
    fn name_of(&mut self, path: &Path) -> Result<String, String> {
        if let Some(n) = self.names.get(path) {
            return Ok(n.clone());
        }
        let rel = match path.strip_prefix(&self.root) {
            Ok(rel) => rel.to_path_buf(),
            Err(_) => {
                let comps: Vec<_> = path.components().collect();
                let Some(i) = comps.iter().position(|c| c.as_os_str() == "node_modules") else {
                    return Err(format!(
                        "{} is outside the project root {}",
                        path.display(),
                        self.root.display()
                    ));
                };
                comps[i..].iter().collect()
            }
        };
        let name = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if !outpost_runtime::wire::valid_module_name(&name) {
            return Err(format!("{} cannot be a module name", path.display()));
        }
        if let Some(other) = self.taken.get(&name) {
            return Err(format!(
                "{} and {} would both be the bundle module `{name}`",
                other.display(),
                path.display()
            ));
        }
        self.taken.insert(name.clone(), path.to_path_buf());
        self.names.insert(path.to_path_buf(), name.clone());
        Ok(name)
    }

    /// Reads one module, turns it into JavaScript with its imports
    /// rewritten to bundle paths, and returns the files it imports.
    fn load(&mut self, path: &Path, name: &str) -> Result<(String, Vec<PathBuf>), BundleError> {
        let bytes = std::fs::read(path).map_err(|source| BundleError::Read {
            path: name.to_string(),
            source,
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| BundleError::Module(format!("{name}: file is not valid UTF-8")))?;
        let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
        match ext {
            "json" => {
                serde_json::from_str::<serde::de::IgnoredAny>(&text).map_err(|e| {
                    BundleError::Module(format!(
                        "{name}:{}:{}: invalid JSON: {e}",
                        e.line(),
                        e.column()
                    ))
                })?;
                return Ok((format!("export default {text};"), Vec::new()));
            }
            "txt" | "html" | "md" | "css" | "svg" | "xml" | "csv" => {
                return Ok((
                    format!("export default {};", js_string_literal(&text)),
                    Vec::new(),
                ));
            }
            "js" | "mjs" | "ts" | "mts" | "tsx" | "jsx" => {}
            "cjs" | "cts" => {
                return Err(BundleError::Module(format!(
                    "{name}: CommonJS modules are not supported (bundles hold ES modules)"
                )))
            }
            other => {
                return Err(BundleError::Module(format!(
                    "{name}: unsupported module type `.{other}`"
                )))
            }
        }
        // Where each specifier sits in the file as written, for errors.
        let original = scan(name, &text, ext)?;
        let js = if typescript::needs_transform(name) {
            typescript::to_javascript(name, &text).map_err(BundleError::Module)?
        } else {
            text.clone()
        };
        let rescanned = if js == text {
            None
        } else {
            Some(scan(name, &js, "js")?.imports)
        };
        let imports = rescanned.as_ref().unwrap_or(&original.imports);
        if !original.has_module_syntax && name.contains("node_modules/") && looks_commonjs(&js) {
            return Err(BundleError::Module(format!(
                "{name}: this file is CommonJS (it uses require/module.exports and has no import \
                 or export); Outpost bundles ES modules only: use the package's ESM build"
            )));
        }
        let mut edits = Vec::new();
        let mut deps = Vec::new();
        for import in imports {
            let fail = |reason: String| {
                let at = original
                    .imports
                    .iter()
                    .find(|i| i.specifier == import.specifier)
                    .map_or(0, |i| i.start);
                let (line, col) = typescript::line_col(&text, at);
                BundleError::Resolve {
                    location: format!("{name}:{line}:{col}"),
                    importer: name.to_string(),
                    specifier: import.specifier.clone(),
                    reason,
                }
            };
            let file = self
                .resolver
                .resolve(&import.specifier, path)
                .map_err(|e| fail(e.to_string()))?;
            let file = file.canonicalize().map_err(|e| fail(e.to_string()))?;
            let target = self.name_of(&file).map_err(&fail)?;
            let as_is = outpost_runtime::bundle::resolve_specifier(name, &import.specifier);
            if as_is.as_deref() != Ok(target.as_str()) {
                edits.push((import.start, import.end, relative_specifier(name, &target)));
            }
            deps.push(file);
        }
        let mut out = js;
        edits.sort_by_key(|e| std::cmp::Reverse(e.0));
        for (start, end, spec) in edits {
            out.replace_range(start..end, &js_string_literal(&spec));
        }
        Ok((out, deps))
    }
}

/// What a parse of one module yields.
struct Scanned {
    imports: Vec<Import>,
    has_module_syntax: bool,
}

/// Parses `source` and lists its static imports, re-exports and `import()`
/// calls with a string literal argument, in source order.
fn scan(name: &str, source: &str, ext: &str) -> Result<Scanned, BundleError> {
    let source_type = match ext {
        "ts" | "mts" => SourceType::ts().with_module(true),
        "tsx" => SourceType::tsx().with_module(true),
        "jsx" => SourceType::jsx().with_module(true),
        _ => SourceType::mjs(),
    };
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, source, source_type).parse();
    if let Some(e) = parsed.diagnostics.errors().next() {
        return Err(BundleError::Module(typescript::describe(
            name,
            source,
            e,
            "SyntaxError",
        )));
    }
    let record = &parsed.module_record;
    let mut imports = Vec::new();
    for (specifier, requests) in &record.requested_modules {
        for r in requests.iter() {
            if r.is_type {
                continue;
            }
            imports.push(Import {
                specifier: specifier.to_string(),
                start: r.span.start as usize,
                end: r.span.end as usize,
            });
        }
    }
    for d in record.dynamic_imports.iter() {
        let (start, end) = (
            d.module_request.start as usize,
            d.module_request.end as usize,
        );
        let lit = &source[start..end];
        let quoted = lit.len() >= 2
            && ((lit.starts_with('"') && lit.ends_with('"'))
                || (lit.starts_with('\'') && lit.ends_with('\'')));
        if quoted && !lit[1..lit.len() - 1].contains('\\') {
            imports.push(Import {
                specifier: lit[1..lit.len() - 1].to_string(),
                start,
                end,
            });
        }
    }
    imports.sort_by_key(|i| i.start);
    Ok(Scanned {
        imports,
        has_module_syntax: record.has_module_syntax,
    })
}

/// A heuristic for "this package file is CommonJS", applied only to files
/// without any `import`/`export`.
fn looks_commonjs(js: &str) -> bool {
    js.contains("module.exports") || js.contains("exports.") || js.contains("require(")
}

/// The `./`/`../` specifier from module `from` to module `to`.
fn relative_specifier(from: &str, to: &str) -> String {
    let mut from_dir: Vec<&str> = from.split('/').collect();
    from_dir.pop();
    let to_parts: Vec<&str> = to.split('/').collect();
    let common = from_dir
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count()
        .min(to_parts.len() - 1);
    let ups = from_dir.len() - common;
    let rest = to_parts[common..].join("/");
    if ups == 0 {
        format!("./{rest}")
    } else {
        format!("{}{rest}", "../".repeat(ups))
    }
}

#[cfg(test)]
mod tests;
