//! Generic webhook: `POST` of the [`Notification`] itself as JSON (its serde shape, the
//! same as stored in the outbox), with headers
//!
//! - `X-Probity-Delivery: <delivery_id>`, the same on every resend of one notification, so
//!   a receiver can drop duplicates;
//! - `X-Probity-Timestamp: <unix seconds>` of this attempt, so a receiver can refuse
//!   replays (e.g. older than five minutes);
//! - when the channel has a `secret`: `X-Probity-Signature: sha256=<hex>`, the lowercase
//!   hex HMAC-SHA256, keyed with the secret, of the bytes `<timestamp>.<body>`: the
//!   timestamp header's value, a `.`, then the exact request body. Signing the timestamp
//!   with the body is what makes the replay check trustworthy.

use chrono::Utc;
use futures_util::future::BoxFuture;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Http;
use crate::alert::{Notification, Notifier, NotifyError};

pub struct Webhook {
    pub(crate) url: reqwest::Url,
    pub(crate) secret: Option<String>,
    pub(crate) http: Http,
}

/// `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(7 + digest.len() * 2);
    hex.push_str("sha256=");
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

impl Notifier for Webhook {
    fn name(&self) -> &str {
        &self.http.name
    }

    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            let body = serde_json::to_vec(n).map_err(|e| NotifyError {
                retryable: false,
                retry_after: None,
                message: format!("{}: cannot encode the notification: {e}", self.http.name),
            })?;
            let timestamp = Utc::now().timestamp();
            let mut request = self
                .http
                .client
                .post(self.url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header("X-Probity-Delivery", n.delivery_id.as_str())
                .header("X-Probity-Timestamp", timestamp.to_string());
            if let Some(secret) = &self.secret {
                request =
                    request.header("X-Probity-Signature", signature(secret, timestamp, &body));
            }
            self.http.send(request.body(body)).await
        })
    }
}
