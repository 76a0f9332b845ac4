//! TypeScript and npm packages end to end: a project with a `.ts` entry that
//! imports a package from `node_modules` (written by the test; no network),
//! served by the real `outpost dev`, and built by `outpost build --out`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use outpost_testkit::{get, Proc};

const BIN: &str = env!("CARGO_BIN_EXE_outpost");

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("outpost-build-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A worker in TypeScript using an enum, a type-only import, a scoped
/// package with conditional exports and a package with only `module`.
fn project(tag: &str) -> PathBuf {
    let d = scratch(tag);
    write(
        &d,
        "package.json",
        r#"{"name": "ts-worker", "private": true}"#,
    );
    write(
        &d,
        "src/index.ts",
        r#"import type { Greeting } from "./types";
import { Mood, describe } from "./mood";
import { greet } from "@fake/greeter";
import shout from "shouty";

export default {
  fetch(request: Request): Response {
    const who = new URL(request.url).searchParams.get("name") ?? "world";
    const g: Greeting = { text: greet(who), mood: Mood.Happy };
    return new Response(shout(g.text) + " " + describe(g.mood), {
      headers: { "content-type": "text/plain" },
    });
  },
};
"#,
    );
    write(
        &d,
        "src/types.ts",
        "import type { Mood } from './mood';\nexport interface Greeting { text: string; mood: Mood }\n",
    );
    write(
        &d,
        "src/mood.ts",
        "export enum Mood { Sad, Happy = 10 }\nexport const describe = (m: Mood): string => `${Mood[m]}(${m})`;\n",
    );
    write(
        &d,
        "node_modules/@fake/greeter/package.json",
        r#"{"name": "@fake/greeter", "exports": {".": {"require": "./cjs/index.js", "workerd": "./esm/worker.js", "default": "./esm/index.js"}}}"#,
    );
    write(
        &d,
        "node_modules/@fake/greeter/esm/worker.js",
        "import { prefix } from './prefix.js';\nexport const greet = (n) => `${prefix}, ${n} (workerd build)`;\n",
    );
    write(
        &d,
        "node_modules/@fake/greeter/esm/prefix.js",
        "export const prefix = 'Hello';\n",
    );
    write(
        &d,
        "node_modules/@fake/greeter/cjs/index.js",
        "module.exports = { greet: () => 'wrong build' };\n",
    );
    write(
        &d,
        "node_modules/shouty/package.json",
        r#"{"name": "shouty", "main": "index.cjs", "module": "index.mjs"}"#,
    );
    write(
        &d,
        "node_modules/shouty/index.mjs",
        "export default (s) => s.toUpperCase() + '!';\n",
    );
    d
}

#[test]
fn dev_serves_typescript_importing_a_package() {
    let d = project("dev");
    let mut dev = Proc::spawn(
        Command::new(BIN)
            .args(["dev", "src/index.ts", "--port", "0", "--threads", "1"])
            .current_dir(&d),
    );
    let addr = dev.addr_after("Ready on", Duration::from_secs(30));
    let r = get(addr, "localhost", "/?name=Ada").unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "HELLO, ADA (WORKERD BUILD)! Happy(10)");
}

#[test]
fn build_out_writes_the_content_addressed_bundle() {
    let d = project("out");
    let out = Command::new(BIN)
        .args(["build", "src/index.ts", "--out", "dist"])
        .current_dir(&d)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = stdout.lines().last().unwrap();
    assert!(
        summary.starts_with("Built `index`: 5 modules, "),
        "{stdout}"
    );
    let hash = summary.rsplit(' ').next().unwrap();
    assert_eq!(hash.len(), 64, "{summary}");
    for module in [
        "src/index.ts",
        "src/mood.ts",
        "node_modules/@fake/greeter/esm/worker.js",
        "node_modules/@fake/greeter/esm/prefix.js",
        "node_modules/shouty/index.mjs",
    ] {
        assert!(stdout.contains(module), "{module} missing:\n{stdout}");
    }
    let bytes = std::fs::read(d.join("dist").join(format!("{hash}.bundle"))).unwrap();
    assert_eq!(outpost_runtime::content_hash(&bytes), hash);
    let bundle = outpost_runtime::Bundle::from_wire(&bytes).unwrap();
    assert_eq!(bundle.entry, "src/index.ts");
    assert_eq!(bundle.modules.len(), 5);
    let manifest = std::fs::read_to_string(d.join("dist/manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest["hash"], hash);
    assert_eq!(manifest["size"], bytes.len());
    // The bytecode, keyed by engine, decodes to the bundle's modules.
    let engine = manifest["bytecode"]["engine"].as_str().unwrap();
    assert_eq!(engine, outpost_runtime::engine_version());
    let file = manifest["bytecode"]["file"].as_str().unwrap();
    assert_eq!(file, format!("{hash}.{engine}.bytecode"));
    let stored = std::fs::read(d.join("dist").join(file)).unwrap();
    // SAFETY: written by `outpost build` of this very build.
    let compiled = unsafe { outpost_runtime::wire::decode_compiled(&stored) }.unwrap();
    assert_eq!(compiled.entry, "src/index.ts");
    assert_eq!(compiled.bytecode.len(), 5);
    assert_eq!(manifest["bytecode"]["size"], compiled.size);
    // The same sources build to the same hash.
    let again = Command::new(BIN)
        .args(["build", "src/index.ts"])
        .current_dir(&d)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).ends_with(&format!("bundle {hash}\n")));
}

#[test]
fn build_names_the_import_that_failed() {
    let d = project("fail");
    write(
        &d,
        "src/index.ts",
        "import { greet } from \"@fake/greeter\";\nconst n: number = 1;\nimport pad from \"left-pad\";\nexport default { fetch() { return new Response(pad + greet + n) } };\n",
    );
    let out = Command::new(BIN)
        .args(["build", "src/index.ts"])
        .current_dir(&d)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "src/index.ts:3:17: cannot resolve \"left-pad\" from src/index.ts: no node_modules/left-pad"
        ),
        "{stderr}"
    );
}
