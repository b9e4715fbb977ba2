//! Hands the flows' outcomes to the app's [`AuditSink`](crate::AuditSink), with the client's
//! address and user agent; nothing is done when the app set none.

use http::request::Parts;

use crate::audit::{AuditEvent, AuditKind};
use crate::client_ip::{client_ip, user_agent};
use crate::config::ProviderConfig;
use crate::error::AuthErrorKind;
use crate::route::ExpiredSession;
use crate::shared::Shared;

/// A request presented a session of ours that has expired: the audit event
/// ([`AuditKind::SessionExpired`]) and the `logouts{cause="expiry"}` metric, once per such
/// request (a browser that keeps sending the expired cookie is counted at each request).
pub(crate) fn session_expired(shared: &Shared, parts: &Parts, session: &ExpiredSession) {
    crate::meter::logout("expiry");
    let provider = shared.provider_for(&session.provider, &session.issuer);
    record(
        shared,
        parts,
        AuditKind::SessionExpired,
        provider.map(|p| &p.config),
        Some(&session.subject),
        None,
    );
}

/// Records one event, when the app has a sink.
pub(crate) fn record(
    shared: &Shared,
    parts: &Parts,
    kind: AuditKind,
    provider: Option<&ProviderConfig>,
    subject: Option<&str>,
    error: Option<AuthErrorKind>,
) {
    if shared.config.audit_sink.is_none() {
        return;
    }
    let client = (
        client_ip(&shared.config.trusted_proxies, parts),
        user_agent(parts),
    );
    emit(shared, kind, provider, subject, error, client);
}

/// Records one event of the app's own doing, outside any request the layer saw (an app's
/// "sign out everywhere"): no client address or user agent.
pub(crate) fn record_without_request(
    shared: &Shared,
    kind: AuditKind,
    provider: Option<&ProviderConfig>,
    subject: Option<&str>,
) {
    emit(shared, kind, provider, subject, None, (None, None));
}

/// Hands the event to the app's sink, when it has one.
fn emit(
    shared: &Shared,
    kind: AuditKind,
    provider: Option<&ProviderConfig>,
    subject: Option<&str>,
    error: Option<AuthErrorKind>,
    (client_ip, user_agent): (Option<std::net::IpAddr>, Option<String>),
) {
    let Some(sink) = &shared.config.audit_sink else {
        return;
    };
    let event = AuditEvent {
        kind,
        at: shared.config.clock.now(),
        provider: provider.map(|p| p.slug.as_str().to_owned()),
        issuer: provider.map(|p| p.issuer.as_str().to_owned()),
        subject: subject.map(str::to_owned),
        error,
        client_ip,
        user_agent,
    };
    sink.0.record(&event);
}
