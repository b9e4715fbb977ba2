//! The audit trail: an [`AuditSink`] the app sets with
//! [`OidcConfigBuilder::with_audit_sink`](crate::OidcConfigBuilder::with_audit_sink) receives an
//! [`AuditEvent`] for each sign-in, failed sign-in, refusal and sign-out, with the time, the
//! provider, the user and the client's address and user agent. [`TracingAuditSink`] writes
//! them as `tracing` events.
//!
//! ```
//! use tower_oidc::{AuditEvent, OidcConfig};
//!
//! let builder = OidcConfig::builder().with_audit_sink(|event: &AuditEvent| {
//!     // Hand it to a channel or a task: `record` runs inside the request and must not block.
//!     println!("{} {:?} from {:?}", event.kind.as_str(), event.subject, event.client_ip);
//! });
//! ```

use std::fmt;
use std::net::IpAddr;
use std::time::SystemTime;

use crate::error::AuthErrorKind;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuditKind {
    /// A user signed in: a session was issued.
    SignIn,
    /// A sign-in failed ([`AuditEvent::error`] says why): a bad or expired callback, a token
    /// that failed a check, an unreachable provider.
    SignInFailed,
    /// The user signed in at the provider but was not admitted: by the access rules, the role
    /// map or the app's login hook ([`AuditEvent::error`] says which).
    SignInRefused,
    /// A user signed out: the session was ended.
    SignOut,
    /// A request presented a session that has expired (`OIDC_SESSION_LIFETIME`): recorded at
    /// each request that presents it, until the browser signs in again or drops the cookie.
    SessionExpired,
    /// The identity provider ended sessions through back-channel logout: one event per logout
    /// token, with the user when the token names one (a token may name the provider's session
    /// only).
    BackChannelSignOut,
    /// The app signed a user out everywhere
    /// ([`OidcLayer::end_sessions_of`](crate::OidcLayer::end_sessions_of)): one event per
    /// call, with the user; no client address or user agent (the app's call, not a request).
    SignOutEverywhere,
}

impl AuditKind {
    /// A stable name for the event column of a table: `sign_in`, `sign_in_failed`,
    /// `sign_in_refused`, `sign_out`, `session_expired`, `back_channel_sign_out`,
    /// `sign_out_everywhere`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "sign_in",
            Self::SignInFailed => "sign_in_failed",
            Self::SignInRefused => "sign_in_refused",
            Self::SignOut => "sign_out",
            Self::SessionExpired => "session_expired",
            Self::BackChannelSignOut => "back_channel_sign_out",
            Self::SignOutEverywhere => "sign_out_everywhere",
        }
    }
}

/// One entry of the audit trail. It never holds a secret, token, code or cookie.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuditEvent {
    /// What happened.
    pub kind: AuditKind,
    /// When, by the configuration's clock.
    pub at: SystemTime,
    /// The provider's slug, once known (a callback without a valid login record names none).
    pub provider: Option<String>,
    /// The provider's issuer, once known.
    pub issuer: Option<String>,
    /// The user's subject at that issuer, once an ID token was verified. Key users by
    /// `(issuer, subject)`.
    pub subject: Option<String>,
    /// Why a sign-in failed or was refused.
    pub error: Option<AuthErrorKind>,
    /// The client's address: the connection's peer, or what a trusted proxy says
    /// (`OIDC_TRUSTED_PROXIES`); `None` when the server does not pass connect info.
    pub client_ip: Option<IpAddr>,
    /// The request's `User-Agent`, at most 256 bytes.
    pub user_agent: Option<String>,
}

/// Receives the audit trail. Implemented for every `Fn(&AuditEvent) + Send + Sync`.
///
/// [`record`](Self::record) is called inside the request, before the response is sent: keep
/// it quick (send the event to a channel or spawn a task for I/O).
pub trait AuditSink: Send + Sync + 'static {
    /// Records one event.
    fn record(&self, event: &AuditEvent);
}

impl<F> AuditSink for F
where
    F: Fn(&AuditEvent) + Send + Sync + 'static,
{
    fn record(&self, event: &AuditEvent) {
        self(event)
    }
}

/// A ready sink: each event as an `info` (sign-in, sign-out) or `warn` (failure, refusal)
/// `tracing` event with target `tower_oidc::audit`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingAuditSink;

impl AuditSink for TracingAuditSink {
    fn record(&self, e: &AuditEvent) {
        let at =
            e.at.duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
        macro_rules! emit {
            ($level:ident) => {
                tracing::$level!(
                    target: "tower_oidc::audit",
                    event = e.kind.as_str(),
                    at,
                    provider = e.provider.as_deref(),
                    issuer = e.issuer.as_deref(),
                    subject = e.subject.as_deref(),
                    error = e.error.map(AuthErrorKind::as_str),
                    client_ip = e.client_ip.map(tracing::field::display),
                    user_agent = e.user_agent.as_deref(),
                )
            };
        }
        match e.kind {
            AuditKind::SignIn
            | AuditKind::SignOut
            | AuditKind::SessionExpired
            | AuditKind::BackChannelSignOut
            | AuditKind::SignOutEverywhere => emit!(info),
            _ => emit!(warn),
        }
    }
}

/// The stored sink.
#[derive(Clone)]
pub(crate) struct Sink(pub(crate) std::sync::Arc<dyn AuditSink>);

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditSink")
    }
}
