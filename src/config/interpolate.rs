//! `${VAR}` in string values: secrets and per-environment settings come from the
//! environment, never from the file. `$${` writes a literal `${`. A variable that is not set
//! is an error naming it, reported once: the value is then given a stand-in that passes
//! the shape checks (a URL stays a URL), so no second error ("not a URL") follows from the
//! same cause. `Env::Unchecked` (`probity validate --no-secrets`) counts every variable as
//! set. The values of secret-looking keys, and of variables inside a URL's path or query,
//! are collected for redaction and scrubbed from the document's own error messages.

use serde_json::Value;

use super::diagnostic::Diagnostic;
use super::document::Document;
use super::locate::escape;
use super::model::Secret;

/// Where `${VAR}` values come from.
#[derive(Clone, Copy)]
pub enum Env<'a> {
    /// Look each variable up (the process environment, or a test's map).
    Lookup(&'a dyn Fn(&str) -> Option<String>),
    /// Look nothing up: every variable counts as set (CI lints without secrets).
    Unchecked,
}

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

fn last_segment(pointer: &str) -> String {
    pointer
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

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

/// Keys whose values are URLs (checked as such by the validators).
fn is_url_key(pointer: &str) -> bool {
    let last = last_segment(pointer);
    last == "url" || last == "smtp" || last.ends_with("_url")
}

/// What interpolation found in one document.
#[derive(Debug, Default)]
pub struct Interpolated {
    /// Values to redact wherever they could appear (requests, errors, stored text).
    pub secrets: Vec<Secret>,
    /// A problem per missing, empty or malformed reference.
    pub problems: Vec<Diagnostic>,
    /// Pointers whose value could not be resolved: later checks of these values would only
    /// repeat the same cause, so their diagnostics are dropped.
    pub unresolved: Vec<String>,
    /// Each variable that is not set, where, and the problem reported for it (also in
    /// `problems`): the alert-routing loader defers these per channel, since a channel
    /// nobody routes to needs none of its variables.
    pub unset: Vec<Unset>,
}

/// One `${VAR}` without a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Unset {
    /// JSON pointer of the value that names it (`/channels/pager/routing_key`).
    pub pointer: String,
    pub name: String,
    pub diagnostic: Diagnostic,
}

