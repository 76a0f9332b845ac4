//! `outpost build`: builds the worker's bundle with the builder `outpost dev`
//! and `outpost deploy` use, compiles it once to check it, prints its
//! modules, size and content hash, and with `--out` writes the
//! content-addressed bundle (the wire format nodes receive), its bytecode
//! for this engine build (`<hash>.<engine>.bytecode`) and a manifest.

use std::path::PathBuf;

use anyhow::Context as _;
use outpost_runtime::wire::encode_compiled;
use outpost_runtime::{content_hash, engine_version, CompiledBundle};

/// Arguments of `outpost build`.
#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// The worker's entry module (default: `main` from the config file).
    entry: Option<PathBuf>,
    /// Config file (default: outpost.toml, then wrangler.toml, in the current directory).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Directory to write `<hash>.bundle` and `manifest.json` to.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs `outpost build`.
pub fn run(args: BuildArgs) -> anyhow::Result<()> {
    let config = crate::build::load_config(args.config.as_deref())?;
    let built = crate::build::build(args.entry.as_deref(), config.as_ref())?;
    // The control plane refuses a bundle that does not compile: find out now.
    let compiled = CompiledBundle::compile(&built.bundle)?;
    let bytes = built.bundle.to_wire();
    let hash = content_hash(&bytes);
    for (name, source) in &built.bundle.modules {
        println!("  {name:<50} {:>9} bytes", source.len());
    }
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let file = out.join(format!("{hash}.bundle"));
        std::fs::write(&file, &bytes).with_context(|| format!("writing {}", file.display()))?;
        let bytecode_file = out.join(format!("{hash}.{}.bytecode", engine_version()));
        std::fs::write(&bytecode_file, encode_compiled(&compiled))
            .with_context(|| format!("writing {}", bytecode_file.display()))?;
        let manifest = serde_json::json!({
            "name": built.name,
            "entry": built.bundle.entry,
            "hash": hash,
            "size": bytes.len(),
            "bundle": file.file_name().map(|f| f.to_string_lossy().into_owned()),
            "bytecode": {
                "engine": engine_version(),
                "file": bytecode_file.file_name().map(|f| f.to_string_lossy().into_owned()),
                "size": compiled.size,
            },
            "modules": built.bundle.modules.iter().map(|(name, source)| {
                serde_json::json!({"name": name, "size": source.len()})
            }).collect::<Vec<_>>(),
        });
        let manifest_path = out.join("manifest.json");
        std::fs::write(&manifest_path, serde_json::to_vec_pretty(&manifest)?)
            .with_context(|| format!("writing {}", manifest_path.display()))?;
        println!("Wrote {}", file.display());
    }
    let count = built.bundle.modules.len();
    println!(
        "Built `{}`: {count} module{}, {} bytes, {} bytes of bytecode, bundle {hash}",
        built.name,
        if count == 1 { "" } else { "s" },
        bytes.len(),
        compiled.size
    );
    Ok(())
}
