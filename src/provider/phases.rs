//! The network phases probity times itself, hooked into reqwest: a DNS resolver that times
//! the system resolver ([`TimingResolver`]) and a `connector_layer` that times the whole
//! connect ([`TimingLayer`]). reqwest's connector resolves, connects TCP and runs the TLS
//! handshake in one service call, so the layer sees DNS + TCP + TLS as one span; the
//! resolver's share is taken out of it, and `connect_ms` is TCP and TLS *together*.
//!
//! Which attempt a connect belongs to (see `runner::timings`): the layer captures the
//! attempt being polled when hyper asks for a connection, and charges the connect to it
//! only if the connect also *finishes* while that attempt is polled. hyper-util's pool
//! races a checkout against the connect; when the checkout wins first the connect is
//! spawned to finish in the background, where no attempt is being polled, and nobody pays
//! for it. One window remains that hyper-util does not let a connector see: a connect that
//! completes in the attempt's own poll, after which the pool hands the attempt an idle
//! connection during HTTP/1's handshake readiness wait (one poll of the new connection's
//! task). That attempt is then charged a connect it did not use.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::runner::timings::Recorder;

tokio::task_local! {
    /// The DNS time of the connect being polled, written by the resolver.
    static CONNECT_DNS: Arc<Mutex<Option<f64>>>;
}

/// The system resolver (`getaddrinfo`, on tokio's blocking pool, as reqwest's default),
/// timed: the duration is written into the connect that asked.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TimingResolver;

impl Resolve for TimingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let slot = CONNECT_DNS.try_with(Arc::clone).ok();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let start = Instant::now();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(slot) = slot {
                *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(ms_since(start));
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Times every connect of the client it is layered on.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TimingLayer;

impl<S> tower_layer::Layer<S> for TimingLayer {
    type Service = TimingConnect<S>;
    fn layer(&self, inner: S) -> Self::Service {
        TimingConnect { inner }
    }
}

/// The connector, timed.
#[derive(Debug, Clone)]
pub(super) struct TimingConnect<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, R> tower_service::Service<R> for TimingConnect<S>
where
    S: tower_service::Service<R> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Send + 'static,
    R: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        // The service that was polled ready is the one to call; a clone stays for next time.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let attempt = Recorder::current();
        Box::pin(async move {
            let dns = Arc::new(Mutex::new(None));
            let start = Instant::now();
            let result = CONNECT_DNS
                .scope(Arc::clone(&dns), async move { inner.call(request).await })
                .await;
            let ready_at = Instant::now();
            if let (Some(attempt), Ok(_)) = (attempt, &result) {
                // Finished inside the attempt that asked: hyper hands this connection to it.
                if attempt.is_current() {
                    let dns_ms = *dns.lock().unwrap_or_else(|e| e.into_inner());
                    let total = ms_since(start);
                    let connect_ms = (total - dns_ms.unwrap_or(0.0)).max(0.0);
                    attempt.connected(dns_ms, connect_ms, ready_at);
                }
            }
            result
        })
    }
}

fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}
