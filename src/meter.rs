//! The metrics the layer emits through the `metrics` facade (feature `metrics`), named and
//! labelled the Prometheus way, and the `tracing` span of each provider call. Without the
//! feature every function here is empty and compiles away.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `tower_oidc_logins_total` | counter | `provider` |
//! | `tower_oidc_login_failures_total` | counter | `provider` (`unknown` before the login record is read), `kind` ([`AuthErrorKind`](crate::AuthErrorKind)'s name) |
//! | `tower_oidc_logouts_total` | counter | `cause` (`user`; `expiry`: a request presented an expired session, counted at each such request; `back_channel`: a logout token from the provider; `everywhere`: the app signed a user out everywhere, once per call) |
//! | `tower_oidc_rate_limited_total` | counter | |
//! | `tower_oidc_provider_requests_total` | counter | `provider`, `endpoint` (`discovery`, `jwks`, `token`, `userinfo`) |
//! | `tower_oidc_provider_request_failures_total` | counter | `provider`, `endpoint` |
//! | `tower_oidc_provider_request_duration_seconds` | histogram | `provider`, `endpoint` |
//! | `tower_oidc_cached_sessions` | gauge | |

use std::future::Future;

use tracing::Instrument;

/// A successful login at `provider`.
pub(crate) fn login(provider: &str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("tower_oidc_logins_total", "provider" => provider.to_owned()).increment(1);
    let _ = provider;
}

/// A failed or refused login; `provider` is `None` before the login record named one.
pub(crate) fn login_failure(provider: Option<&str>, kind: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(
        "tower_oidc_login_failures_total",
        "provider" => provider.unwrap_or("unknown").to_owned(),
        "kind" => kind,
    )
    .increment(1);
    let _ = (provider, kind);
}

/// Sessions ended: `cause` is `user` for a logout, `expiry` for a request that presented an
/// expired session, `back_channel` for each logout token the provider sent through back-channel
/// logout, `everywhere` for each "sign out everywhere" of the app.
pub(crate) fn logout(cause: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("tower_oidc_logouts_total", "cause" => cause).increment(1);
    let _ = cause;
}

/// A request refused by the login rate limit.
pub(crate) fn rate_limited() {
    #[cfg(feature = "metrics")]
    metrics::counter!("tower_oidc_rate_limited_total").increment(1);
}

/// Sessions added to (positive) or dropped from (negative) the session cache: counted where
/// the cache changes, never at a hit.
pub(crate) fn cached_sessions(delta: i64) {
    #[cfg(feature = "metrics")]
    metrics::gauge!("tower_oidc_cached_sessions").increment(delta as f64);
    let _ = delta;
}

/// Runs one call to `provider`'s `endpoint` in a `tracing` span, counting it, its failure and
/// its duration.
pub(crate) async fn provider_call<T, E>(
    provider: &str,
    endpoint: &'static str,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let span = tracing::debug_span!(target: "tower_oidc", "provider_call", provider, endpoint);
    #[cfg(feature = "metrics")]
    let started = std::time::Instant::now();
    let result = call.instrument(span).await;
    #[cfg(feature = "metrics")]
    {
        let labels = [
            ("provider", provider.to_owned()),
            ("endpoint", endpoint.to_owned()),
        ];
        metrics::counter!("tower_oidc_provider_requests_total", &labels).increment(1);
        if result.is_err() {
            metrics::counter!("tower_oidc_provider_request_failures_total", &labels).increment(1);
        }
        metrics::histogram!("tower_oidc_provider_request_duration_seconds", &labels)
            .record(started.elapsed().as_secs_f64());
    }
    let _ = provider;
    result
}
