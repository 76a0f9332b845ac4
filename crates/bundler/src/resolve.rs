//! Import resolution at bundle time: relative and root-absolute paths, bare
//! specifiers found in `node_modules` through a package's `exports`,
//! `browser`, `module` or `main` field, and `#` specifiers through the
//! `imports` field of the importer's own package.json.
//!
//! Bare specifiers follow Node's ESM resolution algorithm
//! (<https://nodejs.org/api/esm.html#resolution-algorithm-specification>:
//! PACKAGE_RESOLVE, PACKAGE_EXPORTS_RESOLVE, PACKAGE_IMPORTS_RESOLVE,
//! PACKAGE_IMPORTS_EXPORTS_RESOLVE,
//! PACKAGE_TARGET_RESOLVE, PATTERN_KEY_COMPARE) with the conditions
//! [`CONDITIONS`], the ones Workers tooling builds with. Without `exports`,
//! the legacy fields are tried as bundlers for the browser platform do
//! (`browser` when it is a string, then `module`, then `main`), and
//! extension-less paths are completed as bundlers do (see [`complete`]).
//!
//! Written here rather than taken from `oxc_resolver`: that crate turns on
//! serde_json's `preserve_order` (which would change every JSON map in the
//! binary) and brings simd-json, dashmap and glob matching, for CommonJS,
//! tsconfig-paths and Yarn PnP support that bundles do not use.

use std::path::{Path, PathBuf};

use crate::json::Json;

/// The export conditions matched, besides `default` (which always matches).
pub const CONDITIONS: &[&str] = &["workerd", "worker", "browser", "import"];

/// Extensions tried, in order, for an import without one (as esbuild does:
/// TypeScript first, so a `.ts` source wins over a compiled `.js` beside it).
pub const EXTENSIONS: &[&str] = &["ts", "tsx", "mts", "js", "mjs", "jsx"];

/// Why a specifier could not be resolved; the text is the reason part of
/// the build error (the importer and specifier are added around it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// A relative or root-absolute import names no file.
    #[error("file not found: {0}")]
    NotFound(String),
    /// A relative import climbs above the bundle root.
    #[error("path escapes the project root")]
    EscapesRoot,
    /// No `node_modules/<name>` in any parent directory.
    #[error("no node_modules/{0}")]
    NoPackage(String),
    /// A built-in module scheme (`node:`, `cloudflare:`).
    #[error("`{0}` is a built-in module, which Outpost does not provide yet")]
    Builtin(String),
    /// Not a valid package specifier.
    #[error("invalid package specifier")]
    InvalidSpecifier,
    /// The package's package.json cannot be read or parsed.
    #[error("{path}: {message}")]
    BadPackageJson {
        /// The package.json.
        path: String,
        /// Why.
        message: String,
    },
    /// `exports` has no entry for the subpath under the conditions.
    #[error("{}", not_exported(.package, .subpath, .seen))]
    NotExported {
        /// Package name.
        package: String,
        /// The subpath asked for (`.` or `./x`).
        subpath: String,
        /// Conditions the package offers that did not match.
        seen: Vec<String>,
    },
    /// An `exports` target is malformed (not `./`-relative, or climbs out).
    #[error("package \"{package}\" has an invalid exports target {target:?}")]
    InvalidTarget {
        /// Package name.
        package: String,
        /// The target as written.
        target: String,
    },
    /// No `imports` entry of the importer's package.json matches a `#` specifier.
    #[error("no \"imports\" entry of the nearest package.json matches it under the conditions {}{}", CONDITIONS.join(", "), offered(.seen))]
    NotImported {
        /// The specifier.
        specifier: String,
        /// Conditions the entry offers that did not match.
        seen: Vec<String>,
    },
    /// The file that `exports` or `main` points at does not exist.
    #[error("package \"{package}\" maps {subpath:?} to {target}, which does not exist")]
    MissingTarget {
        /// Package name.
        package: String,
        /// The subpath asked for.
        subpath: String,
        /// The path it mapped to, relative to the package.
        target: String,
    },
}

