//! `outpost.toml` / `wrangler.toml`: the worker configuration file.
//!
//! The file is parsed into a [`toml::Table`] and walked by hand rather than
//! through serde derive, so that unknown keys become warnings (not errors)
//! and type errors name the full key path and both types.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use toml::{Table, Value};

use crate::error::{ConfigError, Result};
use crate::json::to_json;

/// The configuration file names [`discover`] looks for, in order of preference.
pub const CONFIG_FILE_NAMES: [&str; 2] = ["outpost.toml", "wrangler.toml"];

/// Largest accepted `limits.cpu_ms` (five minutes, Cloudflare's maximum).
pub const MAX_CPU_MS: u32 = 300_000;

/// Returns the configuration file in `dir`: `outpost.toml` if present,
/// otherwise `wrangler.toml`, otherwise `None`.
///
/// Only `dir` itself is searched, not its parents.
pub fn discover(dir: &Path) -> Option<PathBuf> {
    CONFIG_FILE_NAMES
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
}

/// A worker's configuration, as read from `outpost.toml` or `wrangler.toml`.
///
/// Optional keys that were absent are `None` or empty; defaults (e.g. for the
/// CPU limit or the dev-server port) are the caller's to apply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerConfig {
    /// The file this configuration was read from; relative paths inside it
    /// (such as [`main`](Self::main)) are relative to its directory.
    pub path: PathBuf,
    /// `name`: the worker's name.
    pub name: Option<String>,
    /// `main`: the entry-point module, exactly as written in the file. Use
    /// [`main_path`](Self::main_path) for the resolved path.
    pub main: Option<String>,
    /// `compatibility_date`, as written (a TOML date literal is accepted and
    /// kept in `YYYY-MM-DD` form).
    pub compatibility_date: Option<String>,
    /// `compatibility_flags`, e.g. `["nodejs_compat"]`.
    pub compatibility_flags: Vec<String>,
    /// `[vars]`: plain-text and JSON environment variables, by binding name.
    pub vars: BTreeMap<String, VarValue>,
    /// `[[kv_namespaces]]`, in file order.
    pub kv_namespaces: Vec<KvNamespace>,
    /// `[[d1_databases]]`, in file order.
    pub d1_databases: Vec<D1Database>,
    /// `[limits]`.
    pub limits: Limits,
    /// `routes`, or the single `route`, in file order.
    pub routes: Vec<Route>,
    /// `[dev]`: settings for the local dev server.
    pub dev: DevSettings,
    /// `[control]`: where `outpost deploy` and friends find the control
    /// plane (an Outpost extension; Wrangler ignores it).
    pub control: ControlSettings,
    /// Names of the `[env.NAME]` sections present. Their contents are not
    /// read yet (a warning says so).
    pub environments: Vec<String>,
    /// Human-readable warnings about ignored content (unknown keys,
    /// unsupported sections), for the caller to log; see
    /// [`log_warnings`](Self::log_warnings).
    pub warnings: Vec<String>,
}

/// The value of one `[vars]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarValue {
    /// A TOML string (or date/time), exposed to the worker as a JS string.
    Text(String),
    /// Any other TOML value (number, boolean, array, table), serialized as
    /// compact JSON; exposed to the worker as the parsed JS value.
    Json(String),
}

impl VarValue {
    /// The text, or the serialized JSON.
    pub fn as_str(&self) -> &str {
        match self {
            VarValue::Text(s) | VarValue::Json(s) => s,
        }
    }
}

/// One `[[kv_namespaces]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvNamespace {
    /// `binding`: the name under which the namespace appears on `env`.
    pub binding: String,
    /// `id`: the namespace's identifier.
    pub id: String,
    /// `preview_id`: the namespace used by `wrangler dev --remote`.
    pub preview_id: Option<String>,
    /// `primary_region`: where the namespace's primary copy lives.
    pub primary_region: Option<String>,
}

/// One `[[d1_databases]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct D1Database {
    /// `binding`: the name under which the database appears on `env`.
    pub binding: String,
    /// `database_name`: the database's human-readable name.
    pub database_name: String,
    /// `database_id`: the database's identifier.
    pub database_id: String,
    /// `primary_region`: where the database's primary copy lives.
    pub primary_region: Option<String>,
}

/// The `[limits]` table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// `cpu_ms`: CPU time allowed per request, in milliseconds
    /// (`1..=`[`MAX_CPU_MS`]).
    pub cpu_ms: Option<u32>,
}

/// The `[dev]` table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DevSettings {
    /// `port`: the port the dev server listens on (0 lets the OS choose).
    pub port: Option<u16>,
}

