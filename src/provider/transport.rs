//! The HTTP transport every provider shares: the one `reqwest::Client` per target
//! ([`Transport`]), sending, reading a capped body, reading an event stream, and what a
//! response says about itself (status, request id, `Retry-After`). What went wrong is
//! turned into a [`Failure`] by `classify`, so the three providers cannot disagree on what
//! a reset, a cut body or a 429 is.
//!
//! Messages quote at most 200 characters of what the server said, after removing the
//! target's secrets (a server may echo the `Authorization` header back), and never
//! include request headers.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{RequestBuilder, Response};

use super::classify;
use super::sse;
use super::{ErrorClass, Failure, ProviderError};
use crate::config::Target;

/// Largest body accepted from an endpoint; an answer larger than this is not an answer.
pub(super) const MAX_BODY: usize = 32 * 1024 * 1024;
/// Error bodies are only quoted, so only their start is read.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// How much of a server's words a message quotes.
pub(super) const SNIPPET_CHARS: usize = 200;
/// Where providers put a request id, most specific first.
const REQUEST_ID_HEADERS: [&str; 4] = ["x-request-id", "request-id", "x-amzn-requestid", "cf-ray"];
/// The longest `Retry-After` passed on.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// How long, and how much, is read after a stream's end marker to keep its connection.
const DRAIN_MAX_WAIT: Duration = Duration::from_millis(50);
const DRAIN_MAX_BYTES: usize = 64 * 1024;
/// Secrets shorter than this are not hidden in messages: such a value cannot be a real
/// credential, and replacing every occurrence of, say, `1` would garble the message.
const MIN_SECRET_LEN: usize = 4;

/// Values that must never appear in a message: the api key and every configured header
/// value. Its `Debug` shows none of them, so a provider can derive `Debug`.
#[derive(Clone, Default)]
pub(super) struct Secrets(Arc<[String]>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets([REDACTED; {}])", self.0.len())
    }
}

impl Secrets {
    pub(super) fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut values: Vec<String> = values
            .into_iter()
            .filter(|v| v.len() >= MIN_SECRET_LEN)
            .collect();
        // Longest first, so a secret that contains another is replaced whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Secrets(values.into())
    }

    pub(super) fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in self.0.iter() {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "[REDACTED]");
            }
        }
        text
    }

    fn longest(&self) -> usize {
        self.0.first().map_or(0, String::len)
    }
}

/// What is known about a response once its headers arrived.
#[derive(Debug, Clone)]
pub(super) struct Meta {
    pub status: u16,
    pub request_id: Option<String>,
    /// When the headers arrived: the first sign of an answer when it is not streamed.
    pub headers_at: Instant,
    pub content_type: Option<String>,
    /// The URL for messages (no query string, no credentials).
    pub url: String,
}

impl Meta {
    /// A failure of this response, carrying its status and request id.
    pub fn failure(&self, class: ErrorClass, message: impl Into<String>) -> Failure {
        Failure {
            http_status: Some(self.status),
            request_id: self.request_id.clone(),
            ..Failure::new(class, message)
        }
    }

    /// The answer is JSON although a stream was asked for (a proxy that does not stream).
    pub fn is_json(&self) -> bool {
        self.content_type.as_deref().is_some_and(|t| {
            t.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        })
    }
}

/// One target's HTTP client and the secrets its messages must not show.
#[derive(Debug, Clone)]
pub(super) struct Transport {
    client: reqwest::Client,
    secrets: Secrets,
    connect_timeout: Duration,
}