fn offered(seen: &[String]) -> String {
    if seen.is_empty() {
        String::new()
    } else {
        format!(
            ", default; it offers only {}",
            seen.iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

fn not_exported(package: &str, subpath: &str, seen: &[String]) -> String {
    let what = if subpath == "." {
        "its main entry (\".\")".to_string()
    } else {
        format!("{subpath:?}")
    };
    let mut s = format!(
        "package \"{package}\" does not export {what} under the conditions {}",
        CONDITIONS
            .iter()
            .chain(["default"].iter())
            .copied()
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !seen.is_empty() {
        s.push_str(&format!(
            "; it offers only {}",
            seen.iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        if seen.iter().any(|c| c == "require" || c == "node") {
            s.push_str(" (a CommonJS or Node-only build, which Workers cannot import)");
        }
    }
    s
}

/// Resolves import specifiers to files.
#[derive(Debug, Clone)]
pub struct Resolver {
    root: PathBuf,
}

impl Resolver {
    /// A resolver for a bundle rooted at `root` (root-absolute specifiers
    /// like `/lib/x.js` are taken from there).
    pub fn new(root: &Path) -> Resolver {
        Resolver {
            root: root.to_path_buf(),
        }
    }

    /// Resolves `specifier` imported by the file `importer` to a file path.
    pub fn resolve(&self, specifier: &str, importer: &Path) -> Result<PathBuf, ResolveError> {
        let dir = importer.parent().unwrap_or(Path::new("/"));
        if specifier.starts_with("./") || specifier.starts_with("../") || specifier == "." {
            let joined = join_normal(dir, specifier)?;
            return complete(&joined).ok_or_else(|| not_found(&joined, &self.root));
        }
        if let Some(rest) = specifier.strip_prefix('/') {
            let joined = join_normal(&self.root, &format!("./{rest}"))?;
            return complete(&joined).ok_or_else(|| not_found(&joined, &self.root));
        }
        if specifier.starts_with('#') {
            return self.resolve_imports(specifier, dir);
        }
        if let Some((scheme, _)) = specifier.split_once(':') {
            if matches!(scheme, "node" | "cloudflare" | "workerd") {
                return Err(ResolveError::Builtin(specifier.to_string()));
            }
            if scheme.len() > 1 {
                return Err(ResolveError::InvalidSpecifier);
            }
        }
        self.resolve_package(specifier, dir)
    }

    /// PACKAGE_RESOLVE: finds the package in the nearest `node_modules`.
    fn resolve_package(&self, specifier: &str, from: &Path) -> Result<PathBuf, ResolveError> {
        let (name, subpath) = split_package(specifier)?;
        for dir in from.ancestors() {
            if dir.file_name().is_some_and(|n| n == "node_modules") {
                continue;
            }
            let pkg = dir.join("node_modules").join(name);
            if !pkg.is_dir() {
                continue;
            }
            return Package::load(name, &pkg)?.resolve(&subpath);
        }
        Err(ResolveError::NoPackage(name.to_string()))
    }

    /// PACKAGE_IMPORTS_RESOLVE: a `#` specifier through the `imports` field
    /// of the package.json nearest above the importer.
    fn resolve_imports(&self, specifier: &str, from: &Path) -> Result<PathBuf, ResolveError> {
        if specifier == "#" || specifier.starts_with("#/") {
            return Err(ResolveError::InvalidSpecifier);
        }
        let not_imported = |seen: Vec<String>| ResolveError::NotImported {
            specifier: specifier.to_string(),
            seen,
        };
        // READ_PACKAGE_SCOPE: the nearest package.json, not above node_modules.
        let Some(dir) = from
            .ancestors()
            .take_while(|d| d.file_name().is_none_or(|n| n != "node_modules"))
            .find(|d| d.join("package.json").is_file())
        else {
            return Err(not_imported(Vec::new()));
        };
        let dir_name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut package = Package::load(&dir_name, dir)?;
        package.imports_via = Some(self);
        let mut seen = Vec::new();
        let found = match package.json.get("imports") {
            Some(imports @ Json::Object(_)) => {
                package.resolve_exports_subpath(specifier, imports, &mut seen)?
            }
            _ => Target::Undefined,
        };
        match found {
            Target::Found(path) if path.is_file() => Ok(path),
            Target::Found(path) => Err(ResolveError::NotFound(
                path.strip_prefix(&self.root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned(),
            )),
            Target::Null | Target::Undefined => Err(not_imported(seen)),
        }
    }
}

/// A not-found error naming the path relative to the root when it is inside.
fn not_found(path: &Path, root: &Path) -> ResolveError {
    let shown = path.strip_prefix(root).unwrap_or(path);
    ResolveError::NotFound(shown.to_string_lossy().into_owned())
}

/// Splits `@scope/name/sub/path` into the package name and `./sub/path`.
fn split_package(specifier: &str) -> Result<(&str, String), ResolveError> {
    let name_len = if specifier.starts_with('@') {
        let slash = specifier.find('/').ok_or(ResolveError::InvalidSpecifier)?;
        specifier[slash + 1..]
            .find('/')
            .map_or(specifier.len(), |i| slash + 1 + i)
    } else {
        specifier.find('/').unwrap_or(specifier.len())
    };
    let name = &specifier[..name_len];
    if name.is_empty()
        || name.starts_with('.')
        || name.contains(['\\', '%'])
        || name.ends_with('/')
        || name.split('/').any(str::is_empty)
    {
        return Err(ResolveError::InvalidSpecifier);
    }
    Ok((name, format!(".{}", &specifier[name_len..])))
}

/// Joins a `./`/`../` path onto `dir` lexically, refusing to climb past `/`.
fn join_normal(dir: &Path, rel: &str) -> Result<PathBuf, ResolveError> {
    let mut out = dir.to_path_buf();
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if !out.pop() {
                    return Err(ResolveError::EscapesRoot);
                }
            }
            s => out.push(s),
        }
    }
    Ok(out)
}

/// Completes an import path to a file as bundlers do: the path itself, then
/// with each of [`EXTENSIONS`]; TypeScript's convention of importing
/// `./x.js` for the source `./x.ts` (and `.mjs` for `.mts`); then the
/// directory's `index` file with each extension.
pub fn complete(path: &Path) -> Option<PathBuf> {
    if path.is_file() {
        return Some(path.to_path_buf());
    }
    let s = path.as_os_str().to_string_lossy();
    for ext in EXTENSIONS {
        let p = PathBuf::from(format!("{s}.{ext}"));
        if p.is_file() {
            return Some(p);
        }
    }
    let ts_pairs: &[(&str, &[&str])] = &[
        (".js", &["ts", "tsx"]),
        (".mjs", &["mts"]),
        (".jsx", &["tsx"]),
    ];
    for (js, tss) in ts_pairs {
        if let Some(stem) = s.strip_suffix(js) {
            for ts in *tss {
                let p = PathBuf::from(format!("{stem}.{ts}"));
                if p.is_file() {
                    return Some(p);
                }
            }
        }
    }
    if path.is_dir() {
        for ext in EXTENSIONS {
            let p = path.join(format!("index.{ext}"));
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// One package directory and its package.json.
struct Package<'a> {
    name: &'a str,
    dir: &'a Path,
    json: Json,
    /// Set while resolving `imports`, whose targets may name other packages.
    imports_via: Option<&'a Resolver>,
}

/// What PACKAGE_TARGET_RESOLVE returns: the spec tells `null` (the path is
/// excluded; stop) from `undefined` (no condition matched; try the next key).
enum Target {
    Found(PathBuf),
    Null,
    Undefined,
}

impl<'a> Package<'a> {
    fn load(name: &'a str, dir: &'a Path) -> Result<Package<'a>, ResolveError> {
        let path = dir.join("package.json");
        let json = match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| ResolveError::BadPackageJson {
                    path: format!("node_modules/{name}/package.json"),
                    message: e.to_string(),
                })?
            }
            // A package directory without package.json: plain files.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Json::Object(Vec::new()),
            Err(e) => {
                return Err(ResolveError::BadPackageJson {
                    path: format!("node_modules/{name}/package.json"),
                    message: e.to_string(),
                })
            }
        };
        Ok(Package {
            name,
            dir,
            json,
            imports_via: None,
        })
    }

    fn resolve(&self, subpath: &str) -> Result<PathBuf, ResolveError> {
        match self.json.get("exports") {
            Some(exports) if *exports != Json::Null => self.resolve_exports(subpath, exports),
            _ if subpath == "." => self.resolve_legacy_main(),
            _ => {
                let p = join_normal(self.dir, subpath)?;
                complete(&p).ok_or_else(|| self.missing(subpath, subpath))
            }
        }
    }

    fn missing(&self, subpath: &str, target: &str) -> ResolveError {
        ResolveError::MissingTarget {
            package: self.name.to_string(),
            subpath: subpath.to_string(),
            target: target.to_string(),
        }
    }

    /// Without `exports`: `browser` (string form), `module`, `main`, then
    /// `index`, each completed like a relative import.
    fn resolve_legacy_main(&self) -> Result<PathBuf, ResolveError> {
        for field in ["browser", "module", "main"] {
            if let Some(main) = self.json.get(field).and_then(Json::as_str) {
                let rel = if main.starts_with("./") || main.starts_with("../") {
                    main.to_string()
                } else {
                    format!("./{main}")
                };
                let p = join_normal(self.dir, &rel)?;
                return complete(&p).ok_or_else(|| self.missing(".", main));
            }
        }
        complete(&self.dir.join("index")).ok_or_else(|| self.missing(".", "./index.js"))
    }

    /// PACKAGE_EXPORTS_RESOLVE.
    fn resolve_exports(&self, subpath: &str, exports: &Json) -> Result<PathBuf, ResolveError> {
        let mut seen = Vec::new();
        let dotted = match exports {
            Json::Object(entries) => {
                let dots = entries.iter().filter(|(k, _)| k.starts_with('.')).count();
                if dots != 0 && dots != entries.len() {
                    return Err(ResolveError::InvalidTarget {
                        package: self.name.to_string(),
                        target: "exports mixes subpath keys and condition keys".into(),
                    });
                }
                dots != 0
            }
            _ => false,
        };
        let found = if subpath == "." {
            let main = if dotted {
                exports.get(".")
            } else {
                Some(exports)
            };
            match main {
                Some(target) => self.resolve_target(target, None, &mut seen)?,
                None => Target::Undefined,
            }
        } else if dotted {
            self.resolve_exports_subpath(subpath, exports, &mut seen)?
        } else {
            Target::Undefined
        };
        match found {
            Target::Found(path) => {
                if path.is_file() {
                    Ok(path)
                } else {
                    let shown = path.strip_prefix(self.dir).unwrap_or(&path);
                    Err(self.missing(subpath, &format!("./{}", shown.to_string_lossy())))
                }
            }
            Target::Null | Target::Undefined => Err(ResolveError::NotExported {
                package: self.name.to_string(),
                subpath: subpath.to_string(),
                seen,
            }),
        }
    }

    /// PACKAGE_IMPORTS_EXPORTS_RESOLVE for `exports`: an exact key, else the
    /// most specific `*` pattern that matches.
    fn resolve_exports_subpath(
        &self,
        key: &str,
        exports: &Json,
        seen: &mut Vec<String>,
    ) -> Result<Target, ResolveError> {
        let Json::Object(entries) = exports else {
            return Ok(Target::Undefined);
        };
        if !key.contains('*') {
            if let Some((_, target)) = entries.iter().find(|(k, _)| k == key) {
                return self.resolve_target(target, None, seen);
            }
        }
        let mut patterns: Vec<&(String, Json)> = entries
            .iter()
            .filter(|(k, _)| k.matches('*').count() == 1)
            .collect();
        patterns.sort_by(|a, b| pattern_key_compare(&a.0, &b.0));
        for (pattern, target) in patterns {
            let (base, trailer) = pattern.split_once('*').expect("one star");
            if key.starts_with(base)
                && key != base
                && (trailer.is_empty() || (key.ends_with(trailer) && key.len() >= pattern.len()))
            {
                let matched = &key[base.len()..key.len() - trailer.len()];
                return self.resolve_target(target, Some(matched), seen);
            }
        }
        Ok(Target::Undefined)
    }

    /// PACKAGE_TARGET_RESOLVE. `seen` collects condition names that did not
    /// match, for the error message.
    fn resolve_target(
        &self,
        target: &Json,
        pattern_match: Option<&str>,
        seen: &mut Vec<String>,
    ) -> Result<Target, ResolveError> {
        match target {
            Json::String(t) => {
                let invalid = || ResolveError::InvalidTarget {
                    package: self.name.to_string(),
                    target: t.clone(),
                };
                let Some(rest) = t.strip_prefix("./") else {
                    // An `imports` target may be a bare package specifier.
                    if let Some(resolver) = self.imports_via {
                        if !t.starts_with("../") && !t.starts_with('/') && !t.contains(':') {
                            let spec =
                                pattern_match.map_or_else(|| t.clone(), |m| t.replace('*', m));
                            return resolver.resolve_package(&spec, self.dir).map(Target::Found);
                        }
                    }
                    return Err(invalid());
                };
                if rest.split(['/', '\\']).any(|seg| {
                    seg.is_empty()
                        || seg == "."
                        || seg == ".."
                        || seg.eq_ignore_ascii_case("node_modules")
                }) {
                    return Err(invalid());
                }
                let rel = match pattern_match {
                    None => t.clone(),
                    Some(m) => {
                        if m.split(['/', '\\']).any(|seg| {
                            seg == "." || seg == ".." || seg.eq_ignore_ascii_case("node_modules")
                        }) {
                            return Err(invalid());
                        }
                        t.replace('*', m)
                    }
                };
                Ok(Target::Found(join_normal(self.dir, &rel)?))
            }
            Json::Object(entries) => {
                for (key, value) in entries {
                    if key == "default" || CONDITIONS.contains(&key.as_str()) {
                        match self.resolve_target(value, pattern_match, seen)? {
                            Target::Undefined => continue,
                            other => return Ok(other),
                        }
                    } else if !seen.contains(key) {
                        seen.push(key.clone());
                    }
                }
                Ok(Target::Undefined)
            }
            Json::Array(items) => {
                if items.is_empty() {
                    return Ok(Target::Null);
                }
                let mut last_err = None;
                for item in items {
                    match self.resolve_target(item, pattern_match, seen) {
                        Ok(Target::Undefined) => continue,
                        Ok(found) => return Ok(found),
                        Err(e @ ResolveError::InvalidTarget { .. }) => last_err = Some(e),
                        Err(e) => return Err(e),
                    }
                }
                match last_err {
                    Some(e) => Err(e),
                    None => Ok(Target::Null),
                }
            }
            Json::Null => Ok(Target::Null),
            _ => Err(ResolveError::InvalidTarget {
                package: self.name.to_string(),
                target: format!("{target:?}"),
            }),
        }
    }
}

/// PATTERN_KEY_COMPARE: longer prefix before `*` first, then longer key.
fn pattern_key_compare(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let base_a = a.find('*').map_or(0, |i| i + 1);
    let base_b = b.find('*').map_or(0, |i| i + 1);
    match base_b.cmp(&base_a) {
        Ordering::Equal => {}
        o => return o,
    }
    if !a.contains('*') {
        return Ordering::Greater;
    }
    if !b.contains('*') {
        return Ordering::Less;
    }
    b.len().cmp(&a.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Tmp(PathBuf);

    impl Tmp {
        fn new(tag: &str) -> Tmp {
            let d =
                std::env::temp_dir().join(format!("outpost-resolve-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            Tmp(d.canonicalize().unwrap())
        }
        fn write(&self, rel: &str, text: &str) -> &Tmp {
            let p = self.0.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
            self
        }
        fn resolve(&self, spec: &str) -> Result<String, ResolveError> {
            let importer = self.0.join("src/index.ts");
            Resolver::new(&self.0).resolve(spec, &importer).map(|p| {
                p.strip_prefix(&self.0)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
        }
    }

    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn relative_imports_complete_extensions() {
        let t = Tmp::new("rel");
        t.write("src/a.ts", "")
            .write("src/b.js", "")
            .write("src/lib/index.ts", "")
            .write("src/c.mts", "")
            .write("x.js", "");
        assert_eq!(t.resolve("./a").unwrap(), "src/a.ts");
        assert_eq!(t.resolve("./a.js").unwrap(), "src/a.ts");
        assert_eq!(t.resolve("./b").unwrap(), "src/b.js");
        assert_eq!(t.resolve("./lib").unwrap(), "src/lib/index.ts");
        assert_eq!(t.resolve("./c.mjs").unwrap(), "src/c.mts");
        assert_eq!(t.resolve("../x.js").unwrap(), "x.js");
        assert_eq!(t.resolve("/x.js").unwrap(), "x.js");
        assert_eq!(
            t.resolve("./nope").unwrap_err(),
            ResolveError::NotFound("src/nope".into())
        );
        assert!(matches!(
            t.resolve("node:fs").unwrap_err(),
            ResolveError::Builtin(_)
        ));
    }

    #[test]
    fn exports_with_conditions_in_document_order() {
        let t = Tmp::new("cond");
        t.write(
            "node_modules/pkg/package.json",
            r#"{"exports": {"node": "./node.js", "require": "./cjs.js", "worker": "./worker.js", "import": "./esm.js", "default": "./default.js"}}"#,
        )
        .write("node_modules/pkg/node.js", "")
        .write("node_modules/pkg/worker.js", "")
        .write("node_modules/pkg/esm.js", "");
        assert_eq!(t.resolve("pkg").unwrap(), "node_modules/pkg/worker.js");
    }

    #[test]
    fn nested_conditions_and_subpaths() {
        let t = Tmp::new("nested");
        t.write(
            "node_modules/pkg/package.json",
            r#"{"name": "pkg", "exports": {
                ".": {"browser": {"require": "./b.cjs", "import": "./b.mjs"}, "default": "./d.js"},
                "./feature": {"node": "./f-node.js", "default": "./f.js"},
                "./private/*": null,
                "./utils/*": {"import": "./dist/utils/*.js"},
                "./utils/special/*": "./special/*.mjs",
                "./data.json": "./data.json"
            }}"#,
        )
        .write("node_modules/pkg/b.mjs", "")
        .write("node_modules/pkg/f.js", "")
        .write("node_modules/pkg/dist/utils/math/add.js", "")
        .write("node_modules/pkg/special/x.mjs", "")
        .write("node_modules/pkg/data.json", "{}")
        .write("node_modules/pkg/private/secret.js", "");
        assert_eq!(t.resolve("pkg").unwrap(), "node_modules/pkg/b.mjs");
        assert_eq!(t.resolve("pkg/feature").unwrap(), "node_modules/pkg/f.js");
        assert_eq!(
            t.resolve("pkg/utils/math/add").unwrap(),
            "node_modules/pkg/dist/utils/math/add.js"
        );
        // The longer pattern prefix wins.
        assert_eq!(
            t.resolve("pkg/utils/special/x").unwrap(),
            "node_modules/pkg/special/x.mjs"
        );
        assert_eq!(
            t.resolve("pkg/data.json").unwrap(),
            "node_modules/pkg/data.json"
        );
        // `null` excludes a subpath even though the file exists.
        assert!(matches!(
            t.resolve("pkg/private/secret.js").unwrap_err(),
            ResolveError::NotExported { .. }
        ));
        // Not listed at all.
        let e = t.resolve("pkg/other").unwrap_err().to_string();
        assert!(e.contains("does not export \"./other\""), "{e}");
        // A listed target that is missing on disk.
        let e = t.resolve("pkg/utils/none").unwrap_err().to_string();
        assert!(
            e.contains("./dist/utils/none.js, which does not exist"),
            "{e}"
        );
    }

    #[test]
    fn module_before_main_and_scoped_packages() {
        let t = Tmp::new("legacy");
        t.write(
            "node_modules/legacy/package.json",
            r#"{"main": "lib/main.js", "module": "es/index"}"#,
        )
        .write("node_modules/legacy/lib/main.js", "")
        .write("node_modules/legacy/es/index.js", "")
        .write("node_modules/legacy/extra.js", "")
        .write(
            "node_modules/mainonly/package.json",
            r#"{"main": "./m.js"}"#,
        )
        .write("node_modules/mainonly/m.js", "")
        .write("node_modules/bare/index.js", "")
        .write(
            "node_modules/@scope/pkg/package.json",
            r#"{"exports": {".": "./i.js", "./sub": "./s.js"}}"#,
        )
        .write("node_modules/@scope/pkg/i.js", "")
        .write("node_modules/@scope/pkg/s.js", "");
        assert_eq!(
            t.resolve("legacy").unwrap(),
            "node_modules/legacy/es/index.js"
        );
        assert_eq!(
            t.resolve("legacy/extra").unwrap(),
            "node_modules/legacy/extra.js"
        );
        assert_eq!(t.resolve("mainonly").unwrap(), "node_modules/mainonly/m.js");
        assert_eq!(t.resolve("bare").unwrap(), "node_modules/bare/index.js");
        assert_eq!(
            t.resolve("@scope/pkg").unwrap(),
            "node_modules/@scope/pkg/i.js"
        );
        assert_eq!(
            t.resolve("@scope/pkg/sub").unwrap(),
            "node_modules/@scope/pkg/s.js"
        );
        assert_eq!(
            t.resolve("left-pad").unwrap_err().to_string(),
            "no node_modules/left-pad"
        );
        assert_eq!(
            t.resolve("@scope").unwrap_err(),
            ResolveError::InvalidSpecifier
        );
    }

    #[test]
    fn require_only_package_is_a_clear_error() {
        let t = Tmp::new("cjs");
        t.write(
            "node_modules/cjs-only/package.json",
            r#"{"main": "index.js", "exports": {".": {"require": "./index.js"}}}"#,
        )
        .write("node_modules/cjs-only/index.js", "module.exports = 1;");
        let e = t.resolve("cjs-only").unwrap_err().to_string();
        assert_eq!(
            e,
            "package \"cjs-only\" does not export its main entry (\".\") under the conditions \
             workerd, worker, browser, import, default; it offers only \"require\" \
             (a CommonJS or Node-only build, which Workers cannot import)"
        );
    }

    #[test]
    fn invalid_targets_are_refused() {
        let t = Tmp::new("invalid");
        t.write(
            "node_modules/evil/package.json",
            r#"{"exports": {".": "../outside.js", "./a": "./x/../../y.js", "./b": "dist/b.js"}}"#,
        );
        for spec in ["evil", "evil/a", "evil/b"] {
            assert!(
                matches!(
                    t.resolve(spec).unwrap_err(),
                    ResolveError::InvalidTarget { .. }
                ),
                "{spec}"
            );
        }
    }

    #[test]
    fn package_imports() {
        let t = Tmp::new("imports");
        t.write(
            "package.json",
            r##"{"imports": {"#dep": {"node": "./node-dep.js", "default": "dep"}, "#internal/*": "./src/internal/*.ts", "#cjs": {"require": "./x.cjs"}}}"##,
        )
        .write("src/internal/a.ts", "")
        .write("node_modules/dep/index.js", "");
        assert_eq!(t.resolve("#internal/a").unwrap(), "src/internal/a.ts");
        assert_eq!(t.resolve("#dep").unwrap(), "node_modules/dep/index.js");
        let e = t.resolve("#cjs").unwrap_err().to_string();
        assert!(e.contains("offers only \"require\""), "{e}");
        assert!(matches!(
            t.resolve("#nope").unwrap_err(),
            ResolveError::NotImported { .. }
        ));
    }

    #[test]
    fn pattern_order() {
        let mut keys = vec!["./*", "./a/*", "./a/*.js", "./a/b"];
        keys.sort_by(|a, b| pattern_key_compare(a, b));
        assert_eq!(keys, ["./a/*.js", "./a/*", "./*", "./a/b"]);
    }
}
