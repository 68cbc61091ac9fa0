//! `${NAME}` and `${NAME:-default}` in a YAML configuration, substituted
//! *as scalar values*: whatever a variable holds — a password with `: #`, a
//! PEM with line breaks — ends up as the value of the scalar it stands in,
//! never as YAML structure.
//!
//! Why on the text and not on a parsed document: the YAML parser reports
//! the key and the line of every later error (unknown key, wrong type) only
//! while it reads the file itself, and it types an unquoted scalar by what
//! the field wants (`partitions: ${N}` is a number, `password: ${P}` a
//! string). So each substitution is written in the scalar's own syntax:
//! escaped inside `"…"` and `'…'`, and in a plain (unquoted) scalar as is
//! when the value is plain-safe, else as a double-quoted scalar when the
//! reference is the whole value. A reference inside a longer plain value
//! whose variable holds YAML syntax is refused, naming the variable and the
//! line, rather than guessed.

use super::ConfigError;

/// Where a `${…}` stands on its line.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
}

/// Replaces `${NAME}` and `${NAME:-default}` using `lookup`; `$${` is a
/// literal `${`. Comments (from a `#` outside quotes at the start or after
/// a blank) are kept as they are, so an example in a comment never demands
/// its variable. An empty variable counts as unset when there is a default.
pub fn interpolate(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    // Quoted scalars may continue on the next line.
    let mut quote = Quote::None;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        interpolate_line(line, n + 1, &mut quote, &lookup, &mut out)?;
    }
    Ok(out)
}

fn interpolate_line(
    line: &str,
    number: usize,
    quote: &mut Quote,
    lookup: &impl Fn(&str) -> Option<String>,
    out: &mut String,
) -> Result<(), ConfigError> {
    let bytes = line.as_bytes();
    let mut flow_depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match (*quote, c) {
            (Quote::None, b'#') if i == 0 || bytes[i - 1].is_ascii_whitespace() => {
                out.push_str(&line[i..]);
                return Ok(());
            }
            (Quote::None, b'\'') if plain_start(line, i) => *quote = Quote::Single,
            (Quote::None, b'"') if plain_start(line, i) => *quote = Quote::Double,
            (Quote::None, b'[' | b'{') => flow_depth += 1,
            (Quote::None, b']' | b'}') => flow_depth = flow_depth.saturating_sub(1),
            (Quote::Single, b'\'') if bytes.get(i + 1) == Some(&b'\'') => {
                out.push_str("''");
                i += 2;
                continue;
            }
            (Quote::Single, b'\'') => *quote = Quote::None,
            (Quote::Double, b'\\') if i + 1 < bytes.len() => {
                out.push_str(&line[i..i + 2]);
                i += 2;
                continue;
            }
            (Quote::Double, b'"') => *quote = Quote::None,
            (_, b'$') if line[i..].starts_with("$${") => {
                out.push_str("${");
                i += 3;
                continue;
            }
            (_, b'$') if line[i..].starts_with("${") => {
                let end = line[i + 2..].find('}').ok_or(ConfigError::Unterminated { line: number })? + i + 2;
                let expr = &line[i + 2..end];
                let (name, default) = match expr.split_once(":-") {
                    Some((n, d)) => (n, Some(d)),
                    None => (expr, None),
                };
                let value = match (lookup(name).filter(|v| !v.is_empty() || default.is_none()), default) {
                    (Some(v), _) => v,
                    (None, Some(d)) => d.to_string(),
                    (None, None) => return Err(ConfigError::MissingVar { name: name.to_string(), line: number }),
                };
                let whole = plain_start(line, i) && plain_end(line, end + 1);
                out.push_str(&render(&value, *quote, flow_depth > 0, whole, name, number)?);
                i = end + 1;
                continue;
            }
            _ => {}
        }
        let ch_len = line[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&line[i..i + ch_len]);
        i += ch_len;
    }
    Ok(())
}

/// Whether a scalar may start at byte `i`: only blanks since the line's
/// indentation, a `key: `, a `- ` or a flow indicator.
fn plain_start(line: &str, i: usize) -> bool {
    let before = line[..i].trim_end_matches([' ', '\t']);
    before.is_empty() || before.ends_with(':') || before.ends_with('-') || before.ends_with(['[', '{', ','])
}

/// Whether the scalar ends at byte `i`: only blanks, then the end of the
/// line, a comment or a flow indicator.
fn plain_end(line: &str, i: usize) -> bool {
    let after = line[i..].trim_start_matches([' ', '\t']);
    after.is_empty() || after.starts_with(['\n', '\r', '#', ',', ']', '}'])
}

