//! OpenAI-compatible chat completions (streaming and not) and embeddings.
use std::time::Duration;

use super::{ChatRequest, Embeddings, ErrorClass, Failure, ProviderError, Reply};
use crate::config::Target;

#[derive(Debug, Clone)]
pub struct OpenAi {}

impl OpenAi {
    pub fn new(_target: &Target, _timeout: Duration) -> Result<Self, ProviderError> {
        Ok(OpenAi {})
    }
    pub async fn chat(&self, _request: &ChatRequest<'_>) -> Result<Reply, Failure> {
        Err(Failure::new(ErrorClass::Connect, "not yet built"))
    }
    pub async fn embed(&self, _texts: &[String]) -> Result<Embeddings, Failure> {
        Err(Failure::new(ErrorClass::Connect, "not yet built"))
    }
}