impl Transport {
    /// Builds the client: connect timeout, `user-agent`, and as default headers `auth` (the
    /// provider's credential header) then `target.headers` (which win, so a target can
    /// replace the credential header with its own scheme). No total timeout: the runner
    /// bounds the whole request itself.
    pub fn new(
        target: &Target,
        connect_timeout: Duration,
        auth: Option<(&'static str, String)>,
    ) -> Result<Self, ProviderError> {
        let build = |message: String| ProviderError::Build {
            target: target.name.clone(),
            message,
        };
        let mut headers = HeaderMap::new();
        let mut secrets: Vec<String> = target
            .api_key
            .iter()
            .map(|k| k.expose().to_owned())
            .collect();
        if let Some((name, value)) = auth {
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                build(
                    "api_key is not a valid HTTP header value (does it hold a newline or a \
                     non-ASCII character?)"
                        .to_owned(),
                )
            })?;
            value.set_sensitive(true);
            headers.insert(HeaderName::from_static(name), value);
        }
        for (name, value) in &target.headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| build(format!("header `{name}`: not a valid HTTP header name")))?;
            let mut header_value = HeaderValue::from_str(value.expose()).map_err(|_| {
                build(format!(
                    "header `{name}`: the value is not a valid HTTP header value (does it hold \
                     a newline or a non-ASCII character?)"
                ))
            })?;
            header_value.set_sensitive(true);
            headers.insert(header, header_value);
            secrets.push(value.expose().to_owned());
        }
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .user_agent(concat!("probity/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .dns_resolver(Arc::new(super::phases::TimingResolver))
            .connector_layer(super::phases::TimingLayer)
            .build()
            .map_err(|e| build(format!("cannot build the HTTP client: {e}")))?;
        Ok(Transport {
            client,
            secrets: Secrets::new(secrets),
            connect_timeout,
        })
    }

    /// Adds `extra` to the values messages must not show.
    pub fn also_hide(mut self, extra: &[crate::config::Secret]) -> Self {
        if !extra.is_empty() {
            let values = self
                .secrets
                .0
                .iter()
                .cloned()
                .chain(extra.iter().map(|s| s.expose().to_owned()));
            self.secrets = Secrets::new(values);
        }
        self
    }

    pub fn request(&self, method: reqwest::Method, address: &Address) -> RequestBuilder {
        self.client.request(method, address.url.clone())
    }

    /// Removes the target's secrets from a failure's message: the last line of defence
    /// before a failure leaves the provider.
    pub fn scrub(&self, mut failure: Failure) -> Failure {
        failure.message = self.secrets.scrub(&failure.message);
        failure
    }

    /// Sends the request. A response with a non-2xx status is read (its start) and turned
    /// into the failure its status means.
    pub async fn send(&self, request: RequestBuilder, address: &Address) -> Result<Sent, Failure> {
        let shown = address.shown.clone();
        let response = request
            .send()
            .await
            .map_err(|e| classify::transport_failure(&e, &shown, self.connect_timeout))?;
        let headers_at = Instant::now();
        let headers = response.headers();
        record_headers(headers_at, headers);
        let meta = Meta {
            status: response.status().as_u16(),
            request_id: request_id(headers),
            headers_at,
            content_type: headers
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            url: shown,
        };
        if response.status().is_success() {
            return Ok(Sent { response, meta });
        }
        let status = response.status();
        let retry_after = retry_after(response.headers(), SystemTime::now());
        // The status already says what went wrong; a cut error body only loses the quote.
        let (body, cut) = read_capped(response, MAX_ERROR_BODY)
            .await
            .unwrap_or_default();
        let quote = self.snippet(&body, cut);
        Err(classify::status_failure(status, &meta, retry_after, &quote))
    }

    /// Reads a whole (non-streamed) 2xx body as UTF-8 text.
    pub async fn read_text(&self, sent: Sent) -> Result<(String, Meta), Failure> {
        let Sent { response, meta } = sent;
        // A declared length over the cap is refused before reading 32 MiB to throw away.
        let declared_too_large = response
            .content_length()
            .is_some_and(|n| n > MAX_BODY as u64);
        let read = if declared_too_large {
            Ok((Vec::new(), true))
        } else {
            read_capped(response, MAX_BODY).await
        };
        let (body, too_large) = match read {
            Ok(read) => read,
            Err(ReadError { read, error }) if error.is_timeout() => {
                return Err(meta.failure(
                    ErrorClass::Timeout,
                    format!(
                        "timed out reading the response body from {} after {read} bytes",
                        meta.url
                    ),
                ));
            }
            Err(ReadError { read, error }) => {
                return Err(meta.failure(
                    ErrorClass::MalformedResponse,
                    format!(
                        "response body ended early: {} stopped sending after {read} bytes ({})",
                        meta.url,
                        classify::cause(&error)
                    ),
                ));
            }
        };
        if too_large {
            return Err(meta.failure(
                ErrorClass::MalformedResponse,
                format!(
                    "response body from {} is larger than {} MiB",
                    meta.url,
                    MAX_BODY >> 20
                ),
            ));
        }
        match String::from_utf8(body) {
            Ok(text) => Ok((text, meta)),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                Err(meta.failure(
                    ErrorClass::MalformedResponse,
                    format!(
                        "response body from {} is not UTF-8 (invalid byte at offset {at})",
                        meta.url
                    ),
                ))
            }
        }
    }

    /// Reads a whole 2xx body as JSON.
    pub async fn read_json(&self, sent: Sent) -> Result<(serde_json::Value, Meta), Failure> {
        let (text, meta) = self.read_text(sent).await?;
        match serde_json::from_str(&text) {
            Ok(value) => Ok((value, meta)),
            Err(e) => Err(meta.failure(
                ErrorClass::MalformedResponse,
                format!(
                    "response from {} is not valid JSON ({e}): {}",
                    meta.url,
                    self.snippet(text.as_bytes(), false)
                ),
            )),
        }
    }

    /// Up to 200 characters of what a server said, on one line, its secrets removed.
    /// Secrets are removed before cutting, so a cut cannot leave half a key behind.
    pub fn snippet(&self, body: &[u8], cut: bool) -> String {
        let mut text = String::from_utf8_lossy(body).into_owned();
        if cut {
            // The read stopped mid-body: the tail may be the start of a secret that the
            // whole-value replacement below would miss.
            let keep = text.len().saturating_sub(self.secrets.longest());
            let keep = (0..=keep)
                .rev()
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(0);
            text.truncate(keep);
        }
        let text = self.secrets.scrub(&text);
        let mut out = String::new();
        let mut chars = 0;
        for word in text.split_whitespace() {
            if chars > 0 {
                out.push(' ');
                chars += 1;
            }
            for c in word.chars() {
                if chars >= SNIPPET_CHARS {
                    out.push('…');
                    return out;
                }
                out.push(c);
                chars += 1;
            }
        }
        out
    }
}

