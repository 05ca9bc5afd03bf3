//! Providers: how one request reaches one endpoint and what came back. `openai` (chat
//! completions), `anthropic` (Messages API), `http` (any JSON endpoint, templated body and
//! JSON pointers). Streaming answers are read from SSE (`sse`). Every failure is classified
//! (`ErrorClass`); nothing a server sends can make a provider panic.

mod anthropic;
mod classify;
mod http;
mod openai;
mod phases;
mod server_timing;
pub mod sse;
mod transport;

use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::config::{ProviderKind, Secret, Target};
use crate::golden::Message;

/// Why a request failed, in classes an operator can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// No complete answer within the probe's `timeout`.
    Timeout,
    /// Could not connect, or the connection failed before a response arrived.
    Connect,
    /// Rate limited (429).
    Http429,
    /// Any other 4xx (auth, bad request, ...).
    Http4xx,
    /// 5xx.
    Http5xx,
    /// A response that is not what the API promises (bad JSON, missing fields).
    MalformedResponse,
    /// A streamed answer that ended before the stream said it was done.
    StreamInterrupted,
    /// The provider withheld the answer (`content_filter`).
    ContentFilter,
    /// An answer arrived but scoring it failed (a judge or embeddings task that panicked
    /// or was lost): counted as the sample's error so it is never silently dropped.
    Scoring,
}

impl ErrorClass {
    pub const ALL: [ErrorClass; 9] = [
        ErrorClass::Timeout,
        ErrorClass::Connect,
        ErrorClass::Http429,
        ErrorClass::Http4xx,
        ErrorClass::Http5xx,
        ErrorClass::MalformedResponse,
        ErrorClass::StreamInterrupted,
        ErrorClass::ContentFilter,
        ErrorClass::Scoring,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Timeout => "timeout",
            ErrorClass::Connect => "connect",
            ErrorClass::Http429 => "http_429",
            ErrorClass::Http4xx => "http_4xx",
            ErrorClass::Http5xx => "http_5xx",
            ErrorClass::MalformedResponse => "malformed_response",
            ErrorClass::StreamInterrupted => "stream_interrupted",
            ErrorClass::ContentFilter => "content_filter",
            ErrorClass::Scoring => "scoring_error",
        }
    }

    pub fn parse(s: &str) -> Option<ErrorClass> {
        ErrorClass::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Connect errors, 429, 5xx and interrupted streams are worth another attempt (a stream
    /// cut by load may well complete next time); the rest would fail again.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorClass::Connect
                | ErrorClass::Http429
                | ErrorClass::Http5xx
                | ErrorClass::StreamInterrupted
        )
    }
}

/// One chat request, as the runner asks for it.
#[derive(Debug, Clone)]
pub struct ChatRequest<'a> {
    pub case_id: &'a str,
    pub messages: &'a [Message],
    /// The case's variables (for the `http` provider's body template).
    pub vars: &'a serde_json::Map<String, serde_json::Value>,
    /// The case's context passages (for the `http` provider's body template).
    pub context: &'a [String],
    /// Headers added by the runner: `traceparent`, `x-probity-run-id`.
    pub headers: HeaderMap,
}

/// A complete answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reply {
    pub text: String,
    /// When the first content arrived (first content delta when streaming, else the headers).
    pub first_token_at: Option<Instant>,
    /// When the answer was complete, if before the call returned: a stream's end marker,
    /// after which the connection is still drained for reuse. `None`: when it returned.
    pub completed_at: Option<Instant>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub finish_reason: Option<String>,
    /// The model the endpoint says answered.
    pub model: Option<String>,
    /// OpenAI's `system_fingerprint`: the backend configuration that answered (changes when
    /// the provider changes what serves the same model name).
    pub system_fingerprint: Option<String>,
    /// The provider's request id header (`x-request-id`, `request-id`, ...).
    pub request_id: Option<String>,
    pub http_status: u16,
    /// Passages the endpoint says it retrieved (`http` provider).
    pub context: Vec<String>,
}

/// More tokens than any real request or answer has: a usage count above it is malformed
/// (and would overflow the cost sums and SQLite's 64-bit integers).
const MAX_TOKEN_COUNT: u64 = 1 << 32;