/// The `[control]` table: the control plane the CLI talks to.
///
/// The token itself is deliberately not a key: configuration files end up
/// in version control, so the file names a token *file* instead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ControlSettings {
    /// `url`: the control API, e.g. `http://127.0.0.1:8788`.
    pub url: Option<String>,
    /// `token_file`: a file holding the bearer token, relative to the
    /// configuration file's directory.
    pub token_file: Option<String>,
}

/// One entry of `routes` (or the single `route`).
///
/// The string form `"example.com/*"` yields a route with only `pattern` set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    /// `pattern`: the URL pattern, e.g. `example.com/*`.
    pub pattern: String,
    /// `zone_name`: the zone the pattern belongs to.
    pub zone_name: Option<String>,
    /// `zone_id`: the zone the pattern belongs to, by identifier.
    pub zone_id: Option<String>,
    /// `custom_domain`: whether the pattern is a custom domain for the worker.
    pub custom_domain: bool,
}

impl WorkerConfig {
    /// Reads and parses the configuration file at `path`.
    pub fn load(path: &Path) -> Result<WorkerConfig> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses configuration `text` as if read from `path`.
    ///
    /// `path` is used for error and warning messages and to resolve relative
    /// paths; it is not read.
    pub fn parse(text: &str, path: &Path) -> Result<WorkerConfig> {
        let table: Table = text.parse().map_err(|source| ConfigError::Syntax {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        let mut walker = Walker::new(path);
        let mut config = walker.top_level(&table)?;
        config.path = path.to_path_buf();
        config.warnings = walker.warnings;
        validate_bindings(&config)?;
        Ok(config)
    }

    /// The directory containing the configuration file.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new(""))
    }

    /// The entry-point module: `main`, resolved against the configuration
    /// file's directory (an absolute `main` is returned as-is). `None` when
    /// the file has no `main` key.
    pub fn main_path(&self) -> Option<PathBuf> {
        let main = self.main.as_deref()?;
        // `components()` drops interior `.` segments: `dir/./src` -> `dir/src`.
        Some(self.dir().join(main).components().collect())
    }

    /// Emits every entry of [`warnings`](Self::warnings) through
    /// `tracing::warn!`.
    pub fn log_warnings(&self) {
        for warning in &self.warnings {
            tracing::warn!("{warning}");
        }
    }
}

/// Walks the parsed TOML, collecting warnings and building the config.
struct Walker<'a> {
    path: &'a Path,
    /// The file's name as shown in warnings, e.g. `wrangler.toml`.
    file_name: String,
    warnings: Vec<String>,
}

impl<'a> Walker<'a> {
    fn new(path: &'a Path) -> Self {
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Walker {
            path,
            file_name,
            warnings: Vec::new(),
        }
    }

    fn top_level(&mut self, table: &Table) -> Result<WorkerConfig> {
        let mut config = WorkerConfig::default();
        let mut route = None;
        for (key, value) in table {
            let k = key_path("", key);
            match key.as_str() {
                "name" => config.name = Some(self.string(&k, value)?.to_owned()),
                "main" => {
                    let main = self.string(&k, value)?;
                    if main.is_empty() {
                        return Err(self.invalid(&k, "must not be empty".into()));
                    }
                    config.main = Some(main.to_owned());
                }
                "compatibility_date" => {
                    config.compatibility_date = Some(match value {
                        Value::String(s) => s.clone(),
                        Value::Datetime(d) if d.time.is_none() && d.offset.is_none() => {
                            d.to_string()
                        }
                        _ => return Err(self.wrong_type(&k, "a string", value)),
                    });
                }
                "compatibility_flags" => {
                    config.compatibility_flags = self
                        .array(&k, value, "an array of strings")?
                        .iter()
                        .enumerate()
                        .map(|(i, v)| self.string(&format!("{k}[{i}]"), v).map(str::to_owned))
                        .collect::<Result<_>>()?;
                }
                "vars" => config.vars = self.vars(&k, value)?,
                "kv_namespaces" => {
                    config.kv_namespaces = self.array_of_tables(&k, value, Self::kv_namespace)?;
                }
                "d1_databases" => {
                    config.d1_databases = self.array_of_tables(&k, value, Self::d1_database)?;
                }
                "limits" => config.limits = self.limits(&k, value)?,
                "routes" => {
                    let items = self.array(&k, value, "an array")?;
                    for (i, item) in items.iter().enumerate() {
                        config.routes.push(self.route(&format!("{k}[{i}]"), item)?);
                    }
                }
                "route" => route = Some(self.route(&k, value)?),
                "dev" => config.dev = self.dev(&k, value)?,
                "control" => config.control = self.control(&k, value)?,
                "env" => config.environments = self.environments(&k, value)?,
                _ => self.unknown(&k),
            }
        }
        if let Some(route) = route {
            if table.contains_key("routes") {
                return Err(self.invalid(
                    "route",
                    "and `routes` cannot both be set; use one or the other".into(),
                ));
            }
            config.routes.push(route);
        }
        Ok(config)
    }

