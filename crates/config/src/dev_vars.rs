//! `.dev.vars`: local secrets for the dev server, in dotenv syntax.
//!
//! The syntax follows what Wrangler accepts (it uses the `dotenv` package),
//! with malformed lines reported instead of silently skipped:
//!
//! - `KEY=VALUE` per line; whitespace around the key and value is trimmed;
//!   an optional `export ` prefix is ignored.
//! - Keys consist of ASCII letters, digits, `_`, `.` and `-`.
//! - Blank lines and lines starting with `#` are skipped. In an unquoted
//!   value, `#` starts a comment (`KEY=a#b` is `a`, as with dotenv).
//! - Values may be quoted with `"`, `'` or `` ` ``; quoted values keep `#`
//!   and surrounding whitespace and may span several lines. Only a comment
//!   may follow the closing quote. A backslash before the quote character
//!   does not end the value.
//! - In double quotes, `\n`, `\r`, `\t`, `\"` and `\\` are escapes; any
//!   other backslash is kept. Single- and back-quoted values are literal.
//! - When a key repeats, the last value wins (at the first one's position).

use std::path::{Path, PathBuf};

use crate::error::{ConfigError, Result};

/// The file name [`load_dev_vars`] reads.
pub const DEV_VARS_FILE: &str = ".dev.vars";

/// Reads `dir/.dev.vars`; an absent file yields an empty list.
///
/// Returns the variables in file order.
pub fn load_dev_vars(dir: &Path) -> Result<Vec<(String, String)>> {
    let path = dir.join(DEV_VARS_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_dev_vars(&text, &path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(ConfigError::Read { path, source }),
    }
}

/// Parses `.dev.vars` content; `path` is used only in error messages.
///
/// Returns the variables in file order.
pub fn parse_dev_vars(text: &str, path: &Path) -> Result<Vec<(String, String)>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let error = |line: usize, message: String| ConfigError::DevVars {
        path: PathBuf::from(path),
        line,
        message,
    };

    let mut vars: Vec<(String, String)> = Vec::new();
    let mut next = 0;
    while next < lines.len() {
        let line_no = next + 1;
        let line = lines[next].trim_start();
        next += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = strip_export(line);
        let Some((key, rest)) = line.split_once('=') else {
            return Err(error(line_no, "expected `KEY=VALUE`".into()));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(error(line_no, "missing key before `=`".into()));
        }
        if let Some(c) = key
            .chars()
            .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        {
            return Err(error(
                line_no,
                format!("invalid character {c:?} in key `{key}`"),
            ));
        }

        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(quote @ ('"' | '\'' | '`')) => {
                // Accumulate lines until the closing quote is found.
                let mut buf = rest[1..].to_owned();
                let mut end_line = line_no;
                let end = loop {
                    if let Some(end) = closing_quote(&buf, quote) {
                        break end;
                    }
                    let Some(more) = lines.get(next) else {
                        return Err(error(
                            line_no,
                            format!("unterminated {quote} quoted value for `{key}`"),
                        ));
                    };
                    buf.push('\n');
                    buf.push_str(more);
                    next += 1;
                    end_line = next;
                };
                let trailing = buf[end + 1..].trim_start();
                if !(trailing.is_empty() || trailing.starts_with('#')) {
                    return Err(error(
                        end_line,
                        format!("unexpected text after the closing quote of `{key}`"),
                    ));
                }
                let raw = &buf[..end];
                if quote == '"' {
                    unescape(raw)
                } else {
                    raw.to_owned()
                }
            }
            _ => {
                let value = rest.split_once('#').map_or(rest, |(v, _)| v);
                value.trim_end().to_owned()
            }
        };

        match vars.iter_mut().find(|(k, _)| k == key) {
            Some(existing) => existing.1 = value,
            None => vars.push((key.to_owned(), value)),
        }
    }
    Ok(vars)
}

/// Removes a leading `export` keyword followed by whitespace.
fn strip_export(line: &str) -> &str {
    match line.strip_prefix("export") {
        Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
        _ => line,
    }
}

/// Byte index in `s` of the first `quote` not preceded by a backslash.
fn closing_quote(s: &str, quote: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            c if c == quote => return Some(i),
            _ => {}
        }
    }
    None
}