impl Reply {
    /// The reply, or a `malformed_response` when its usage counts cannot be real.
    fn checked(self) -> Result<Reply, Failure> {
        let counts = [("input", self.input_tokens), ("output", self.output_tokens)];
        let Some((what, n)) = counts
            .into_iter()
            .find_map(|(what, n)| n.filter(|n| *n > MAX_TOKEN_COUNT).map(|n| (what, n)))
        else {
            return Ok(self);
        };
        Err(Failure {
            http_status: Some(self.http_status),
            first_token_at: self.first_token_at,
            request_id: self.request_id,
            partial_text: Some(self.text),
            ..Failure::new(
                ErrorClass::MalformedResponse,
                format!(
                    "the usage reports {n} {what} tokens, more than any real request or answer"
                ),
            )
        })
    }
}

/// A failed attempt, classified.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub class: ErrorClass,
    pub http_status: Option<u16>,
    /// One line for people; may quote the server, so it passes through redaction before use.
    pub message: String,
    /// The server's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
    pub first_token_at: Option<Instant>,
    pub request_id: Option<String>,
    /// What had arrived before the failure (a cut stream), if anything.
    pub partial_text: Option<String>,
}

impl Failure {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Failure {
            class,
            http_status: None,
            message: message.into(),
            retry_after: None,
            first_token_at: None,
            request_id: None,
            partial_text: None,
        }
    }
}

/// Errors building a provider (bad header value, unparsable URL): configuration mistakes.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("target `{target}`: {message}")]
    Build { target: String, message: String },
}

/// One configured endpoint with its own HTTP client.
#[derive(Debug, Clone)]
pub enum Provider {
    OpenAi(openai::OpenAi),
    Anthropic(anthropic::Anthropic),
    Http(http::HttpEndpoint),
}

impl Provider {
    /// Builds the provider and its `reqwest::Client` (one per target). `timeout` bounds
    /// connecting; the runner bounds the whole request.
    pub fn new(target: &Target, timeout: Duration) -> Result<Self, ProviderError> {
        Provider::hiding(target, timeout, &[])
    }

    /// As `new`, and its failure messages also hide `secrets` (the probe's: a `${VAR}`
    /// interpolated into the URL's path is shown in every message that names the URL).
    pub fn hiding(
        target: &Target,
        timeout: Duration,
        secrets: &[Secret],
    ) -> Result<Self, ProviderError> {
        Ok(match target.provider {
            ProviderKind::OpenAi => {
                Provider::OpenAi(openai::OpenAi::new(target, timeout, secrets)?)
            }
            ProviderKind::Anthropic => {
                Provider::Anthropic(anthropic::Anthropic::new(target, timeout, secrets)?)
            }
            ProviderKind::Http => {
                Provider::Http(http::HttpEndpoint::new(target, timeout, secrets)?)
            }
        })
    }

    /// Sends one chat request and reads the whole answer.
    pub async fn chat(&self, request: &ChatRequest<'_>) -> Result<Reply, Failure> {
        let reply = match self {
            Provider::OpenAi(p) => p.chat(request).await,
            Provider::Anthropic(p) => p.chat(request).await,
            Provider::Http(p) => p.chat(request).await,
        };
        reply.and_then(Reply::checked)
    }

    /// Embeddings of `texts` from the target's OpenAI-compatible `/embeddings` endpoint.
    pub async fn embed(&self, texts: &[String]) -> Result<Embeddings, Failure> {
        match self {
            Provider::OpenAi(p) => p.embed(texts).await.and_then(Embeddings::checked),
            _ => Err(Failure::new(
                ErrorClass::Http4xx,
                "embeddings need an openai-compatible target (`similar:` expectations)",
            )),
        }
    }
}

/// Vectors from an embeddings call, with the tokens it used.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    pub input_tokens: Option<u64>,
}

impl Embeddings {
    /// The vectors, or a `malformed_response` when the usage count cannot be real (it would
    /// wrap the run's token totals), as for chat usage.
    fn checked(self) -> Result<Embeddings, Failure> {
        match self.input_tokens {
            Some(n) if n > MAX_TOKEN_COUNT => Err(Failure::new(
                ErrorClass::MalformedResponse,
                format!(
                    "the embeddings usage reports {n} input tokens, more than any real request"
                ),
            )),
            _ => Ok(self),
        }
    }
}