    fn vars(&mut self, k: &str, value: &Value) -> Result<BTreeMap<String, VarValue>> {
        let table = self.table(k, value)?;
        Ok(table
            .iter()
            .map(|(name, v)| {
                let var = match v {
                    Value::String(s) => VarValue::Text(s.clone()),
                    Value::Datetime(d) => VarValue::Text(d.to_string()),
                    other => VarValue::Json(to_json(other)),
                };
                (name.clone(), var)
            })
            .collect())
    }

    fn kv_namespace(&mut self, k: &str, table: &Table) -> Result<KvNamespace> {
        let (mut binding, mut id, mut preview_id, mut primary_region) = (None, None, None, None);
        for (key, value) in table {
            let kk = key_path(k, key);
            match key.as_str() {
                "binding" => binding = Some(self.string(&kk, value)?.to_owned()),
                "id" => id = Some(self.string(&kk, value)?.to_owned()),
                "preview_id" => preview_id = Some(self.string(&kk, value)?.to_owned()),
                "primary_region" => primary_region = Some(self.string(&kk, value)?.to_owned()),
                _ => self.unknown(&kk),
            }
        }
        Ok(KvNamespace {
            binding: self.required(k, "binding", binding)?,
            id: self.required(k, "id", id)?,
            preview_id,
            primary_region,
        })
    }

    fn d1_database(&mut self, k: &str, table: &Table) -> Result<D1Database> {
        let (mut binding, mut name, mut id, mut primary_region) = (None, None, None, None);
        for (key, value) in table {
            let kk = key_path(k, key);
            match key.as_str() {
                "binding" => binding = Some(self.string(&kk, value)?.to_owned()),
                "database_name" => name = Some(self.string(&kk, value)?.to_owned()),
                "database_id" => id = Some(self.string(&kk, value)?.to_owned()),
                "primary_region" => primary_region = Some(self.string(&kk, value)?.to_owned()),
                _ => self.unknown(&kk),
            }
        }
        Ok(D1Database {
            binding: self.required(k, "binding", binding)?,
            database_name: self.required(k, "database_name", name)?,
            database_id: self.required(k, "database_id", id)?,
            primary_region,
        })
    }

    fn limits(&mut self, k: &str, value: &Value) -> Result<Limits> {
        let mut limits = Limits::default();
        for (key, value) in self.table(k, value)? {
            let kk = key_path(k, key);
            match key.as_str() {
                "cpu_ms" => {
                    let ms = self.integer(&kk, value)?;
                    if !(1..=i64::from(MAX_CPU_MS)).contains(&ms) {
                        return Err(self.invalid(
                            &kk,
                            format!("must be between 1 and {MAX_CPU_MS}, found {ms}"),
                        ));
                    }
                    limits.cpu_ms = u32::try_from(ms).ok();
                }
                _ => self.unknown(&kk),
            }
        }
        Ok(limits)
    }

    fn dev(&mut self, k: &str, value: &Value) -> Result<DevSettings> {
        let mut dev = DevSettings::default();
        for (key, value) in self.table(k, value)? {
            let kk = key_path(k, key);
            match key.as_str() {
                "port" => {
                    let port = self.integer(&kk, value)?;
                    let port = u16::try_from(port).map_err(|_| {
                        self.invalid(&kk, format!("must be between 0 and 65535, found {port}"))
                    })?;
                    dev.port = Some(port);
                }
                _ => self.unknown(&kk),
            }
        }
        Ok(dev)
    }

    fn control(&mut self, k: &str, value: &Value) -> Result<ControlSettings> {
        let mut control = ControlSettings::default();
        for (key, value) in self.table(k, value)? {
            let kk = key_path(k, key);
            match key.as_str() {
                "url" => control.url = Some(self.string(&kk, value)?.to_owned()),
                "token_file" => control.token_file = Some(self.string(&kk, value)?.to_owned()),
                "token" => {
                    return Err(self.invalid(
                        &kk,
                        "is not read from the config file (it would end up in version control); use `token_file`, `--token` or OUTPOST_TOKEN".into(),
                    ))
                }
                _ => self.unknown(&kk),
            }
        }
        Ok(control)
    }

    fn route(&mut self, k: &str, value: &Value) -> Result<Route> {
        let table = match value {
            Value::String(pattern) => {
                return Ok(Route {
                    pattern: pattern.clone(),
                    ..Route::default()
                })
            }
            Value::Table(table) => table,
            other => return Err(self.wrong_type(k, "a string or a table", other)),
        };
        let mut route = Route::default();
        let mut pattern = None;
        for (key, value) in table {
            let kk = key_path(k, key);
            match key.as_str() {
                "pattern" => pattern = Some(self.string(&kk, value)?.to_owned()),
                "zone_name" => route.zone_name = Some(self.string(&kk, value)?.to_owned()),
                "zone_id" => route.zone_id = Some(self.string(&kk, value)?.to_owned()),
                "custom_domain" => route.custom_domain = self.boolean(&kk, value)?,
                _ => self.unknown(&kk),
            }
        }
        route.pattern = self.required(k, "pattern", pattern)?;
        Ok(route)
    }

