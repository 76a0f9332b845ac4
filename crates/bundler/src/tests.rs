//! Module graph tests: projects written to a temporary directory, built,
//! and compiled by the runtime to check that every rewritten import links.

use std::path::PathBuf;

use outpost_runtime::CompiledBundle;

use super::*;

struct Project(PathBuf);

impl Project {
    fn new(tag: &str) -> Project {
        let d = std::env::temp_dir().join(format!("outpost-bundler-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Project(d)
    }
    fn file(&self, rel: &str, text: &str) -> &Project {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        self
    }
    fn build(&self, entry: &str) -> Result<Bundle, BundleError> {
        build(&self.0, &self.0.join(entry))
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn names(b: &Bundle) -> Vec<&str> {
    b.modules.keys().map(String::as_str).collect()
}

#[test]
fn typescript_and_packages_keep_module_identity() {
    let p = Project::new("graph");
    p.file(
        "src/index.ts",
        r#"import type { Env } from "./types";
import { shout } from "./util";
import pad from "left-pad";
import { version } from "@acme/lib/version";
import data from "../data.json";
export default {
  async fetch(req: Request, env: Env): Promise<Response> {
    const { late } = await import("./late.js");
    return new Response(pad(shout("hi"), 6) + version + data.n + late);
  },
};
"#,
    )
    .file("src/types.ts", "export interface Env { A: string }")
    .file(
        "src/util.ts",
        "export const shout = (s: string): string => s.toUpperCase();",
    )
    .file("src/late.ts", "export const late: number = 1;")
    .file("data.json", r#"{"n": 42}"#)
    .file(
        "node_modules/left-pad/package.json",
        r#"{"name": "left-pad", "main": "index.cjs", "module": "esm/index.js"}"#,
    )
    .file(
        "node_modules/left-pad/esm/index.js",
        "import { fill } from './fill';\nexport default (s, n) => fill(n - s.length) + s;",
    )
    .file(
        "node_modules/left-pad/esm/fill.js",
        "export const fill = n => ' '.repeat(Math.max(0, n));",
    )
    .file(
        "node_modules/@acme/lib/package.json",
        r#"{"exports": {"./version": {"workerd": "./v-workerd.js", "default": "./v.js"}}}"#,
    )
    .file(
        "node_modules/@acme/lib/v-workerd.js",
        "export const version = 'w';",
    );
    let b = p.build("src/index.ts").unwrap();
    assert_eq!(b.entry, "src/index.ts");
    assert_eq!(
        names(&b),
        [
            "data.json",
            "node_modules/@acme/lib/v-workerd.js",
            "node_modules/left-pad/esm/fill.js",
            "node_modules/left-pad/esm/index.js",
            "src/index.ts",
            "src/late.ts",
            "src/util.ts",
        ]
    );
    let index = &b.modules["src/index.ts"];
    assert!(index.contains(r#"from "./util.ts""#), "{index}");
    assert!(
        index.contains(r#"from "../node_modules/left-pad/esm/index.js""#),
        "{index}"
    );
    assert!(
        index.contains(r#"from "../node_modules/@acme/lib/v-workerd.js""#),
        "{index}"
    );
    assert!(index.contains(r#"import("./late.ts")"#), "{index}");
    assert!(index.contains(r#"from "../data.json""#), "{index}");
    assert!(!index.contains("Env"), "{index}");
    // The package's own fully-specified import is left as written.
    let pad = &b.modules["node_modules/left-pad/esm/index.js"];
    assert!(pad.contains("from \"./fill.js\""), "{pad}");
    assert_eq!(b.files.len(), 7);
    // Every import links in the engine.
    let c = CompiledBundle::compile(&b).unwrap();
    assert_eq!(c.bytecode.len(), 7);
}

#[test]
fn missing_package_names_importer_specifier_and_location() {
    let p = Project::new("missing");
    p.file(
        "src/index.ts",
        "const a: number = 1;\n\nimport pad from \"left-pad\";\nexport default { fetch() { return new Response(pad) } };\n",
    );
    let e = p.build("src/index.ts").unwrap_err().to_string();
    assert_eq!(
        e,
        "src/index.ts:3:17: cannot resolve \"left-pad\" from src/index.ts: no node_modules/left-pad"
    );
    p.file("src/index.ts", "import './nope';");
    let e = p.build("src/index.ts").unwrap_err().to_string();
    assert_eq!(
        e,
        "src/index.ts:1:8: cannot resolve \"./nope\" from src/index.ts: file not found: src/nope"
    );
}

#[test]
fn commonjs_and_require_only_packages_are_refused() {
    let p = Project::new("cjs");
    p.file("index.js", "import x from 'old';\nexport default {};")
        .file("node_modules/old/package.json", r#"{"main": "lib.js"}"#)
        .file(
            "node_modules/old/lib.js",
            "module.exports = function () {};",
        );
    let e = p.build("index.js").unwrap_err().to_string();
    assert!(
        e.starts_with("node_modules/old/lib.js: this file is CommonJS"),
        "{e}"
    );
    p.file(
        "node_modules/old/package.json",
        r#"{"exports": {"require": "./lib.js"}}"#,
    );
    let e = p.build("index.js").unwrap_err().to_string();
    assert!(e.starts_with("index.js:1:15: cannot resolve \"old\" from index.js: package \"old\" does not export its main entry"), "{e}");
    assert!(e.contains("offers only \"require\""), "{e}");
}

#[test]
fn syntax_json_and_type_errors() {
    let p = Project::new("syntax");
    p.file("index.js", "import './b.js';")
        .file("b.js", "const a = 1;\nconst b = ;\n");
    let e = p.build("index.js").unwrap_err().to_string();
    assert!(e.starts_with("b.js:2:11: SyntaxError:"), "{e}");
    p.file("index.js", "import x from './bad.json';")
        .file("bad.json", "{\n  nope\n}");
    let e = p.build("index.js").unwrap_err().to_string();
    assert!(e.starts_with("bad.json:2:3: invalid JSON"), "{e}");
    p.file("index.js", "import x from './style.scss';")
        .file("style.scss", "");
    let e = p.build("index.js").unwrap_err().to_string();
    assert_eq!(e, "style.scss: unsupported module type `.scss`");
}

#[test]
fn text_modules_and_plain_javascript_are_kept() {
    let p = Project::new("text");
    let js =
        "import t from './page.html';\nexport default { fetch() { return new Response(t) } };\n";
    p.file("index.js", js).file("page.html", "<p>\"hi\"</p>\n");
    let b = p.build("index.js").unwrap();
    // Fully specified relative imports leave the source byte-identical, so
    // engine error positions stay exact.
    assert_eq!(b.modules["index.js"], js);
    assert_eq!(
        b.modules["page.html"],
        "export default \"<p>\\\"hi\\\"</p>\\n\";"
    );
}

#[test]
fn packages_hoisted_above_the_root() {
    let p = Project::new("hoisted");
    p.file("node_modules/up/index.js", "export const up = 1;")
        .file("app/package.json", "{}")
        .file(
            "app/index.js",
            "import { up } from 'up';\nexport default { up };",
        );
    let b = build(&p.0.join("app"), &p.0.join("app/index.js")).unwrap();
    assert_eq!(names(&b), ["index.js", "node_modules/up/index.js"]);
    assert!(b.modules["index.js"].contains("\"./node_modules/up/index.js\""));
    CompiledBundle::compile(&b).unwrap();
}

#[test]
fn relative_specifiers() {
    assert_eq!(relative_specifier("a.js", "b.js"), "./b.js");
    assert_eq!(relative_specifier("src/a.ts", "src/lib/b.ts"), "./lib/b.ts");
    assert_eq!(
        relative_specifier("src/a/x.ts", "node_modules/p/i.js"),
        "../../node_modules/p/i.js"
    );
    assert_eq!(relative_specifier("src/a.ts", "src.js"), "../src.js");
}
