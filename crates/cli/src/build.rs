//! The bundle builder shared by `outpost dev` and `outpost deploy`, so what
//! runs in dev is what deploys: read the config, find the entry and the
//! project root, and walk the module graph into a [`Bundle`] with
//! [`outpost_bundler`] (TypeScript, JSON/text modules, `node_modules`).

use std::path::{Path, PathBuf};

use anyhow::bail;
use outpost_config::{VarValue, WorkerConfig};
use outpost_runtime::{Bundle, EnvValue};

/// A built bundle and what it was built from.
pub struct Built {
    /// The modules.
    pub bundle: Bundle,
    /// The worker's name: `name` from the config, else the entry's stem.
    pub name: String,
}

/// Loads the config file: `explicit`, else `outpost.toml` or
/// `wrangler.toml` in the current directory, else none.
pub fn load_config(explicit: Option<&Path>) -> anyhow::Result<Option<WorkerConfig>> {
    let path = match explicit {
        Some(p) => Some(p.to_path_buf()),
        None => outpost_config::discover(&std::env::current_dir()?),
    };
    let Some(path) = path else { return Ok(None) };
    Ok(Some(WorkerConfig::load(&path)?))
}

/// Builds the bundle of `entry`, or of the config's `main`.
pub fn build(entry: Option<&Path>, config: Option<&WorkerConfig>) -> anyhow::Result<Built> {
    let entry = match (entry, config.and_then(WorkerConfig::main_path)) {
        (Some(e), _) => e.to_path_buf(),
        (None, Some(m)) => m,
        (None, None) => bail!("no entry module: pass one (e.g. `src/index.js`) or set `main` in outpost.toml or wrangler.toml"),
    };
    if !entry.is_file() {
        bail!("entry module `{}` does not exist", entry.display());
    }
    let entry = entry.canonicalize()?;
    let config_dir = config.map(|c| c.dir().to_path_buf());
    // The bundle root bounds what relative imports may reach: the project
    // (config) directory, else the nearest directory above the entry that
    // looks like a project root, else the entry's own directory.
    let root = match &config_dir {
        Some(d) if entry.starts_with(d.canonicalize().unwrap_or_else(|_| d.clone())) => {
            d.canonicalize()?
        }
        _ => project_root(&entry),
    };
    if !entry.starts_with(&root) {
        bail!("entry is outside the project root {}", root.display());
    }
    let bundle = outpost_bundler::build(&root, &entry)?;
    let name = config.and_then(|c| c.name.clone()).unwrap_or_else(|| {
        entry
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "worker".into())
    });
    Ok(Built { bundle, name })
}

/// The config's `[vars]` as `env` values.
pub fn vars_env(config: &WorkerConfig) -> Vec<(String, EnvValue)> {
    config
        .vars
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                match v {
                    VarValue::Text(s) => EnvValue::Text(s.clone()),
                    VarValue::Json(j) => EnvValue::Json(j.clone()),
                },
            )
        })
        .collect()
}

/// The nearest ancestor of `entry` holding `package.json`, a worker config
/// or `.git`; the entry's directory when there is none.
fn project_root(entry: &Path) -> PathBuf {
    let dir = entry.parent().unwrap_or(Path::new("/"));
    let markers = ["package.json", "outpost.toml", "wrangler.toml", ".git"];
    dir.ancestors()
        .find(|d| markers.iter().any(|m| d.join(m).exists()))
        .unwrap_or(dir)
        .to_path_buf()
}
