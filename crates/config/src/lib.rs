//! Worker configuration for Outpost.
//!
//! This crate owns reading a worker's project files: the configuration file
//! (`outpost.toml`, or Cloudflare's `wrangler.toml` with the same keys) and
//! the `.dev.vars` secrets file. It turns them into plain data
//! ([`WorkerConfig`], a list of secret pairs) and validates them (types,
//! ranges, binding names), but does not act on them: applying defaults,
//! creating bindings and starting servers are the callers' business.
//!
//! Unknown keys are not errors: they are collected in
//! [`WorkerConfig::warnings`] for the caller to log. Errors name the file and
//! the full key path, e.g. `` `limits.cpu_ms` must be an integer, found a string ``.
//!
//! ```no_run
//! # fn main() -> Result<(), outpost_config::ConfigError> {
//! let dir = std::path::Path::new(".");
//! if let Some(path) = outpost_config::discover(dir) {
//!     let config = outpost_config::WorkerConfig::load(&path)?;
//!     config.log_warnings();
//!     let secrets = outpost_config::load_dev_vars(config.dir())?;
//!     # let _ = (config.main_path(), secrets);
//! }
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod dev_vars;
mod error;
mod json;
mod worker;

pub use dev_vars::{load_dev_vars, parse_dev_vars, DEV_VARS_FILE};
pub use error::{ConfigError, Result};
pub use worker::{
    discover, is_js_identifier, ControlSettings, D1Database, DevSettings, KvNamespace, Limits,
    Route, VarValue, WorkerConfig, CONFIG_FILE_NAMES, MAX_CPU_MS,
};

#[cfg(test)]
pub(crate) mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh directory under `std::env::temp_dir()`, removed on drop.
    pub(crate) struct TempDir(PathBuf);

    impl TempDir {
        pub(crate) fn new(label: &str) -> Self {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let path = std::env::temp_dir().join(format!(
                "outpost-config-{label}-{}-{nanos}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&path).expect("create temp dir");
            TempDir(path)
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