/// A response whose status is 2xx, not yet read.
pub(super) struct Sent {
    pub response: Response,
    pub meta: Meta,
}

impl Sent {
    /// Reads the body as server-sent events.
    pub fn events(self) -> EventStream {
        EventStream {
            response: self.response,
            meta: self.meta,
            parser: sse::Parser::new(),
            pending: VecDeque::new(),
            read: 0,
            ended: false,
        }
    }
}

/// A streamed body, event by event.
pub(super) struct EventStream {
    response: Response,
    pub meta: Meta,
    parser: sse::Parser,
    pending: VecDeque<sse::Event>,
    read: usize,
    ended: bool,
}

impl EventStream {
    /// The next event; `None` once the server closed the stream. A cut connection is a
    /// `StreamInterrupted` failure (the caller adds what had arrived).
    pub async fn next(&mut self) -> Result<Option<sse::Event>, Failure> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(Some(event));
            }
            if self.ended {
                return Ok(None);
            }
            match self.response.chunk().await {
                Ok(Some(chunk)) => {
                    self.read = self.read.saturating_add(chunk.len());
                    if self.read > MAX_BODY {
                        return Err(self.meta.failure(
                            ErrorClass::MalformedResponse,
                            format!(
                                "event stream from {} is larger than {} MiB",
                                self.meta.url,
                                MAX_BODY >> 20
                            ),
                        ));
                    }
                    let events = self.parser.feed(&chunk).map_err(|e| {
                        self.meta.failure(
                            ErrorClass::MalformedResponse,
                            format!("event stream from {}: {e}", self.meta.url),
                        )
                    })?;
                    self.pending.extend(events);
                }
                Ok(None) => {
                    self.ended = true;
                    self.pending.extend(self.parser.finish());
                }
                Err(error) => {
                    let class = if error.is_timeout() {
                        ErrorClass::Timeout
                    } else {
                        ErrorClass::StreamInterrupted
                    };
                    return Err(self.meta.failure(
                        class,
                        format!(
                            "stream from {} was cut after {} bytes ({})",
                            self.meta.url,
                            self.read,
                            classify::cause(&error)
                        ),
                    ));
                }
            }
        }
    }

    /// The failure of a stream that closed before its `marker` (`data: [DONE]`,
    /// `message_stop`) said the answer was complete.
    pub fn ended_early(&self, marker: &str) -> Failure {
        self.meta.failure(
            ErrorClass::StreamInterrupted,
            format!(
                "stream from {} ended after {} bytes without {marker}",
                self.meta.url, self.read
            ),
        )
    }

    /// The failure of a stream whose end marker came before the answer was complete.
    pub fn interrupted(&self, what: &str) -> Failure {
        self.meta.failure(
            ErrorClass::StreamInterrupted,
            format!(
                "stream from {} {what} (after {} bytes)",
                self.meta.url, self.read
            ),
        )
    }

    /// Reads what follows the end marker (usually just the chunked-encoding terminator),
    /// so the connection goes back to the pool: a dropped, unfinished body closes it, and
    /// the next sample would then pay for a new TCP and TLS handshake that a real client,
    /// reusing its connection, does not. Bounded, and not part of the answer's latency (see
    /// `Reply::completed_at`), so a server that keeps the stream open after its end marker
    /// costs a little wall time and nothing in the figures.
    pub async fn drain(mut self) {
        let drain = async {
            let mut left = DRAIN_MAX_BYTES;
            while let Ok(Some(chunk)) = self.response.chunk().await {
                left = left.saturating_sub(chunk.len());
                if left == 0 {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(DRAIN_MAX_WAIT, drain).await;
    }
}

/// A body whose connection failed after `read` bytes.
struct ReadError {
    read: usize,
    error: reqwest::Error,
}

/// Reads at most `cap` bytes; the flag says the body was longer (and the rest not read).
async fn read_capped(mut response: Response, cap: usize) -> Result<(Vec<u8>, bool), ReadError> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = cap - body.len();
                if chunk.len() > room {
                    body.extend_from_slice(chunk.get(..room).unwrap_or_default());
                    return Ok((body, true));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok((body, false)),
            Err(error) => {
                return Err(ReadError {
                    read: body.len(),
                    error,
                });
            }
        }
    }
}

