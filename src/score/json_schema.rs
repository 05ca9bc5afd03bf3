//! `json_schema`: the answer's JSON (extracted leniently unless the case says
//! `json: strict`) validated against the case's compiled JSON Schema. The reason names the
//! failing instance path and schema keyword, e.g.
//! `at /status: "shipped" is not one of ["open","closed"] (enum)`.

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use super::json::{parse_lenient, parse_strict};
use super::text::excerpt;
use super::{Score, names};
use crate::golden::expect::{JsonMode, Schema};

/// Errors kept in `detail`: enough to fix a prompt, few enough to store per observation.
const MAX_ERRORS: usize = 5;
/// Instances longer than this (as JSON) are not quoted in a reason: the message names the
/// path instead of echoing a large slice of model output.
const MAX_QUOTED_INSTANCE: usize = 60;

pub(super) fn score(schema: &Schema, mode: Option<JsonMode>, text: &str) -> Score {
    let parsed = match mode {
        Some(JsonMode::Strict) => parse_strict(text),
        _ => parse_lenient(text),
    };
    let value = match parsed {
        Ok(v) => v,
        Err(why) => return Score::fail(names::JSON_SCHEMA, format!("no JSON to validate: {why}")),
    };
    let mut errors = Vec::new();
    let mut total = 0usize;
    for error in schema.validator.iter_errors(&value) {
        total += 1;
        if errors.len() < MAX_ERRORS {
            let path = match error.instance_path().as_str() {
                "" => "/".to_string(),
                p => p.to_string(),
            };
            let keyword = error.kind().keyword().to_string();
            errors.push((path, keyword, message(&error)));
        }
    }
    if errors.is_empty() {
        return Score::pass(names::JSON_SCHEMA);
    }
    let (path, keyword, msg) = &errors[0];
    let more = match total {
        1 => String::new(),
        n => format!(" (+{} more)", n - 1),
    };
    let detail: Vec<Value> = errors
        .iter()
        .map(|(p, k, m)| serde_json::json!({ "path": p, "keyword": k, "message": m }))
        .collect();
    Score::fail(
        names::JSON_SCHEMA,
        format!("at {path}: {msg} ({keyword}){more}"),
    )
    .with_detail(serde_json::json!({ "errors": detail, "error_count": total }))
}

/// The validator's message, with the instance quoted only when it is short.
fn message(error: &jsonschema::ValidationError<'_>) -> String {
    let instance = error.instance();
    let shown = serde_json::to_string(instance.as_ref()).unwrap_or_default();
    let short = shown.chars().count() <= MAX_QUOTED_INSTANCE;
    let msg = match error.kind() {
        // serde_json's compact form of the options reads best: ["open","closed"].
        ValidationErrorKind::Enum { options } => {
            let subject = if short { shown } else { "value".to_string() };
            format!(
                "{subject} is not one of {}",
                excerpt(&options.to_string(), 80)
            )
        }
        _ if short => error.to_string(),
        _ => error.masked().to_string(),
    };
    excerpt(&msg, 160)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn schema(v: Value) -> Schema {
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&v)
            .expect("test schema");
        Schema {
            source: v,
            validator: Arc::new(validator),
        }
    }

    fn order() -> Schema {
        schema(json!({
            "type": "object",
            "required": ["id", "status"],
            "properties": {
                "id": {"type": "integer"},
                "status": {"enum": ["open", "closed"]},
                "items": {"type": "array", "items": {"type": "object", "required": ["sku"]}}
            }
        }))
    }

    #[test]
    fn valid_in_prose_and_fence() {
        let s = order();
        assert!(score(&s, None, "Here: {\"id\": 1, \"status\": \"open\"} ok").passed);
        assert!(score(&s, None, "```json\n{\"id\": 1, \"status\": \"open\"}\n```").passed);
        let strict = score(
            &s,
            Some(JsonMode::Strict),
            "```json\n{\"id\": 1, \"status\": \"open\"}\n```",
        );
        assert_eq!(
            strict.reason.as_deref(),
            Some("no JSON to validate: answer wrapped in ```json fence")
        );
    }

    #[test]
    fn reasons_name_path_and_keyword() {
        let s = order();
        let r = score(&s, None, "{\"id\": 1, \"status\": \"shipped\"}");
        assert_eq!(
            r.reason.as_deref(),
            Some("at /status: \"shipped\" is not one of [\"open\",\"closed\"] (enum)")
        );
        let r = score(&s, None, "{\"id\": 1}");
        assert_eq!(
            r.reason.as_deref(),
            Some("at /: \"status\" is a required property (required)")
        );
        let r = score(
            &s,
            None,
            "{\"id\": \"x\", \"status\": \"open\", \"items\": [{\"sku\": 1}, {}]}",
        );
        let reason = r.reason.unwrap_or_default();
        assert!(reason.contains("(+1 more)"), "{reason}");
        let paths: Vec<String> = r.detail.as_ref().map_or(vec![], |d| {
            d["errors"].as_array().map_or(vec![], |a| {
                a.iter()
                    .map(|e| e["path"].as_str().unwrap_or("").to_string())
                    .collect()
            })
        });
        assert!(paths.contains(&"/items/1".to_string()), "{paths:?}");
        assert!(paths.contains(&"/id".to_string()), "{paths:?}");
    }

    #[test]
    fn no_json_and_huge_instances() {
        let s = order();
        let r = score(&s, None, "I cannot do that.");
        assert_eq!(
            r.reason.as_deref(),
            Some("no JSON to validate: no JSON value found in answer")
        );
        let big = format!("{{\"id\": 1, \"status\": \"{}\"}}", "x".repeat(1_000_000));
        let r = score(&s, None, &big);
        let reason = r.reason.unwrap_or_default();
        assert!(reason.len() < 200, "{reason}");
        assert!(
            reason.starts_with("at /status: value is not one of"),
            "{reason}"
        );
        let r = score(
            &schema(json!({"type": "object"})),
            None,
            &format!("[{}]", "1,".repeat(100_000) + "1"),
        );
        assert!(r.reason.unwrap_or_default().len() < 200);
    }
}
