//! `json: strict | lenient`, and the JSON extraction `json_schema` shares.
//!
//! Strict: the whole trimmed answer parses; a markdown fence around it is a format failure
//! with its own reason, because that is the commonest way a model breaks a JSON contract.
//! Lenient: the first JSON value in the answer — the whole answer, else the first fenced
//! block, else the first balanced `{…}` / `[…]` in the prose that parses.

use serde_json::Value;

use super::text::excerpt;
use super::{Score, names};
use crate::golden::expect::JsonMode;

/// At most this many candidate openings are tried in prose, and at most this many bytes
/// scanned per byte of answer, so braces-everywhere input cannot make extraction quadratic.
const MAX_CANDIDATES: usize = 32;
const SCAN_BUDGET_FACTOR: usize = 4;

pub(super) fn score(mode: JsonMode, text: &str) -> Score {
    let detail = serde_json::json!({ "mode": match mode {
        JsonMode::Strict => "strict",
        JsonMode::Lenient => "lenient",
    }});
    let result = match mode {
        JsonMode::Strict => parse_strict(text).map(|_| ()),
        JsonMode::Lenient => parse_lenient(text).map(|_| ()),
    };
    match result {
        Ok(()) => Score::pass(names::JSON),
        Err(reason) => Score::fail(names::JSON, reason),
    }
    .with_detail(detail)
}

/// The whole trimmed answer as JSON, or the reason it is not.
pub(super) fn parse_strict(text: &str) -> Result<Value, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("empty answer, expected JSON".to_string());
    }
    match serde_json::from_str(trimmed) {
        Ok(v) => Ok(v),
        Err(e) => {
            if let Some(fence) = opening_fence(trimmed) {
                return Err(format!("answer wrapped in {fence} fence"));
            }
            let hint = if extract_json(text).is_some() {
                " (JSON surrounded by prose)"
            } else {
                ""
            };
            Err(format!(
                "not valid JSON{hint}: {}",
                excerpt(&e.to_string(), 80)
            ))
        }
    }
}

/// The first JSON value in the answer, or the reason there is none.
pub(super) fn parse_lenient(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Err("empty answer, expected JSON".to_string());
    }
    extract_json(text).ok_or_else(|| match first_unclosed(text) {
        Some(at) => format!(
            "no complete JSON value found: the one starting at char {at} is never closed (truncated?)"
        ),
        None => "no JSON value found in answer".to_string(),
    })
}

/// "```json", "```" or "~~~" when the text starts with a markdown code fence.
fn opening_fence(trimmed: &str) -> Option<&'static str> {
    if let Some(rest) = trimmed.strip_prefix("```") {
        let tag = rest.split_whitespace().next().unwrap_or("");
        if tag.eq_ignore_ascii_case("json") {
            Some("```json")
        } else {
            Some("```")
        }
    } else if trimmed.starts_with("~~~") {
        Some("~~~")
    } else {
        None
    }
}

/// The first JSON value in `text`: the whole text, else the first fenced code block's
/// body, else the first balanced object or array in the prose that parses. Strings inside
/// the value may hold braces; objects may nest. A bare one-number array (`[2]`) is taken
/// for a citation marker, not an answer, and skipped.
pub fn extract_json(text: &str) -> Option<Value> {
    let trimmed = text.trim();
    if let Ok(v) = serde_json::from_str::<Value>(trimmed) {
        return Some(v);
    }
    if let Some(body) = first_fenced_block(text)
        && let Ok(v) = serde_json::from_str::<Value>(body.trim())
    {
        return Some(v);
    }
    let bytes = text.as_bytes();
    let mut budget = bytes.len().saturating_mul(SCAN_BUDGET_FACTOR) + 65_536;
    let mut tried = 0;
    let mut pos = 0;
    while tried < MAX_CANDIDATES {
        let start = pos + memchr_open(&bytes[pos..])?;
        tried += 1;
        let (end, scanned) = balanced_end(bytes, start);
        budget = budget.checked_sub(scanned)?;
        if let Some(end) = end
            && let Ok(v) = serde_json::from_str::<Value>(&text[start..end])
            && !is_citation(&v)
        {
            return Some(v);
        }
        pos = start + 1;
    }
    None
}

fn is_citation(v: &Value) -> bool {
    matches!(v, Value::Array(items) if items.len() == 1 && items[0].is_number())
}

fn memchr_open(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'{' || b == b'[')
}

/// Where the value opening at `start` closes (exclusive), if it does, and how many bytes
/// the scan read. Depth counts both bracket kinds; a mismatch is left to the parser.
fn balanced_end(bytes: &[u8], start: usize) -> (Option<usize>, usize) {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in bytes[start..].iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return (Some(start + i + 1), i + 1);
                }
            }
            _ => {}
        }
    }
    (None, bytes.len() - start)
}

/// Character offset of the first `{` whose value never closes (a truncated answer).
fn first_unclosed(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let start = bytes.iter().position(|&b| b == b'{')?;
    match balanced_end(bytes, start).0 {
        Some(_) => None,
        None => Some(text[..start].chars().count()),
    }
}