    fn environments(&mut self, k: &str, value: &Value) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for (name, env) in self.table(k, value)? {
            let kk = key_path(k, name);
            self.table(&kk, env)?;
            self.warnings.push(format!(
                "`[{kk}]` in {} is not supported yet (ignored)",
                self.file_name
            ));
            names.push(name.clone());
        }
        Ok(names)
    }

    // --- typed accessors -------------------------------------------------

    fn string<'v>(&self, k: &str, value: &'v Value) -> Result<&'v str> {
        match value {
            Value::String(s) => Ok(s),
            other => Err(self.wrong_type(k, "a string", other)),
        }
    }

    fn integer(&self, k: &str, value: &Value) -> Result<i64> {
        match value {
            Value::Integer(i) => Ok(*i),
            other => Err(self.wrong_type(k, "an integer", other)),
        }
    }

    fn boolean(&self, k: &str, value: &Value) -> Result<bool> {
        match value {
            Value::Boolean(b) => Ok(*b),
            other => Err(self.wrong_type(k, "a boolean", other)),
        }
    }

    fn table<'v>(&self, k: &str, value: &'v Value) -> Result<&'v Table> {
        match value {
            Value::Table(t) => Ok(t),
            other => Err(self.wrong_type(k, "a table", other)),
        }
    }

    fn array<'v>(&self, k: &str, value: &'v Value, expected: &'static str) -> Result<&'v [Value]> {
        match value {
            Value::Array(items) => Ok(items),
            other => Err(self.wrong_type(k, expected, other)),
        }
    }

    /// Walks an array of tables (`[[k]]` or `k = [{ .. }]`), calling `f` on
    /// each table with its key path `k[i]`.
    fn array_of_tables<T>(
        &mut self,
        k: &str,
        value: &Value,
        mut f: impl FnMut(&mut Self, &str, &Table) -> Result<T>,
    ) -> Result<Vec<T>> {
        let items = self.array(k, value, "an array of tables")?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let kk = format!("{k}[{i}]");
            let table = self.table(&kk, item)?;
            out.push(f(self, &kk, table)?);
        }
        Ok(out)
    }

    fn required<T>(&self, k: &str, key: &str, value: Option<T>) -> Result<T> {
        value.ok_or_else(|| ConfigError::MissingKey {
            path: self.path.to_path_buf(),
            key: key_path(k, key),
        })
    }

    // --- diagnostics -----------------------------------------------------

    fn unknown(&mut self, k: &str) {
        self.warnings
            .push(format!("unknown key `{k}` in {} (ignored)", self.file_name));
    }

    fn wrong_type(&self, k: &str, expected: &'static str, found: &Value) -> ConfigError {
        ConfigError::WrongType {
            path: self.path.to_path_buf(),
            key: k.to_owned(),
            expected,
            found: type_name(found),
        }
    }

    fn invalid(&self, k: &str, message: String) -> ConfigError {
        ConfigError::InvalidValue {
            path: self.path.to_path_buf(),
            key: k.to_owned(),
            message,
        }
    }
}

/// Checks that every binding name is a JS identifier and that no name is
/// declared twice across `[vars]`, `[[kv_namespaces]]` and `[[d1_databases]]`.
fn validate_bindings(config: &WorkerConfig) -> Result<()> {
    let vars = config
        .vars
        .keys()
        .map(|name| (name.as_str(), key_path("vars", name)));
    let kv = config
        .kv_namespaces
        .iter()
        .enumerate()
        .map(|(i, kv)| (kv.binding.as_str(), format!("kv_namespaces[{i}]")));
    let d1 = config
        .d1_databases
        .iter()
        .enumerate()
        .map(|(i, db)| (db.binding.as_str(), format!("d1_databases[{i}]")));

    let mut seen: HashMap<&str, String> = HashMap::new();
    for (name, key) in vars.chain(kv).chain(d1) {
        if !is_js_identifier(name) {
            let key = if key.starts_with("vars") {
                key
            } else {
                format!("{key}.binding")
            };
            return Err(ConfigError::InvalidBindingName {
                path: config.path.clone(),
                name: name.to_owned(),
                key,
            });
        }
        if let Some(first) = seen.get(name) {
            return Err(ConfigError::DuplicateBinding {
                path: config.path.clone(),
                name: name.to_owned(),
                first: first.clone(),
                second: key,
            });
        }
        seen.insert(name, key);
    }
    Ok(())
}

