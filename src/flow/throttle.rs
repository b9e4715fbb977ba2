//! The login rate limit at the door of the login routes: the client's address
//! (`client_ip.rs`) against the layer's limiter (`rate_limit.rs`), a 429 page past it.

use std::sync::atomic::{AtomicBool, Ordering};

use http::request::Parts;

use crate::client_ip::client_ip;
use crate::pages::{self, Page};
use crate::shared::Shared;

/// Whether the missing connect info was logged already (once per process is enough).
static WARNED_NO_ADDRESS: AtomicBool = AtomicBool::new(false);

/// `Some(429 page)` when this request's client is past the limit.
pub(crate) fn refuse(shared: &Shared, parts: &Parts) -> Option<Page> {
    let limiter = shared.login_limiter.as_ref()?;
    let Some(ip) = client_ip(&shared.config.trusted_proxies, parts) else {
        if !WARNED_NO_ADDRESS.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: "tower_oidc",
                "the client's address is unknown, so the login rate limit is off and the audit trail has no addresses: \
                 serve the app with `into_make_service_with_connect_info::<SocketAddr>()`",
            );
        }
        return None;
    };
    let wait = limiter.check(ip).err()?;
    crate::meter::rate_limited();
    tracing::warn!(
        target: "tower_oidc",
        event = "rate_limited",
        client_ip = %ip,
        path = parts.uri.path(),
        "too many sign-in requests from one address",
    );
    Some(pages::too_many_requests(wait))
}