/// The body of the first ```/~~~ fenced block (to the end of the text if never closed).
fn first_fenced_block(text: &str) -> Option<&str> {
    let mut offset = 0;
    let mut open: Option<(&str, usize)> = None;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        match open {
            None => {
                for fence in ["```", "~~~"] {
                    if t.starts_with(fence) {
                        open = Some((fence, offset + line.len()));
                        break;
                    }
                }
            }
            Some((fence, body_start)) => {
                if t.trim_end() == fence || t.trim_end().starts_with(fence) {
                    return Some(&text[body_start..offset]);
                }
            }
        }
        offset += line.len();
    }
    open.map(|(_, body_start)| &text[body_start.min(text.len())..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strict_accepts_only_bare_json() {
        assert!(score(JsonMode::Strict, "  {\"a\": 1}\n").passed);
        assert!(score(JsonMode::Strict, "[1, 2]").passed);
        let s = score(JsonMode::Strict, "```json\n{\"a\": 1}\n```");
        assert_eq!(s.reason.as_deref(), Some("answer wrapped in ```json fence"));
        let s = score(JsonMode::Strict, "```\n{\"a\": 1}\n```");
        assert_eq!(s.reason.as_deref(), Some("answer wrapped in ``` fence"));
        let s = score(JsonMode::Strict, "~~~\n{\"a\": 1}\n~~~");
        assert_eq!(s.reason.as_deref(), Some("answer wrapped in ~~~ fence"));
        let s = score(JsonMode::Strict, "Here you go: {\"a\": 1}");
        assert!(
            s.reason
                .as_deref()
                .unwrap_or("")
                .starts_with("not valid JSON (JSON surrounded by prose)"),
            "{s:?}"
        );
        let s = score(JsonMode::Strict, "");
        assert_eq!(s.reason.as_deref(), Some("empty answer, expected JSON"));
    }

    #[test]
    fn lenient_extracts_from_prose() {
        let v = extract_json(
            "Sure! Here is the order: {\"id\": 1, \"note\": \"use {braces} and \\\"quotes\\\" }\"} Hope it helps {x}.",
        );
        assert_eq!(
            v,
            Some(json!({"id": 1, "note": "use {braces} and \"quotes\" }"}))
        );
        // Nested objects; an earlier non-JSON brace pair is skipped.
        let v = extract_json("Set {not json} then {\"a\": {\"b\": [1, {\"c\": null}]}} done");
        assert_eq!(v, Some(json!({"a": {"b": [1, {"c": null}]}})));
        // A brace pair wrapping the value: the inner one is found.
        let v = extract_json("{ see: {\"ok\": true} }");
        assert_eq!(v, Some(json!({"ok": true})));
        // Citation markers are not the answer.
        let v = extract_json("According to [2], the result is [{\"id\": 3}].");
        assert_eq!(v, Some(json!([{"id": 3}])));
        // Fences, plain and tilde, closed or not.
        assert_eq!(
            extract_json("```json\n{\"a\":1}\n```"),
            Some(json!({"a": 1}))
        );
        assert_eq!(
            extract_json("Text\n~~~\n[1,2]\n~~~\nmore"),
            Some(json!([1, 2]))
        );
        assert_eq!(extract_json("```\n{\"a\":1}\n"), Some(json!({"a": 1})));
        assert!(score(JsonMode::Lenient, "```json\n{\"a\": 1}\n```").passed);
    }

    #[test]
    fn lenient_failures_say_why() {
        let s = score(JsonMode::Lenient, "No JSON here.");
        assert_eq!(s.reason.as_deref(), Some("no JSON value found in answer"));
        let s = score(JsonMode::Lenient, "Result: {\"id\": 1, \"items\": [1, 2");
        assert_eq!(
            s.reason.as_deref(),
            Some(
                "no complete JSON value found: the one starting at char 8 is never closed (truncated?)"
            )
        );
        assert!(!score(JsonMode::Lenient, "").passed);
    }

    #[test]
    fn unicode() {
        let v = extract_json("Voilà 🎉 : {\"ville\": \"東京\", \"e\": \"e\u{301}\"} ✓");
        assert_eq!(v, Some(json!({"ville": "東京", "e": "e\u{301}"})));
    }

    #[test]
    fn adversarial_input_stays_fast() {
        let t = std::time::Instant::now();
        let braces = "{".repeat(1_000_000);
        assert!(extract_json(&braces).is_none());
        let mixed = "{\"a\": ".repeat(150_000);
        assert!(extract_json(&mixed).is_none());
        let strings = format!("{{\"s\": \"{}\"}}", "x".repeat(1_000_000));
        assert!(extract_json(&strings).is_some());
        let prose = format!("{} {{\"a\": 1}}", "word ".repeat(200_000));
        assert_eq!(extract_json(&prose), Some(json!({"a": 1})));
        let s = score(JsonMode::Strict, &braces);
        assert!(s.reason.as_deref().unwrap_or("").len() < 200);
        assert!(t.elapsed().as_secs() < 3, "{:?}", t.elapsed());
    }
}
