//! `${VAR}` in string values: secrets and per-environment settings come from the
//! environment, never from the file. `$${` writes a literal `${`. A variable that is not set
//! is an error naming it; the values of secret-looking keys are collected for redaction.

use serde_json::Value;

use super::diagnostic::Diagnostic;
use super::document::Document;
use super::locate::escape;
use super::model::Secret;

/// Key names whose values are secrets wherever they appear.
const SECRET_KEYS: [&str; 8] = [
    "api_key",
    "key",
    "token",
    "secret",
    "password",
    "routing_key",
    "webhook_url",
    "authorization",
];

fn is_secret_key(pointer: &str) -> bool {
    let mut segments = pointer.rsplit('/');
    let last = segments.next().unwrap_or_default().to_ascii_lowercase();
    let parent = segments.next().unwrap_or_default();
    // Every header value may carry credentials.
    parent == "headers"
        || SECRET_KEYS
            .iter()
            .any(|k| last == *k || last.ends_with(&format!("_{k}")))
}

/// Replaces `${VAR}` in every string of `doc` using `lookup`; returns the secrets resolved and
/// a diagnostic per missing or malformed reference.
pub fn interpolate(
    doc: &mut Document,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> (Vec<Secret>, Vec<Diagnostic>) {
    let mut secrets = Vec::new();
    let mut problems = Vec::new();
    let mut value = std::mem::take(&mut doc.value);
    walk(
        &mut value,
        String::new(),
        &mut |pointer, text| match expand(text, lookup) {
            Ok(Some(expanded)) => {
                if is_secret_key(pointer) && !expanded.is_empty() {
                    secrets.push(Secret::new(expanded.clone()));
                }
                Some(expanded)
            }
            Ok(None) => None,
            Err(Missing::Unset(var)) => {
                problems.push(
                    doc.error(pointer, format!("environment variable `{var}` is not set"))
                        .with_hint(format!(
                            "export {var}=… before running probity, or write the value here"
                        )),
                );
                None
            }
            Err(Missing::Unclosed) => {
                problems.push(
                    doc.error(pointer, "unclosed `${` in value")
                        .with_hint("write `${NAME}`, or `$${` for a literal `${`"),
                );
                None
            }
        },
    );
    doc.value = value;
    (secrets, problems)
}

fn walk(value: &mut Value, pointer: String, f: &mut dyn FnMut(&str, &str) -> Option<String>) {
    match value {
        Value::String(s) => {
            if let Some(new) = f(&pointer, s) {
                *s = new;
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, format!("{pointer}/{i}"), f);
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                walk(item, format!("{pointer}/{}", escape(k)), f);
            }
        }
        _ => {}
    }
}

enum Missing {
    Unset(String),
    Unclosed,
}

/// `Ok(None)` when `text` has no reference (nothing to replace).
fn expand(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Option<String>, Missing> {
    if !text.contains("${") {
        return Ok(None);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        if rest[..i].ends_with('$') {
            out.push_str(&rest[..i - 1]);
            out.push_str("${");
            rest = &rest[i + 2..];
            continue;
        }
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find('}').ok_or(Missing::Unclosed)?;
        let name = after[..end].trim();
        let value = lookup(name).ok_or_else(|| Missing::Unset(name.to_string()))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn env(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("sk-secret-123".into()),
            "HOST" => Some("example.com".into()),
            _ => None,
        }
    }

    #[test]
    fn expands_collects_secrets_and_reports_missing() {
        let text = "target:\n  api_key: ${KEY}\n  base_url: https://${HOST}/v1\n  model: $${LITERAL}\n  headers: { X-Token: \"t ${KEY}\" }\nother: ${NOPE}\n";
        let mut doc = Document::parse(Path::new("p.yaml"), text).unwrap();
        let (secrets, problems) = interpolate(&mut doc, &env);
        assert_eq!(doc.value["target"]["api_key"], "sk-secret-123");
        assert_eq!(doc.value["target"]["base_url"], "https://example.com/v1");
        assert_eq!(doc.value["target"]["model"], "${LITERAL}");
        assert_eq!(
            secrets.len(),
            2,
            "api_key and the header are secrets; base_url is not"
        );
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].to_string(),
            "p.yaml:6:8: other: environment variable `NOPE` is not set\n  hint: export NOPE=… before running probity, or write the value here"
        );
    }
}
