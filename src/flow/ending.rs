//! Ending sessions wherever they live: [`end`] takes an [`Ending`] (a back-channel logout's, or
//! an app's "sign out everywhere", [`everywhere`]) to the server-side store when there is one,
//! so that every replica learns of it through the store's feed of ended sessions; with the
//! cookie store to this process's memories ([`crate::session::Memories::end_sessions`]), which
//! other processes do not share.

use crate::audit::AuditKind;
use crate::session::Ending;
use crate::shared::Shared;
use crate::store::{SessionsError, StoreError};

/// Ends the sessions `ending` names; how many. With a server-side store: every session the
/// store holds for that `sid`, or for that user signed in no later than the ending's cut-off
/// (the record's sign-in time), on every replica. With the cookie store: revoked in this process (a later copy of such a cookie is
/// refused here), the count being the sessions dropped from this process's cache.
pub(crate) async fn end(shared: &Shared, ending: &Ending, now: u64) -> Result<usize, StoreError> {
    match &shared.server {
        Some(server) => match ending {
            Ending::Sid { issuer, sid } => server.end_sessions_by_sid(issuer, sid).await,
            Ending::Subject {
                issuer,
                subject,
                before,
            } => server.end_sessions_of(issuer, subject, *before).await,
        },
        None => Ok(shared.cookies.memories.end_sessions(ending, now)),
    }
}

/// Signs the user `(issuer, subject)` out everywhere the store reaches (see [`end`]); counted
/// as `tower_oidc_logouts_total{cause="everywhere"}` and recorded as
/// [`AuditKind::SignOutEverywhere`].
pub(crate) async fn everywhere(
    shared: &Shared,
    issuer: &str,
    subject: &str,
) -> Result<usize, SessionsError> {
    let now = shared.config.clock.unix_seconds();
    let ending = Ending::Subject {
        issuer: issuer.to_owned(),
        subject: subject.to_owned(),
        before: now,
    };
    let ended = end(shared, &ending, now).await.map_err(|e| {
        tracing::warn!(target: "tower_oidc", error = %e, "a user's sessions could not be ended");
        SessionsError::Unavailable
    })?;
    tracing::info!(target: "tower_oidc", event = "sign_out_everywhere", issuer, subject, sessions = ended, server_side = shared.server.is_some());
    crate::meter::logout("everywhere");
    let provider = shared
        .providers
        .iter()
        .find(|p| p.config.issuer.as_str() == issuer);
    super::audit_trail::record_without_request(
        shared,
        AuditKind::SignOutEverywhere,
        provider.map(|p| &p.config),
        Some(subject),
    );
    Ok(ended)
}
