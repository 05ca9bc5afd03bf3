//! The Anthropic Messages API, streaming and not.
use std::time::Duration;

use super::{ChatRequest, ErrorClass, Failure, ProviderError, Reply};
use crate::config::Target;

#[derive(Debug, Clone)]
pub struct Anthropic {}

impl Anthropic {
    pub fn new(_target: &Target, _timeout: Duration) -> Result<Self, ProviderError> {
        Ok(Anthropic {})
    }
    pub async fn chat(&self, _request: &ChatRequest<'_>) -> Result<Reply, Failure> {
        Err(Failure::new(ErrorClass::Connect, "not yet built"))
    }
}