/// Whether `name` is a JavaScript identifier usable as a binding: an
/// IdentifierName that is not a reserved word (in strict-mode code).
///
/// Non-ASCII letters are accepted via Unicode's alphabetic/alphanumeric
/// properties, a close approximation of `ID_Start`/`ID_Continue`.
pub fn is_js_identifier(name: &str) -> bool {
    const RESERVED: &[&str] = &[
        "await",
        "break",
        "case",
        "catch",
        "class",
        "const",
        "continue",
        "debugger",
        "default",
        "delete",
        "do",
        "else",
        "enum",
        "export",
        "extends",
        "false",
        "finally",
        "for",
        "function",
        "if",
        "implements",
        "import",
        "in",
        "instanceof",
        "interface",
        "let",
        "new",
        "null",
        "package",
        "private",
        "protected",
        "public",
        "return",
        "static",
        "super",
        "switch",
        "this",
        "throw",
        "true",
        "try",
        "typeof",
        "var",
        "void",
        "while",
        "with",
        "yield",
    ];
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first == '_' || first == '$' || first.is_alphabetic())
        && chars.all(|c| {
            c == '_' || c == '$' || c.is_alphanumeric() || c == '\u{200c}' || c == '\u{200d}'
        })
        && !RESERVED.contains(&name)
}

/// Appends `key` to the dotted key path `prefix`, quoting it if it is not a
/// bare TOML key.
fn key_path(prefix: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    };
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}.{key}")
    }
}

/// The TOML type of `value`, with its indefinite article.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a datetime",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WorkerConfig> {
        WorkerConfig::parse(text, Path::new("/proj/outpost.toml"))
    }

    /// Parses `text`, expecting an error, and returns its message.
    fn error(text: &str) -> String {
        match parse(text) {
            Ok(config) => panic!("expected an error, got {config:#?}"),
            Err(e) => e.to_string(),
        }
    }

    /// A configuration in the shape of the examples in Cloudflare's
    /// "Configuration - Wrangler" documentation, with bindings renamed from
    /// placeholders like `<BINDING_NAME>` to valid identifiers.
    const CLOUDFLARE_EXAMPLE: &str = r#"
#:schema node_modules/wrangler/config-schema.json
name = "my-worker"
main = "src/index.js"
compatibility_date = "2022-07-12"
compatibility_flags = ["nodejs_compat"]

workers_dev = false
route = { pattern = "example.org/*", zone_name = "example.org" }

kv_namespaces = [
  { binding = "MY_NAMESPACE", id = "abc123", preview_id = "def456" }
]

[vars]
API_HOST = "example.com"
API_ACCOUNT_ID = "example_user"
SERVICE_X_DATA = { URL = "service-x-api.dev.example", MY_ID = 123 }

[[d1_databases]]
binding = "DB"
database_name = "prod-d1-tutorial"
database_id = "4e1c28a9-90e4-41da-8b4b-6cf36e5abb29"

[limits]
cpu_ms = 100

[dev]
port = 8787

[env.staging]
name = "my-worker-staging"
route = { pattern = "staging.example.org/*", zone_name = "example.org" }

