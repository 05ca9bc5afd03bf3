//! A YAML configuration file in memory: its value (parsed by `serde_norway` into JSON
//! terms, which the schema check and the typed structs both read) and the position of every
//! node, so any problem found later can point at its line.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::diagnostic::Diagnostic;
use super::locate::{Loc, Locations};

/// A parsed configuration file.
#[derive(Debug, Clone)]
pub struct Document {
    pub path: PathBuf,
    pub value: Value,
    locations: Locations,
    /// Secret values interpolated into this document and the `${NAME}` each came from:
    /// any message quoting a value shows the reference instead (a URL with a token in its
    /// path must not put the token into a CI log).
    scrub: Vec<(String, String)>,
}

impl Document {
    /// Reads and parses `path`. A missing file or a YAML syntax error is one diagnostic.
    pub fn read(path: &Path) -> Result<Document, Diagnostic> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Diagnostic::new(path, 1, 1, format!("cannot read file: {e}")))?;
        Document::parse(path, &text)
    }

    /// Parses `text` as the contents of `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Document, Diagnostic> {
        let value: Value = match serde_norway::from_str(text) {
            Ok(Value::Null) if text.trim().is_empty() => Value::Object(Default::default()),
            Ok(value) => value,
            Err(e) => {
                let (line, col) = e
                    .location()
                    .map(|l| (l.line(), l.column()))
                    .unwrap_or((1, 1));
                // serde_norway appends " at line L column C" itself; the location is ours to show.
                let message = e.to_string();
                let message = message
                    .split(" at line ")
                    .next()
                    .unwrap_or(&message)
                    .to_string();
                return Err(
                    Diagnostic::new(path, line, col, format!("invalid YAML: {message}"))
                        .with_hint("check indentation and quoting around this line"),
                );
            }
        };
        let locations = Locations::of(text);
        if let Some(pointer) = non_finite(text) {
            let loc = locations.value(&pointer);
            return Err(Diagnostic::new(
                path,
                loc.line,
                loc.col,
                "not a finite number (`.nan` or `.inf`)",
            )
            .at_key(key_path(&pointer))
            .with_hint("write a number such as 0.5, or leave the key out for its default"));
        }
        let mut value = value;
        whole_floats_as_integers(&mut value);
        Ok(Document {
            path: path.to_path_buf(),
            value,
            locations,
            scrub: Vec::new(),
        })
    }

    /// The value at a JSON pointer.
    pub fn get(&self, pointer: &str) -> Option<&Value> {
        self.value.pointer(pointer)
    }

    pub fn value_loc(&self, pointer: &str) -> Loc {
        self.locations.value(pointer)
    }

    /// Remembers secret values (value, variable name) to keep out of messages.
    pub(crate) fn set_scrub(&mut self, mut values: Vec<(String, String)>) {
        // Longest first, so a secret containing another is replaced whole.
        values.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
        self.scrub = values;
    }

    /// `message` with every interpolated secret shown as the `${NAME}` it came from.
    fn scrubbed(&self, message: String) -> String {
        self.scrub.iter().fold(message, |m, (value, name)| {
            m.replace(value.as_str(), &format!("${{{name}}}"))
        })
    }

    /// A problem with the value at `pointer`.
    pub fn error(&self, pointer: &str, message: impl Into<String>) -> Diagnostic {
        let loc = self.locations.value(pointer);
        Diagnostic::new(&self.path, loc.line, loc.col, self.scrubbed(message.into()))
            .at_key(key_path(pointer))
    }

    /// A problem with the key at `pointer` itself (an unknown key, a duplicate).
    pub fn key_error(&self, pointer: &str, message: impl Into<String>) -> Diagnostic {
        let loc = self.locations.key(pointer);
        Diagnostic::new(&self.path, loc.line, loc.col, self.scrubbed(message.into()))
            .at_key(key_path(pointer))
    }
}

/// Where the text has a `.nan` or `.inf`: JSON has no such numbers, so they would silently
/// read as "not set" (and a NaN effect size would pass every comparison).
fn non_finite(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    if !lower.contains(".nan") && !lower.contains(".inf") {
        return None;
    }
    let yaml: serde_norway::Value = serde_norway::from_str(text).ok()?;
    find_non_finite(&yaml, String::new())
}

fn find_non_finite(value: &serde_norway::Value, at: String) -> Option<String> {
    use serde_norway::Value as Y;
    match value {
        Y::Number(n) if n.as_f64().is_some_and(|f| !f.is_finite()) => Some(at),
        Y::Sequence(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_non_finite(v, format!("{at}/{i}"))),
        Y::Mapping(map) => map.iter().find_map(|(k, v)| {
            let key = match k {
                Y::String(s) => s.clone(),
                Y::Number(n) => n.to_string(),
                Y::Bool(b) => b.to_string(),
                _ => "?".to_string(),
            };
            find_non_finite(v, format!("{at}/{}", super::locate::escape(&key)))
        }),
        Y::Tagged(t) => find_non_finite(&t.value, at),
        _ => None,
    }
}

/// `5.0` is read as `5`: the schema calls it a whole number (as JSON Schema does), and the
/// typed structs must agree, or `samples: 5.0` fails to deserialise with no location.
fn whole_floats_as_integers(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15) {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_floats_as_integers),
        Value::Object(map) => map.values_mut().for_each(whole_floats_as_integers),
        _ => {}
    }
}

/// `/cases/0/expect/json_schema` → `cases[0].expect.json_schema`.
pub fn key_path(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_read_like_code() {
        assert_eq!(key_path(""), "");
        assert_eq!(
            key_path("/cases/0/expect/json_schema"),
            "cases[0].expect.json_schema"
        );
        assert_eq!(key_path("/headers/a~1b"), "headers.a/b");
    }

    #[test]
    fn syntax_errors_point_at_the_line() {
        let err = Document::parse(Path::new("x.yaml"), "a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(err.message.starts_with("invalid YAML"), "{err}");
        assert!(err.line >= 2, "{err}");
    }
}
