//! The error type shared by config-file and `.dev.vars` loading.

use std::path::PathBuf;

/// Everything that can go wrong while reading a worker's configuration.
///
/// Every variant carries the path of the file at fault, and its `Display`
/// output starts with that path so the CLI can print it as-is.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists (or was named explicitly) but could not be read.
    #[error("{}: cannot read file: {source}", path.display())]
    Read {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The file is not valid TOML.
    #[error("{}: invalid TOML: {source}", path.display())]
    Syntax {
        /// The config file.
        path: PathBuf,
        /// The parser's error, which includes line and column.
        #[source]
        source: Box<toml::de::Error>,
    },

    /// A key holds a value of the wrong TOML type.
    #[error("{}: `{key}` must be {expected}, found {found}", path.display())]
    WrongType {
        /// The config file.
        path: PathBuf,
        /// Dotted key path, e.g. `limits.cpu_ms` or `kv_namespaces[0].id`.
        key: String,
        /// What was expected, with its article: "an integer", "a string".
        expected: &'static str,
        /// What was found, with its article: "a string", "a table".
        found: &'static str,
    },

    /// A required key is absent.
    #[error("{}: missing required key `{key}`", path.display())]
    MissingKey {
        /// The config file.
        path: PathBuf,
        /// Dotted key path of the missing key, e.g. `d1_databases[0].database_id`.
        key: String,
    },

    /// A key has the right type but an unacceptable value.
    #[error("{}: `{key}` {message}", path.display())]
    InvalidValue {
        /// The config file.
        path: PathBuf,
        /// Dotted key path of the offending key.
        key: String,
        /// What is wrong, phrased to follow the key: "must be between 1 and 300000, found 0".
        message: String,
    },

    /// A binding name (a var, KV namespace or D1 database) is not a valid
    /// JavaScript identifier, so it could not be used as `env.NAME`.
    #[error(
        "{}: binding name `{name}` (at `{key}`) is not a valid JavaScript identifier",
        path.display()
    )]
    InvalidBindingName {
        /// The config file.
        path: PathBuf,
        /// The rejected name.
        name: String,
        /// Key path where it was declared, e.g. `kv_namespaces[0].binding`.
        key: String,
    },

    /// Two bindings (vars, KV namespaces, D1 databases) share a name.
    #[error(
        "{}: binding name `{name}` is declared more than once (`{first}` and `{second}`)",
        path.display()
    )]
    DuplicateBinding {
        /// The config file.
        path: PathBuf,
        /// The name used twice.
        name: String,
        /// Key path of the first declaration, e.g. `vars.DB`.
        first: String,
        /// Key path of the second declaration, e.g. `d1_databases[0]`.
        second: String,
    },

    /// A `.dev.vars` line could not be parsed.
    #[error("{}:{line}: {message}", path.display())]
    DevVars {
        /// The `.dev.vars` file.
        path: PathBuf,
        /// 1-based line number of the offending line.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
}

/// Shorthand for results whose error is [`ConfigError`].
pub type Result<T, E = ConfigError> = std::result::Result<T, E>;