kv_namespaces = [
  { binding = "MY_NAMESPACE", id = "staging-id" }
]
"#;

    #[test]
    fn parses_cloudflare_docs_example() {
        let config = WorkerConfig::parse(CLOUDFLARE_EXAMPLE, Path::new("/proj/wrangler.toml"))
            .expect("example parses");
        assert_eq!(config.path, Path::new("/proj/wrangler.toml"));
        assert_eq!(config.name.as_deref(), Some("my-worker"));
        assert_eq!(config.main.as_deref(), Some("src/index.js"));
        assert_eq!(
            config.main_path(),
            Some(PathBuf::from("/proj/src/index.js"))
        );
        assert_eq!(config.compatibility_date.as_deref(), Some("2022-07-12"));
        assert_eq!(config.compatibility_flags, ["nodejs_compat"]);
        assert_eq!(
            config.routes,
            [Route {
                pattern: "example.org/*".into(),
                zone_name: Some("example.org".into()),
                ..Route::default()
            }]
        );
        assert_eq!(
            config.kv_namespaces,
            [KvNamespace {
                binding: "MY_NAMESPACE".into(),
                id: "abc123".into(),
                preview_id: Some("def456".into()),
                primary_region: None,
            }]
        );
        assert_eq!(
            config.d1_databases,
            [D1Database {
                binding: "DB".into(),
                database_name: "prod-d1-tutorial".into(),
                database_id: "4e1c28a9-90e4-41da-8b4b-6cf36e5abb29".into(),
                primary_region: None,
            }]
        );
        let vars: Vec<_> = config
            .vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        assert_eq!(
            vars,
            [
                ("API_ACCOUNT_ID", VarValue::Text("example_user".into())),
                ("API_HOST", VarValue::Text("example.com".into())),
                (
                    "SERVICE_X_DATA",
                    VarValue::Json(r#"{"MY_ID":123,"URL":"service-x-api.dev.example"}"#.into())
                ),
            ]
        );
        assert_eq!(config.limits.cpu_ms, Some(100));
        assert_eq!(config.dev.port, Some(8787));
        assert_eq!(config.environments, ["staging"]);
        assert_eq!(
            config.warnings,
            [
                "`[env.staging]` in wrangler.toml is not supported yet (ignored)",
                "unknown key `workers_dev` in wrangler.toml (ignored)",
            ]
        );
    }

    #[test]
    fn control_table() {
        let config = parse(
            "[control]\nurl = \"http://10.0.0.1:8788\"\ntoken_file = \".outpost/admin-token\"\n",
        )
        .unwrap();
        assert_eq!(
            config.control,
            ControlSettings {
                url: Some("http://10.0.0.1:8788".into()),
                token_file: Some(".outpost/admin-token".into()),
            }
        );
        let e = parse("[control]\ntoken = \"secret\"")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("control.token") && e.contains("token_file"),
            "{e}"
        );
    }

    #[test]
    fn minimal_and_empty_files() {
        let config = parse("").unwrap();
        assert_eq!(config.name, None);
        assert_eq!(config.main_path(), None);
        assert!(config.warnings.is_empty());

        let config = parse("main = \"./src/../worker.js\"").unwrap();
        assert_eq!(
            config.main_path(),
            Some(PathBuf::from("/proj/src/../worker.js"))
        );
        let config = parse("main = \"/abs/worker.js\"").unwrap();
        assert_eq!(config.main_path(), Some(PathBuf::from("/abs/worker.js")));
        let config = WorkerConfig::parse("main = \"w.js\"", Path::new("outpost.toml")).unwrap();
        assert_eq!(config.main_path(), Some(PathBuf::from("w.js")));
    }

    #[test]
    fn array_of_tables_syntax_and_optional_fields() {
        let config = parse(
            r#"
            [[kv_namespaces]]
            binding = "CACHE"
            id = "c1"
            primary_region = "weur"

            [[kv_namespaces]]
            binding = "SESSIONS"
            id = "s1"

            [[d1_databases]]
            binding = "DB"
            database_name = "main"
            database_id = "d1"
            primary_region = "enam"
            "#,
        )
        .unwrap();
        assert_eq!(config.kv_namespaces.len(), 2);
        assert_eq!(
            config.kv_namespaces[0].primary_region.as_deref(),
            Some("weur")
        );
        assert_eq!(config.kv_namespaces[1].binding, "SESSIONS");
        assert_eq!(config.kv_namespaces[1].preview_id, None);
        assert_eq!(
            config.d1_databases[0].primary_region.as_deref(),
            Some("enam")
        );
    }

    #[test]
    fn routes_accept_strings_and_tables() {
        let config = parse(
            r#"routes = [
                "example.com/*",
                { pattern = "shop.example.com", custom_domain = true },
                { pattern = "example.net/*", zone_id = "z1" },
            ]"#,
        )
        .unwrap();
        assert_eq!(
            config.routes,
            [
                Route {
                    pattern: "example.com/*".into(),
                    ..Route::default()
                },
                Route {
                    pattern: "shop.example.com".into(),
                    custom_domain: true,
                    ..Route::default()
                },
                Route {
                    pattern: "example.net/*".into(),
                    zone_id: Some("z1".into()),
                    ..Route::default()
                },
            ]
        );
        let config = parse(r#"route = "example.com/*""#).unwrap();
        assert_eq!(config.routes[0].pattern, "example.com/*");
        assert!(error("route = \"a/*\"\nroutes = [\"b/*\"]")
            .ends_with("`route` and `routes` cannot both be set; use one or the other"));
    }

    #[test]
    fn var_values() {
        let config = parse(
            r#"
            [vars]
            S = "text"
            I = 42
            F = 1.5
            B = true
            A = [1, "x"]
            D = 2024-01-02
            "#,
        )
        .unwrap();
        let get = |k: &str| config.vars[k].clone();
        assert_eq!(get("S"), VarValue::Text("text".into()));
        assert_eq!(get("I"), VarValue::Json("42".into()));
        assert_eq!(get("F"), VarValue::Json("1.5".into()));
        assert_eq!(get("B"), VarValue::Json("true".into()));
        assert_eq!(get("A"), VarValue::Json(r#"[1,"x"]"#.into()));
        assert_eq!(get("D"), VarValue::Text("2024-01-02".into()));
        assert_eq!(get("I").as_str(), "42");
    }

    #[test]
    fn compatibility_date_accepts_a_date_literal() {
        let config = parse("compatibility_date = 2024-09-23").unwrap();
        assert_eq!(config.compatibility_date.as_deref(), Some("2024-09-23"));
        assert!(error("compatibility_date = 2024-09-23T10:00:00Z")
            .ends_with("`compatibility_date` must be a string, found a datetime"));
    }

    #[test]
    fn unknown_keys_become_warnings() {
        let config = parse(
            r#"
            name = "w"
            foo = 1
            "odd key" = 2
            [limits]
            cpu_ms = 50
            foo = 1
            [dev]
            ip = "0.0.0.0"
            [[kv_namespaces]]
            binding = "KV"
            id = "k"
            extra = true
            [[d1_databases]]
            binding = "DB"
            database_name = "n"
            database_id = "i"
            migrations_dir = "m"
            [[routes]]
            pattern = "a/*"
            zone = "x"
            "#,
        )
        .unwrap();
        assert_eq!(config.name.as_deref(), Some("w"));
        assert_eq!(config.limits.cpu_ms, Some(50));
        assert_eq!(
            config.warnings,
            [
                "unknown key `d1_databases[0].migrations_dir` in outpost.toml (ignored)",
                "unknown key `dev.ip` in outpost.toml (ignored)",
                "unknown key `foo` in outpost.toml (ignored)",
                "unknown key `kv_namespaces[0].extra` in outpost.toml (ignored)",
                "unknown key `limits.foo` in outpost.toml (ignored)",
                "unknown key `\"odd key\"` in outpost.toml (ignored)",
                "unknown key `routes[0].zone` in outpost.toml (ignored)",
            ]
        );
    }

    #[test]
    fn wrong_types_name_the_key_and_both_types() {
        let cases: &[(&str, &str)] = &[
            ("name = 1", "`name` must be a string, found an integer"),
            ("main = true", "`main` must be a string, found a boolean"),
            (
                "compatibility_date = 20240101",
                "`compatibility_date` must be a string, found an integer",
            ),
            (
                "compatibility_flags = \"nodejs_compat\"",
                "`compatibility_flags` must be an array of strings, found a string",
            ),
            (
                "compatibility_flags = [\"a\", 2]",
                "`compatibility_flags[1]` must be a string, found an integer",
            ),
            ("vars = 1", "`vars` must be a table, found an integer"),
            (
                "kv_namespaces = { binding = \"KV\" }",
                "`kv_namespaces` must be an array of tables, found a table",
            ),
            (
                "kv_namespaces = [\"KV\"]",
                "`kv_namespaces[0]` must be a table, found a string",
            ),
            (
                "[[kv_namespaces]]\nbinding = 1\nid = \"x\"",
                "`kv_namespaces[0].binding` must be a string, found an integer",
            ),
            (
                "[[kv_namespaces]]\nbinding = \"KV\"\nid = \"x\"\npreview_id = []",
                "`kv_namespaces[0].preview_id` must be a string, found an array",
            ),
            (
                "[[kv_namespaces]]\nbinding = \"KV\"\nid = \"x\"\nprimary_region = 1.0",
                "`kv_namespaces[0].primary_region` must be a string, found a float",
            ),
            (
                "[[d1_databases]]\nbinding = \"DB\"\ndatabase_name = {}\ndatabase_id = \"x\"",
                "`d1_databases[0].database_name` must be a string, found a table",
            ),
            (
                "[[d1_databases]]\nbinding = \"DB\"\ndatabase_name = \"n\"\ndatabase_id = 5",
                "`d1_databases[0].database_id` must be a string, found an integer",
            ),
            ("limits = []", "`limits` must be a table, found an array"),
            (
                "[limits]\ncpu_ms = \"50\"",
                "`limits.cpu_ms` must be an integer, found a string",
            ),
            (
                "[limits]\ncpu_ms = 50.0",
                "`limits.cpu_ms` must be an integer, found a float",
            ),
            (
                "routes = \"a/*\"",
                "`routes` must be an array, found a string",
            ),
            (
                "routes = [1]",
                "`routes[0]` must be a string or a table, found an integer",
            ),
            (
                "routes = [{ pattern = 1 }]",
                "`routes[0].pattern` must be a string, found an integer",
            ),
            (
                "route = { pattern = \"a\", custom_domain = \"yes\" }",
                "`route.custom_domain` must be a boolean, found a string",
            ),
            (
                "route = { pattern = \"a\", zone_name = 1 }",
                "`route.zone_name` must be a string, found an integer",
            ),
            ("dev = 1", "`dev` must be a table, found an integer"),
            (
                "[dev]\nport = \"8787\"",
                "`dev.port` must be an integer, found a string",
            ),
            ("env = \"prod\"", "`env` must be a table, found a string"),
            (
                "[env]\nstaging = 1",
                "`env.staging` must be a table, found an integer",
            ),
        ];
        for (text, expected) in cases {
            let message = error(text);
            assert_eq!(
                message,
                format!("/proj/outpost.toml: {expected}"),
                "for input {text:?}"
            );
        }
    }

    #[test]
    fn missing_required_keys() {
        assert!(error("[[kv_namespaces]]\nbinding = \"KV\"")
            .ends_with("missing required key `kv_namespaces[0].id`"));
        assert!(error("[[kv_namespaces]]\nid = \"x\"")
            .ends_with("missing required key `kv_namespaces[0].binding`"));
        assert!(
            error("[[d1_databases]]\nbinding = \"DB\"\ndatabase_name = \"n\"")
                .ends_with("missing required key `d1_databases[0].database_id`")
        );
        assert!(error("route = { zone_name = \"z\" }")
            .ends_with("missing required key `route.pattern`"));
    }

    #[test]
    fn value_ranges() {
        for ms in [0, -1, 300_001] {
            assert_eq!(
                error(&format!("[limits]\ncpu_ms = {ms}")),
                format!(
                    "/proj/outpost.toml: `limits.cpu_ms` must be between 1 and 300000, found {ms}"
                )
            );
        }
        assert_eq!(
            parse("[limits]\ncpu_ms = 1").unwrap().limits.cpu_ms,
            Some(1)
        );
        assert_eq!(
            parse("[limits]\ncpu_ms = 300000").unwrap().limits.cpu_ms,
            Some(300_000)
        );
        assert!(error("[dev]\nport = 65536")
            .ends_with("`dev.port` must be between 0 and 65535, found 65536"));
        assert!(error("main = \"\"").ends_with("`main` must not be empty"));
    }

    #[test]
    fn binding_names_must_be_identifiers() {
        assert_eq!(
            error("[[kv_namespaces]]\nbinding = \"MY-KV\"\nid = \"x\""),
            "/proj/outpost.toml: binding name `MY-KV` (at `kv_namespaces[0].binding`) \
             is not a valid JavaScript identifier"
        );
        assert!(error("[vars]\n\"API KEY\" = \"x\"").ends_with(
            "binding name `API KEY` (at `vars.\"API KEY\"`) is not a valid JavaScript identifier"
        ));
        assert!(error(
            "[[d1_databases]]\nbinding = \"1DB\"\ndatabase_name = \"n\"\ndatabase_id = \"i\""
        )
        .contains("`1DB` (at `d1_databases[0].binding`)"));
        assert!(error("[vars]\nclass = \"x\"").contains("binding name `class`"));

        for ok in ["DB", "_private", "$x", "camelCase9", "Ünïcode"] {
            assert!(is_js_identifier(ok), "{ok}");
        }
        for bad in ["", "9lives", "a-b", "a.b", "a b", "null", "await"] {
            assert!(!is_js_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn duplicate_bindings_are_named() {
        assert_eq!(
            error(
                "[vars]\nDB = \"x\"\n[[d1_databases]]\nbinding = \"DB\"\n\
                 database_name = \"n\"\ndatabase_id = \"i\""
            ),
            "/proj/outpost.toml: binding name `DB` is declared more than once \
             (`vars.DB` and `d1_databases[0]`)"
        );
        assert!(error(
            "[[kv_namespaces]]\nbinding = \"KV\"\nid = \"a\"\n\
             [[kv_namespaces]]\nbinding = \"KV\"\nid = \"b\""
        )
        .ends_with("`KV` is declared more than once (`kv_namespaces[0]` and `kv_namespaces[1]`)"));
    }

    #[test]
    fn syntax_and_read_errors() {
        let message = error("name = ");
        assert!(
            message.starts_with("/proj/outpost.toml: invalid TOML:"),
            "{message}"
        );
        let err = WorkerConfig::load(Path::new("/nonexistent/outpost.toml")).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err}");
    }

    #[test]
    fn discovery_prefers_outpost_toml() {
        let dir = crate::tests::TempDir::new("discover");
        assert_eq!(discover(dir.path()), None);

        std::fs::write(dir.path().join("wrangler.toml"), "name = \"w\"").unwrap();
        assert_eq!(discover(dir.path()), Some(dir.path().join("wrangler.toml")));

        std::fs::write(dir.path().join("outpost.toml"), "name = \"o\"").unwrap();
        let found = discover(dir.path()).unwrap();
        assert_eq!(found, dir.path().join("outpost.toml"));
        let config = WorkerConfig::load(&found).unwrap();
        assert_eq!(config.name.as_deref(), Some("o"));
        assert_eq!(config.dir(), dir.path());

        // A directory with the right name is not a config file.
        let nested = crate::tests::TempDir::new("discover-dir");
        std::fs::create_dir(nested.path().join("outpost.toml")).unwrap();
        assert_eq!(discover(nested.path()), None);
    }
}