/// Tells the attempt's timings that its headers arrived, with the `Server-Timing`
/// components they carry (a failed response's too: a 500 may say where its time went).
fn record_headers(at: Instant, headers: &HeaderMap) {
    let values = headers
        .get_all("server-timing")
        .iter()
        .filter_map(|v| v.to_str().ok());
    crate::runner::timings::headers_arrived(at, super::server_timing::parse(values));
}

/// The provider's request id, from the first of the usual headers that is present.
pub(super) fn request_id(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS.iter().find_map(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    })
}

/// The wait a server asked for: `retry-after-ms` (milliseconds, which the OpenAI SDKs read
/// first) when it is a valid number, else `Retry-After` as delta-seconds or an HTTP-date
/// (any of the three formats RFC 9110 says a recipient must accept) relative to `now`. A
/// date in the past is no wait; a value of neither form is no advice.
pub(super) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let ms = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0);
    if let Some(ms) = ms {
        let wait = Duration::try_from_secs_f64(ms / 1000.0).unwrap_or(MAX_RETRY_AFTER);
        return Some(wait.min(MAX_RETRY_AFTER));
    }
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for u64 is "a very long time", not "no advice".
        Duration::from_secs(value.parse().unwrap_or(u64::MAX))
    } else {
        let at: SystemTime = http_date(value)?.into();
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    // Capped, so that `Instant::now() + retry_after` cannot overflow (and panic) anywhere
    // downstream; a day already means "not within this run".
    Some(wait.min(MAX_RETRY_AFTER))
}

fn http_date(value: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{NaiveDateTime, TimeZone, Utc};
    // IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) is an RFC 2822 date.
    if let Ok(date) = chrono::DateTime::parse_from_rfc2822(value) {
        return Some(date.with_timezone(&Utc));
    }
    // The obsolete RFC 850 and asctime forms.
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(value, format).ok())
        .map(|naive| Utc.from_utc_datetime(&naive))
}

/// A URL for messages: no query string (some APIs take the key there) and no user info.
pub(super) fn display_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            parsed.set_query(None);
            parsed.set_fragment(None);
            // Only fails for URLs that cannot have credentials, which then have none to hide.
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Err(_) => url.split(['?', '#']).next().unwrap_or_default().to_owned(),
    }
}

/// A base URL that does not make a URL is a configuration mistake, reported at build time.
/// A request URL, parsed once when the provider is built (not per request), and the form
/// messages show it in (no query, no credentials).
#[derive(Debug, Clone)]
pub(super) struct Address {
    url: reqwest::Url,
    shown: String,
}

