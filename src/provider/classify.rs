//! Classifying what went wrong into `ErrorClass`es, with one line a person can act on:
//!
//! - no response status yet: a timeout is `Timeout`, anything else (refused, reset, TLS,
//!   DNS) is `Connect`;
//! - a status: 429 is `Http429` (with `Retry-After`), other 4xx `Http4xx`, 5xx `Http5xx`
//!   (with `Retry-After` too: a 503 may ask for room); a 404 on a chat path without `/v1`
//!   hints at the `base_url`;
//! - an error an API sent inside a 200 stream is classified like the status it stands for;
//! - a 2xx body that is cut, too large, not UTF-8 or not what the API promises is
//!   `MalformedResponse`; a stream that ends before it is complete is `StreamInterrupted`
//!   (both raised where the body is read, in `transport` and the providers).

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use super::transport::{Meta, SNIPPET_CHARS};
use super::{ErrorClass, Failure};

/// The failure a non-2xx status means, quoting the start of the body.
pub(super) fn status_failure(
    status: StatusCode,
    meta: &Meta,
    retry_after: Option<Duration>,
    quote: &str,
) -> Failure {
    let code = status.as_u16();
    let class = match code {
        429 => ErrorClass::Http429,
        400..=499 => ErrorClass::Http4xx,
        500..=599 => ErrorClass::Http5xx,
        // A redirect not followed, or a status outside the standard ranges.
        _ => ErrorClass::MalformedResponse,
    };
    let what = match status.canonical_reason() {
        Some(reason) => format!("HTTP {code} {reason}"),
        None => format!("HTTP {code}"),
    };
    let mut message = if quote.is_empty() {
        format!("{what} from {} (empty body)", meta.url)
    } else {
        format!("{what} from {}: {quote}", meta.url)
    };
    if let Some(hint) = not_found_hint(code, &meta.url) {
        message.push_str(hint);
    }
    Failure {
        retry_after: if matches!(class, ErrorClass::Http429 | ErrorClass::Http5xx) {
            retry_after
        } else {
            None
        },
        ..meta.failure(class, message)
    }
}

/// A failure before any response status arrived.
pub(super) fn transport_failure(
    error: &reqwest::Error,
    url: &str,
    connect_timeout: Duration,
) -> Failure {
    if error.is_timeout() {
        return Failure::new(
            ErrorClass::Timeout,
            format!(
                "could not connect to {url} within {}",
                humantime::format_duration(connect_timeout)
            ),
        );
    }
    // Refused, reset, DNS, TLS, a connection closed before the status line: all mean the
    // endpoint was not reached, and all are worth another attempt.
    Failure::new(
        ErrorClass::Connect,
        format!("could not reach {url}: {}", cause(error)),
    )
}

/// A 404 from a chat path without `/v1` is most often a `base_url` pasted without it
/// (Anthropic's SDKs take `https://api.anthropic.com`, probity wants `.../v1`).
fn not_found_hint(status: u16, url: &str) -> Option<&'static str> {
    let path = reqwest::Url::parse(url).ok()?.path().to_owned();
    let chat = path.ends_with("/chat/completions") || path.ends_with("/messages");
    (status == 404 && chat && !path.contains("/v1/"))
        .then_some(" (hint: does base_url need to end in `/v1`?)")
}

/// The chain of causes under a reqwest error, which says what actually happened
/// ("Connection refused", "connection reset by peer"); reqwest's own top line only repeats
/// the URL.
pub(super) fn cause(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        let text = e.to_string();
        // hyper-util's `client error (Connect)` wrapper says nothing the next cause does not,
        // and hyper repeats an inner error in the outer one's text; keep each once.
        if !text.starts_with("client error (") && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    if parts.is_empty() {
        error.to_string()
    } else {
        parts.join(": ")
    }
}

/// Adds what a cut or failed answer had delivered: the text so far and when it started.
pub(super) fn with_partial(
    mut failure: Failure,
    text: &str,
    first_token_at: Option<Instant>,
) -> Failure {
    if !text.is_empty() {
        failure.partial_text = Some(text.to_owned());
    }
    failure.first_token_at = failure.first_token_at.or(first_token_at);
    failure
}

/// The top-level keys of an unexpected object (names only, never values), or its type.
pub(super) fn describe_keys(value: &serde_json::Value) -> String {
    match value.as_object() {
        Some(map) if map.is_empty() => "an empty object".into(),
        Some(map) => {
            let keys: Vec<String> = map.keys().take(8).map(|k| format!("`{k}`")).collect();
            format!("keys {}", keys.join(", "))
        }
        None => json_type(value).into(),
    }
}

/// The JSON type of a value, for messages that must not quote the value itself.
pub(super) fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Maps an error an API sent inside a 200 stream to the status it stands for, so it is
/// classified (and retried) like the same error sent as a status.
pub(super) fn in_stream_failure(meta: &Meta, status: u16, kind: &str, message: &str) -> Failure {
    let class = match status {
        429 => ErrorClass::Http429,
        400..=499 => ErrorClass::Http4xx,
        _ => ErrorClass::Http5xx,
    };
    let what = if kind.is_empty() {
        String::new()
    } else {
        format!("{kind}: ")
    };
    let line: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut quoted: String = line.chars().take(SNIPPET_CHARS).collect();
    if line.chars().count() > SNIPPET_CHARS {
        quoted.push('…');
    }
    Failure {
        http_status: Some(status),
        ..meta.failure(
            class,
            format!("error inside the stream from {}: {what}{quoted}", meta.url),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_404_hint_only_on_chat_paths_without_v1() {
        let hint = |code, url| not_found_hint(code, url).is_some();
        assert!(hint(404, "https://api.anthropic.com/messages"));
        assert!(hint(404, "http://h:1/chat/completions"));
        assert!(!hint(404, "https://api.openai.com/v1/chat/completions"));
        assert!(!hint(500, "http://h:1/chat/completions"));
        assert!(!hint(404, "http://h:1/rag/ask"));
    }
}