/// Expands the escapes of a double-quoted value.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<(String, String)> {
        parse_dev_vars(text, Path::new(".dev.vars")).unwrap()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn error(text: &str) -> String {
        parse_dev_vars(text, Path::new("/proj/.dev.vars"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn basic_lines_comments_and_blanks() {
        let text = "# secrets\n\nAPI_KEY=abc123\n   \n  # indented comment\nTOKEN = xyz \n";
        assert_eq!(
            parse(text),
            pairs(&[("API_KEY", "abc123"), ("TOKEN", "xyz")])
        );
    }

    #[test]
    fn export_prefix_and_key_whitespace() {
        assert_eq!(
            parse("export A=1\n  export\tB = 2\nexporter=3\n"),
            pairs(&[("A", "1"), ("B", "2"), ("exporter", "3")])
        );
    }

    #[test]
    fn unquoted_values() {
        assert_eq!(
            parse("EMPTY=\nURL=https://x.example/?a=b\nC=value # comment\nD=a#b\n"),
            pairs(&[
                ("EMPTY", ""),
                ("URL", "https://x.example/?a=b"),
                ("C", "value"),
                ("D", "a"),
            ])
        );
    }

    #[test]
    fn quoted_values() {
        let text = concat!(
            "S='  single # not a comment \\n '\n",
            "D=\"line1\\nline2\\t\\\"q\\\" \\\\n \\x\"\n",
            "B=`back tick`\n",
            "E=\"\"\n",
            "C=\"value\" # trailing comment\n",
            "Q=\"it's\"\n",
            "R='say \"hi\"'\n",
        );
        assert_eq!(
            parse(text),
            pairs(&[
                ("S", "  single # not a comment \\n "),
                ("D", "line1\nline2\t\"q\" \\n \\x"),
                ("B", "back tick"),
                ("E", ""),
                ("C", "value"),
                ("Q", "it's"),
                ("R", "say \"hi\""),
            ])
        );
    }

    #[test]
    fn multiline_quoted_values_and_crlf() {
        let text = "KEY=\"-----BEGIN-----\r\nabc\r\n-----END-----\"\r\nNEXT=1\r\n";
        assert_eq!(
            parse(text),
            pairs(&[
                ("KEY", "-----BEGIN-----\nabc\n-----END-----"),
                ("NEXT", "1")
            ])
        );
    }

    #[test]
    fn bom_and_duplicates() {
        assert_eq!(
            parse("\u{feff}A=1\nB=2\nA=3"),
            pairs(&[("A", "3"), ("B", "2")])
        );
    }

    #[test]
    fn malformed_lines_name_the_line() {
        assert_eq!(
            error("A=1\n\njust some text\n"),
            "/proj/.dev.vars:3: expected `KEY=VALUE`"
        );
        assert_eq!(error("=value"), "/proj/.dev.vars:1: missing key before `=`");
        assert_eq!(
            error("A=1\nMY KEY=2"),
            "/proj/.dev.vars:2: invalid character ' ' in key `MY KEY`"
        );
        assert_eq!(
            error("A=1\nB=\"open\nC=2\n"),
            "/proj/.dev.vars:2: unterminated \" quoted value for `B`"
        );
        assert_eq!(
            error("A=\"x\"y"),
            "/proj/.dev.vars:1: unexpected text after the closing quote of `A`"
        );
        assert_eq!(
            error("A='multi\nline' junk\n"),
            "/proj/.dev.vars:2: unexpected text after the closing quote of `A`"
        );
    }

    #[test]
    fn load_from_directory() {
        let dir = crate::tests::TempDir::new("dev-vars");
        assert_eq!(load_dev_vars(dir.path()).unwrap(), Vec::new());

        std::fs::write(dir.path().join(DEV_VARS_FILE), "SECRET=\"s3cr3t\"\n").unwrap();
        assert_eq!(
            load_dev_vars(dir.path()).unwrap(),
            pairs(&[("SECRET", "s3cr3t")])
        );

        std::fs::write(dir.path().join(DEV_VARS_FILE), "oops\n").unwrap();
        let err = load_dev_vars(dir.path()).unwrap_err();
        assert!(
            matches!(&err, ConfigError::DevVars { line: 1, path, .. } if path.ends_with(".dev.vars")),
            "{err}"
        );
    }
}