/// Checks and parses a provider's URL.
pub(super) fn check_url(target: &Target, url: &str) -> Result<Address, ProviderError> {
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(Address {
            shown: display_url(url),
            url: parsed,
        }),
        Ok(parsed) => Err(ProviderError::Build {
            target: target.name.clone(),
            message: format!(
                "`{}` uses the scheme `{}`; use http:// or https://",
                display_url(url),
                parsed.scheme()
            ),
        }),
        Err(e) => Err(ProviderError::Build {
            target: target.name.clone(),
            message: format!(
                "`{}` is not a URL ({e}); base_url should look like https://api.example.com/v1",
                display_url(url)
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ProviderKind, Secret};

    fn target(key: &str) -> Target {
        Target {
            name: "t".into(),
            provider: ProviderKind::OpenAi,
            base_url: "http://127.0.0.1:1/v1".into(),
            model: "m".into(),
            api_key: Some(Secret::new(key)),
            stream: false,
            params: Default::default(),
            labels: Default::default(),
            headers: [("x-team-token".to_owned(), Secret::new("team-secret-123"))].into(),
            http: None,
            embeddings_model: None,
            pricing: Default::default(),
        }
    }

    fn transport(key: &str) -> Transport {
        Transport::new(&target(key), Duration::from_secs(1), None).unwrap()
    }

    #[test]
    fn retry_after_reads_seconds_and_all_three_date_forms() {
        let now: SystemTime = chrono::DateTime::parse_from_rfc3339("1994-11-06T08:49:30Z")
            .unwrap()
            .into();
        let at = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                reqwest::header::RETRY_AFTER,
                HeaderValue::from_str(v).unwrap(),
            );
            retry_after(&h, now)
        };
        assert_eq!(at("1"), Some(Duration::from_secs(1)));
        assert_eq!(at(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(
            at("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            at("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(Duration::from_secs(7))
        );
        assert_eq!(at("Sun Nov  6 08:49:37 1994"), Some(Duration::from_secs(7)));
        assert_eq!(at("Sun, 06 Nov 1994 08:00:00 GMT"), Some(Duration::ZERO));
        assert_eq!(at("soon"), None);
        assert_eq!(at("-1"), None);
        assert_eq!(at("99999999999999999999999"), Some(MAX_RETRY_AFTER));
        assert_eq!(at("Fri, 31 Dec 9999 23:59:59 GMT"), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
        let ms = |ms: &str, secs: Option<&str>| {
            let mut h = HeaderMap::new();
            h.insert("retry-after-ms", HeaderValue::from_str(ms).unwrap());
            if let Some(secs) = secs {
                h.insert(
                    reqwest::header::RETRY_AFTER,
                    HeaderValue::from_str(secs).unwrap(),
                );
            }
            retry_after(&h, now)
        };
        assert_eq!(ms("1500", Some("1")), Some(Duration::from_millis(1500)));
        assert_eq!(ms("250.5", None), Some(Duration::from_micros(250_500)));
        assert_eq!(ms("soon", Some("2")), Some(Duration::from_secs(2)));
        assert_eq!(ms("-5", None), None);
        assert_eq!(ms("1e300", None), Some(MAX_RETRY_AFTER));
        assert_eq!(ms("NaN", None), None);
    }

    #[test]
    fn snippets_are_one_line_capped_and_hide_secrets() {
        let t = transport("sk-live-abcdef");
        assert_eq!(
            t.snippet(
                b"{\n  \"error\": \"bad key\r\n sk-live-abcdef\",\n\"h\": \"team-secret-123\"}",
                false
            ),
            "{ \"error\": \"bad key [REDACTED]\", \"h\": \"[REDACTED]\"}"
        );
        let long = "é".repeat(300);
        let s = t.snippet(long.as_bytes(), false);
        assert_eq!(s.chars().count(), SNIPPET_CHARS + 1);
        assert!(s.ends_with('…'));
        // A body cut inside the key: the half key must not survive.
        assert_eq!(t.snippet(b"key was sk-live-abc", true), "key");
        assert_eq!(t.snippet(b"\xff\xfe oops", false), "\u{fffd}\u{fffd} oops");
    }

    #[test]
    fn display_url_drops_query_and_credentials() {
        assert_eq!(
            display_url("https://u:p@api.example.com/v1/x?key=secret#f"),
            "https://api.example.com/v1/x"
        );
        assert_eq!(display_url("not a url?key=1"), "not a url");
    }

    #[test]
    fn invalid_headers_are_named_without_their_value() {
        let mut t = target("k");
        t.headers
            .insert("x-bad".into(), Secret::new("line\nbreak-secret"));
        let err = Transport::new(&t, Duration::from_secs(1), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("x-bad"), "{err}");
        assert!(!err.contains("break-secret"), "{err}");
        let mut t = target("k");
        t.headers.insert("bad name".into(), Secret::new("v"));
        let err = Transport::new(&t, Duration::from_secs(1), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`bad name`"), "{err}");
        let err = Transport::new(
            &target("k"),
            Duration::from_secs(1),
            Some(("authorization", "Bearer sk\nsecret".into())),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("api_key") && !err.contains("secret"), "{err}");
    }

    #[test]
    fn secrets_debug_shows_none_of_them() {
        let t = transport("sk-live-abcdef");
        let shown = format!("{t:?}");
        assert!(
            !shown.contains("sk-live-abcdef") && !shown.contains("team-secret"),
            "{shown}"
        );
    }
}
