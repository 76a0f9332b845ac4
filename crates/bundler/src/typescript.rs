//! TypeScript (and JSX) to JavaScript, one module at a time, with the oxc
//! parser, transformer and code generator.
//!
//! Only the TypeScript and JSX transforms run; no syntax is lowered (QuickJS
//! runs ES2023+). Type annotations, interfaces, type aliases, `as`,
//! `satisfies`, `!`, type-only imports and exports, `declare` and overload
//! signatures are removed. `enum` (and `const enum`, kept as a real object),
//! `namespace` and parameter properties need real code, and the transformer
//! writes it, as `tsc` does. Decorators are left as they are (QuickJS
//! rejects them). The output is reprinted, so line and column numbers of
//! errors raised later refer to the generated JavaScript; build errors
//! (syntax, unresolved imports) point into the TypeScript source.

use std::path::Path;

use oxc_allocator::Allocator;
use oxc_codegen::Codegen;
use oxc_diagnostics::OxcDiagnostic;
use oxc_parser::Parser;
use oxc_semantic::SemanticBuilder;
use oxc_span::SourceType;
use oxc_transformer::{TransformOptions, Transformer};

/// Whether a module file of this name is TypeScript or JSX and needs
/// [`to_javascript`].
pub fn needs_transform(name: &str) -> bool {
    matches!(
        name.rsplit_once('.').map(|(_, e)| e),
        Some("ts" | "mts" | "tsx" | "jsx")
    )
}

/// Turns the TypeScript/JSX module `source` (named `name`, whose extension
/// picks the dialect) into JavaScript. Errors are `name:line:col: message`.
pub fn to_javascript(name: &str, source: &str) -> Result<String, String> {
    // oxc asserts on states it does not expect; a bad input must fail the
    // build, not take `outpost dev` down with it.
    std::panic::catch_unwind(|| transform(name, source)).unwrap_or_else(|_| {
        Err(format!(
            "{name}: the TypeScript transform failed on this file (an internal error in oxc)"
        ))
    })
}

fn transform(name: &str, source: &str) -> Result<String, String> {
    let source_type = SourceType::from_path(Path::new(name))
        .map_err(|_| format!("{name}: unsupported module type"))?
        .with_module(true);
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, source, source_type).parse();
    if let Some(e) = parsed.diagnostics.errors().next() {
        return Err(describe(name, source, e, "SyntaxError"));
    }
    let mut program = parsed.program;
    // Enum members are evaluated while building scopes, for the enum transform.
    let semantic = SemanticBuilder::new().with_enum_eval(true).build(&program);
    if let Some(e) = semantic.diagnostics.errors().next() {
        return Err(describe(name, source, e, "SyntaxError"));
    }
    let scoping = semantic.semantic.into_scoping();
    let options = TransformOptions::default();
    let transformed = Transformer::new(&allocator, Path::new(name), &options)
        .build_with_scoping(scoping, &mut program);
    if let Some(e) = transformed.diagnostics.errors().next() {
        return Err(describe(name, source, e, "TypeScript"));
    }
    Ok(Codegen::new().build(&program).code)
}

/// Formats an oxc diagnostic as `name:line:col: Kind: message`.
pub(crate) fn describe(name: &str, source: &str, e: &OxcDiagnostic, kind: &str) -> String {
    match e.labels.first() {
        Some(label) => {
            let (line, col) = line_col(source, label.offset() as usize);
            format!("{name}:{line}:{col}: {kind}: {}", e.message)
        }
        None => format!("{name}: {kind}: {}", e.message),
    }
}

/// 1-based line and column (in characters) of byte `offset` in `source`.
pub(crate) fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Strips `ts` and runs nothing: checks the JavaScript it became.
    fn js(ts: &str) -> String {
        to_javascript("m.ts", ts).unwrap()
    }

    #[test]
    fn strips_annotations_interfaces_and_casts() {
        let out = js(r#"
            import type { Env } from "./env";
            import { type Helper, helper } from "./helper";
            export interface Props { name: string; age?: number }
            type Id = string | number;
            declare const GLOBAL: string;
            function greet<T extends Props>(p: T, id: Id): string {
                const n = (p.name as string)!;
                const cfg = { a: 1 } satisfies Record<string, number>;
                return `${n}${id}${cfg.a}` as const;
            }
            export default { fetch(req: Request, env: Env): Response { return new Response(greet<Props>({ name: "x" }, 1)); } };
            export type { Id };
            export { helper };
        "#);
        for gone in [
            "interface",
            "type Id",
            "declare",
            ": string",
            "as string",
            "satisfies",
            "<T",
            "./env",
            "Helper,",
            "export type",
        ] {
            assert!(!out.contains(gone), "`{gone}` left in:\n{out}");
        }
        assert!(out.contains("import { helper } from \"./helper\""), "{out}");
        assert!(out.contains("function greet(p, id)"), "{out}");
        assert!(out.contains("export default"), "{out}");
    }

    #[test]
    fn enums_and_namespaces_become_objects() {
        let out = js(r#"
            export enum Color { Red, Green = 5, Blue }
            export enum Dir { Up = "UP", Down = "DOWN" }
            const enum Flag { A = 1, B = A << 1 }
            export namespace Util { export const twice = (n: number) => n * 2; }
            export class Point { constructor(public x: number, private y: number) {} }
            export const flags = Flag.B;
        "#);
        assert!(!out.contains("enum "), "{out}");
        assert!(!out.contains("namespace "), "{out}");
        assert!(out.contains("this.x = x"), "parameter properties: {out}");
        // The output is plain JavaScript: check it evaluates as expected.
        let check = format!(
            "{}\nglobalThis.result = [Color.Red, Color.Green, Color.Blue, Color[6], Dir.Down, flags, Util.twice(4), new Point(1, 2).x].join();",
            out.replace("export ", "")
        );
        let rt = rquickjs::Runtime::new().unwrap();
        let ctx = rquickjs::Context::full(&rt).unwrap();
        let result: String = ctx.with(|ctx| {
            ctx.eval::<(), _>(check.as_str()).unwrap();
            ctx.globals().get("result").unwrap()
        });
        assert_eq!(result, "0,5,6,Blue,DOWN,2,8,1");
    }

    #[test]
    fn syntax_errors_point_into_the_typescript() {
        let e = to_javascript("src/a.ts", "const a: number = 1;\nlet b: = 2;\n").unwrap_err();
        assert!(e.starts_with("src/a.ts:2:"), "{e}");
        assert!(e.contains("SyntaxError"), "{e}");
    }

    #[test]
    fn tsx_uses_the_automatic_jsx_runtime() {
        let out = to_javascript(
            "c.tsx",
            "export const C = (p: {n: string}) => <b>{p.n}</b>;",
        )
        .unwrap();
        assert!(out.contains("react/jsx-runtime"), "{out}");
        assert!(!out.contains(": {"), "{out}");
    }

    #[test]
    fn line_and_column() {
        assert_eq!(line_col("ab\ncdé\nf", 0), (1, 1));
        assert_eq!(line_col("ab\ncdé\nf", 4), (2, 2));
        assert_eq!(line_col("ab\ncdé\nf", 8), (3, 1));
    }
}
