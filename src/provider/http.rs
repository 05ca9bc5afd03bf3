//! Any JSON endpoint: templated body, JSON pointers into the response.
use std::time::Duration;

use super::{ChatRequest, ErrorClass, Failure, ProviderError, Reply};
use crate::config::Target;

#[derive(Debug, Clone)]
pub struct HttpEndpoint {}

impl HttpEndpoint {
    pub fn new(_target: &Target, _timeout: Duration) -> Result<Self, ProviderError> {
        Ok(HttpEndpoint {})
    }
    pub async fn chat(&self, _request: &ChatRequest<'_>) -> Result<Reply, Failure> {
        Err(Failure::new(ErrorClass::Connect, "not yet built"))
    }
}