/// `value` written in the syntax of where it stands.
fn render(
    value: &str,
    quote: Quote,
    in_flow: bool,
    whole: bool,
    name: &str,
    line: usize,
) -> Result<String, ConfigError> {
    match quote {
        Quote::Double => Ok(double_quoted_body(value)),
        Quote::Single if value.contains(['\n', '\r']) => Err(ConfigError::VarSyntax {
            name: name.to_string(),
            line,
            why: "it holds a line break, which a single-quoted scalar folds; use double quotes",
        }),
        Quote::Single => Ok(value.replace('\'', "''")),
        Quote::None if plain_safe(value, in_flow) => Ok(value.to_string()),
        Quote::None if whole => Ok(format!("\"{}\"", double_quoted_body(value))),
        Quote::None => Err(ConfigError::VarSyntax {
            name: name.to_string(),
            line,
            why: "its value has characters YAML reads as structure and it is part of a longer unquoted value; \
                  put that value in double quotes",
        }),
    }
}

/// The body of a double-quoted scalar that reads back as `value`.
fn double_quoted_body(value: &str) -> String {
    let mut s = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if c.is_control() => s.push_str(&format!("\\u{:04x}", c as u32)),
            c => s.push(c),
        }
    }
    s
}

/// Whether `value` reads back as itself in a plain scalar (an empty value
/// does not: it would read as null).
fn plain_safe(value: &str, in_flow: bool) -> bool {
    let Some(first) = value.chars().next() else { return false };
    let indicator =
        "?:,[]{}#&*!|>'\"%@`".contains(first) || (first == '-' && value[1..].starts_with([' ', '\t']) || value == "-");
    !indicator
        && !value.ends_with([' ', '\t', ':'])
        && !value.starts_with([' ', '\t'])
        && !value.contains(|c: char| c.is_control())
        && !value.contains(": ")
        && !value.contains(" #")
        && !(in_flow && value.contains([',', '[', ']', '{', '}']))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "BOOT" => Some("k1:9092".into()),
            "EMPTY" => Some(String::new()),
            "PW" => Some("s3cr:et #1 \"q\" 'x'".into()),
            "PEM" => Some("-----BEGIN-----\nAAA\n-----END-----".into()),
            "N" => Some("12".into()),
            _ => None,
        }
    }

    fn parsed(yaml: &str) -> serde_yaml::Value {
        serde_yaml::from_str(&interpolate(yaml, env).unwrap()).unwrap()
    }

    #[test]
    fn plain_references() {
        assert_eq!(interpolate("a ${BOOT} b", env).unwrap(), "a k1:9092 b");
        assert_eq!(interpolate("x: ${NOPE:-x:1}", env).unwrap(), "x: x:1");
        assert_eq!(interpolate("x: ${EMPTY:-d}", env).unwrap(), "x: d");
        assert_eq!(interpolate("cost $5 and $${LIT}", env).unwrap(), "cost $5 and ${LIT}");
        assert_eq!(interpolate("  # user: ${NOPE}\nb: ${BOOT}\n", env).unwrap(), "  # user: ${NOPE}\nb: k1:9092\n");
        assert_eq!(interpolate("b: ${BOOT} # from ${NOPE}\n", env).unwrap(), "b: k1:9092 # from ${NOPE}\n");
    }

    #[test]
    fn errors_name_the_variable_and_the_line() {
        let err = interpolate("a: 1\nb: ${NOPE}", env).unwrap_err();
        assert!(matches!(&err, ConfigError::MissingVar { name, line: 2 } if name == "NOPE"), "{err}");
        assert!(matches!(interpolate("a: 1\nb: ${BOOT", env), Err(ConfigError::Unterminated { line: 2 })));
        let err = interpolate("url: http://h/${PW}/x", env).unwrap_err().to_string();
        assert!(err.contains("`PW`") && err.contains("line 1"), "{err}");
    }

    /// A value holding YAML syntax stays one scalar, whichever way it is written.
    #[test]
    fn values_never_become_structure() {
        let pw = env("PW").unwrap();
        let pem = env("PEM").unwrap();
        let doc = parsed(
            "a: ${PW}\nb: \"${PW}\"\nc: '${PW}'\nd: {k: ${PW}, n: ${N}}\ne:\n  - ${PEM}\nf: \"x-${PEM}\"\ng: ${EMPTY}\n",
        );
        assert_eq!(doc["a"].as_str(), Some(pw.as_str()));
        assert_eq!(doc["b"].as_str(), Some(pw.as_str()));
        assert_eq!(doc["c"].as_str(), Some(pw.as_str()));
        assert_eq!(doc["d"]["k"].as_str(), Some(pw.as_str()));
        assert_eq!(doc["d"]["n"].as_u64(), Some(12), "a plain-safe value keeps YAML's typing");
        assert_eq!(doc["e"][0].as_str(), Some(pem.as_str()));
        assert_eq!(doc["f"].as_str(), Some(format!("x-{pem}").as_str()));
        assert_eq!(doc["g"].as_str(), Some(""), "an empty value is an empty string, not null");
        let err = interpolate("c: '${PEM}'", env).unwrap_err().to_string();
        assert!(err.contains("`PEM`") && err.contains("double quotes"), "{err}");
    }
}