/// Replaces `${VAR}` in every string of `doc` from `env`.
pub fn interpolate(doc: &mut Document, env: Env<'_>) -> Interpolated {
    let mut found = Interpolated::default();
    let mut scrub: Vec<(String, String)> = Vec::new();
    let mut value = std::mem::take(&mut doc.value);
    walk(&mut value, String::new(), &mut |pointer, text| {
        if !text.contains("${") {
            return None;
        }
        let url = is_url_key(pointer);
        let secret_key = is_secret_key(pointer);
        match expand(text, env, url) {
            Ok(expansion) => {
                for var in &expansion.vars {
                    match &var.value {
                        None if matches!(env, Env::Lookup(_)) => {
                            let diagnostic = doc
                                .error(
                                    pointer,
                                    format!("environment variable `{}` is not set", var.name),
                                )
                                .with_hint(format!(
                                    "export {}=… before running probity, or write the value here",
                                    var.name
                                ));
                            found.unset.push(Unset {
                                pointer: pointer.to_string(),
                                name: var.name.clone(),
                                diagnostic: diagnostic.clone(),
                            });
                            found.problems.push(diagnostic);
                        }
                        None => {}
                        Some(v) if v.is_empty() && secret_key => found.problems.push(
                            doc.error(
                                pointer,
                                format!("environment variable `{}` is set but empty", var.name),
                            )
                            .with_hint(format!(
                                "export {}=… with the real value; an empty secret fails every request",
                                var.name
                            )),
                        ),
                        Some(v) if !v.is_empty() && (secret_key || (url && var.in_path)) => {
                            scrub.push((v.clone(), var.name.clone()));
                            if !secret_key {
                                found.secrets.push(Secret::new(v.clone()));
                            }
                        }
                        // A whole URL from one variable: its path and query are as secret
                        // as a variable written there (`?api_key=…`, a tenant token).
                        Some(v) if url => {
                            if let Some(tail) = path_and_query(v) {
                                scrub.push((tail.to_string(), var.name.clone()));
                                found.secrets.push(Secret::new(tail.to_string()));
                            }
                        }
                        Some(_) => {}
                    }
                }
                if expansion.vars.iter().any(|v| v.value.is_none()) {
                    found.unresolved.push(pointer.to_string());
                } else if secret_key && !expansion.text.is_empty() {
                    found.secrets.push(Secret::new(expansion.text.clone()));
                }
                Some(expansion.text)
            }
            Err(Unclosed) => {
                found.problems.push(
                    doc.error(pointer, "unclosed `${` in value")
                        .with_hint("write `${NAME}`, or `$${` for a literal `${`"),
                );
                found.unresolved.push(pointer.to_string());
                None
            }
        }
    });
    doc.value = value;
    doc.set_scrub(scrub);
    found
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

struct Unclosed;

/// One `${NAME}` of a value.
struct Var {
    name: String,
    /// `None` when not set (or not looked up).
    value: Option<String>,
    /// Inside a URL's path, query or fragment (where tokens and tenant keys go).
    in_path: bool,
}

struct Expansion {
    text: String,
    vars: Vec<Var>,
}

/// Whether text appended to `url_so_far` lands after the URL's authority.
fn after_authority(url_so_far: &str) -> bool {
    url_so_far
        .split_once("://")
        .is_some_and(|(_, rest)| rest.contains(['/', '?', '#']))
}

/// The part of a URL after its authority (path, query, fragment), when there is more than
/// a bare `/`.
fn path_and_query(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let start = rest.find(['/', '?', '#'])?;
    let tail = &rest[start..];
    (tail.len() > 1).then_some(tail)
}

/// Expands every reference of `text`. A variable without a value gets a stand-in: in a URL
/// a placeholder that keeps it a URL, elsewhere the reference as written.
fn expand(text: &str, env: Env<'_>, url: bool) -> Result<Expansion, Unclosed> {
    let mut out = String::with_capacity(text.len());
    let mut vars = Vec::new();
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
        let end = after.find('}').ok_or(Unclosed)?;
        let name = after[..end].trim().to_string();
        let value = match env {
            Env::Lookup(lookup) => lookup(&name),
            Env::Unchecked => None,
        };
        let in_path = url && after_authority(&out);
        match &value {
            Some(v) => out.push_str(v),
            None if url && out.is_empty() => out.push_str("https://placeholder.invalid"),
            None if url => out.push_str("placeholder"),
            None => out.push_str(&format!("${{{name}}}")),
        }
        vars.push(Var {
            name,
            value,
            in_path,
        });
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(Expansion { text: out, vars })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn env(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("sk-secret-123".into()),
            "HOST" => Some("example.com".into()),
            "TENANT" => Some("tenant-token-9".into()),
            "INFERENCE_URL" => Some("https://h.example/v1/predict?api_key=abc123".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_collects_secrets_and_reports_missing() {
        let text = "target:\n  api_key: ${KEY}\n  base_url: https://${HOST}/v1\n  model: $${LITERAL}\n  headers: { X-Token: \"t ${KEY}\" }\nother: ${NOPE}\n";
        let mut doc = Document::parse(Path::new("p.yaml"), text).unwrap();
        let found = interpolate(&mut doc, Env::Lookup(&env));
        assert_eq!(doc.value["target"]["api_key"], "sk-secret-123");
        assert_eq!(doc.value["target"]["base_url"], "https://example.com/v1");
        assert_eq!(doc.value["target"]["model"], "${LITERAL}");
        assert_eq!(
            found.secrets.len(),
            2,
            "api_key and the header are secrets; a host is not"
        );
        assert_eq!(found.problems.len(), 1);
        assert_eq!(
            found.problems[0].to_string(),
            "p.yaml:6:8: other: environment variable `NOPE` is not set\n  hint: export NOPE=… before running probity, or write the value here"
        );
        assert_eq!(found.unresolved, vec!["/other".to_string()]);
    }

    #[test]
    fn a_variable_in_a_url_path_is_a_secret_and_scrubbed_from_errors() {
        let text = "target:\n  base_url: https://${HOST}/t/${TENANT}/v1\n";
        let mut doc = Document::parse(Path::new("p.yaml"), text).unwrap();
        let found = interpolate(&mut doc, Env::Lookup(&env));
        assert!(found.problems.is_empty());
        let secrets: Vec<&str> = found.secrets.iter().map(Secret::expose).collect();
        assert_eq!(secrets, vec!["tenant-token-9"]);
        let d = doc.error(
            "/target/base_url",
            "`https://example.com/t/tenant-token-9/v1` bad",
        );
        assert_eq!(d.message, "`https://example.com/t/${TENANT}/v1` bad");
    }

    #[test]
    fn a_whole_url_from_one_variable_keeps_its_path_and_query_secret() {
        let text = "target:\n  http: { url: \"${INFERENCE_URL}\" }\n";
        let mut doc = Document::parse(Path::new("p.yaml"), text).unwrap();
        let found = interpolate(&mut doc, Env::Lookup(&env));
        assert!(found.problems.is_empty());
        let secrets: Vec<&str> = found.secrets.iter().map(Secret::expose).collect();
        assert_eq!(secrets, vec!["/v1/predict?api_key=abc123"]);
        let d = doc.error(
            "/target/http/url",
            "`https://h.example/v1/predict?api_key=abc123` bad",
        );
        assert_eq!(d.message, "`https://h.example${INFERENCE_URL}` bad");
    }

    #[test]
    fn unset_and_unchecked_variables_get_stand_ins_that_keep_urls_urls() {
        let text = "hook: { webhook_url: \"${HOOK}\", url: \"https://h/${P}\" }\nkey: ${EMPTY}\n";
        let mut doc = Document::parse(Path::new("p.yaml"), text).unwrap();
        let found = interpolate(&mut doc, Env::Lookup(&env));
        assert_eq!(
            doc.value["hook"]["webhook_url"],
            "https://placeholder.invalid"
        );
        assert_eq!(doc.value["hook"]["url"], "https://h/placeholder");
        let mut messages: Vec<String> = found.problems.iter().map(|p| p.message.clone()).collect();
        messages.sort();
        assert_eq!(
            messages,
            vec![
                "environment variable `EMPTY` is set but empty",
                "environment variable `HOOK` is not set",
                "environment variable `P` is not set",
            ]
        );
        let mut doc = Document::parse(Path::new("p.yaml"), text).unwrap();
        let found = interpolate(&mut doc, Env::Unchecked);
        assert!(found.problems.is_empty(), "{:?}", found.problems);
        assert!(found.secrets.is_empty());
        assert_eq!(doc.value["key"], "${EMPTY}");
    }
}
