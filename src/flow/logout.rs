//! The logout route: clears the local session and, where the provider supports RP-initiated
//! logout (OpenID Connect RP-Initiated Logout 1.0), ends the provider's session too.

use http::header;
use http::request::Parts;

use crate::audit::AuditKind;
use crate::pages::{self, Page};
use crate::session::{
    decode_session, request_cookie, request_cookies, Purpose, MAX_PENDING_LOGINS,
};
use crate::shared::Shared;

/// Whether the logout request comes from our own pages (or from no page at all: a typed URL, a
/// bookmark, a non-browser client). A cross-site request may not sign the user out by itself:
/// it gets a confirmation page instead, so another site cannot log users out with a link or an
/// image (logout CSRF).
fn same_origin(shared: &Shared, parts: &Parts) -> bool {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none");
    }
    match header("origin") {
        Some(origin) => origin == shared.config.base_url.origin().ascii_serialization(),
        None => true,
    }
}

pub(crate) async fn handle(shared: &Shared, parts: &Parts) -> Page {
    if !same_origin(shared, parts) {
        return pages::logout_confirm_page(&shared.config);
    }
    let cookies = &shared.cookies;
    let names = &cookies.names;
    let now = shared.config.clock.unix_seconds();
    let session_value = request_cookie(&parts.headers, &names.session);
    // With a server-side store: the refresh token, revoked at the provider below.
    let mut refresh_token = None;
    let (identity, id_token_hint) = match &shared.server {
        None => {
            let identity =
                session_value.and_then(|v| decode_session(&cookies.codec, names, v, now));
            if let (Some(value), Some(d)) = (session_value, &identity) {
                // End the session here, not only in this browser: a copy of the cookie is
                // refused too.
                cookies
                    .memories
                    .end_session(&d.session_id, d.expires_at, value, now);
            }
            // The hint goes only with a valid session, to that session's provider: never a
            // stale token of another user, or one issued by another provider.
            let hint = identity
                .as_ref()
                .and_then(|_| request_cookie(&parts.headers, &names.logout))
                .and_then(|v| cookies.codec.open(Purpose::Logout, &names.logout, v))
                .and_then(|b| String::from_utf8(b).ok());
            (identity, hint)
        }
        Some(server) => {
            let id = session_value
                .and_then(|v| {
                    cookies
                        .codec
                        .open(Purpose::StoredSession, &names.session, v)
                })
                .and_then(|b| String::from_utf8(b).ok());
            match id {
                None => (None, None),
                // Ended in the store, for every replica; the ID token came from there.
                Some(id) => match server.end(&id).await {
                    Ok(Some(record)) => {
                        refresh_token = record.tokens.refresh_token;
                        (Some(record.identity), Some(record.id_token))
                    }
                    Ok(None) => (None, None),
                    Err(e) => {
                        tracing::warn!(target: "tower_oidc", event = "session_store_unreachable", error = %e, "a session could not be ended in the store: 503, try again");
                        let mut page = pages::store_unavailable(&shared.config);
                        clear_cookies(&mut page, shared, parts);
                        return page;
                    }
                },
            }
        }
    };
    let provider = identity
        .as_ref()
        .and_then(|d| shared.provider_for(&d.provider, &d.issuer))
        .unwrap_or_else(|| shared.default_provider());
    if let Some(d) = &identity {
        tracing::info!(target: "tower_oidc", event = "logout", provider = %d.provider, issuer = %d.issuer, subject = %d.subject);
        let known = shared
            .provider_for(&d.provider, &d.issuer)
            .map(|p| &p.config);
        crate::meter::logout("user");
        super::audit_trail::record(
            shared,
            parts,
            AuditKind::SignOut,
            known,
            Some(&d.subject),
            None,
        );
    }

    // The end-session endpoint comes from discovery; if the provider cannot be reached now,
    // the local session still ends.
    let metadata = match provider.cached_metadata() {
        Some(m) => Some(m),
        None => provider.metadata().await.ok(),
    };
    if let (Some(token), Some(m)) = (&refresh_token, &metadata) {
        revoke(provider, m, token).await;
    }
    let post_logout = shared.config.post_logout_redirect_uri.as_ref();
    let mut page = match metadata
        .as_ref()
        .and_then(|m| m.end_session_endpoint.clone())
    {
        Some(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                if let Some(hint) = &id_token_hint {
                    q.append_pair("id_token_hint", hint);
                }
                q.append_pair("client_id", provider.config.client_id.as_str());
                if let Some(target) = post_logout {
                    q.append_pair("post_logout_redirect_uri", target.as_str());
                }
            }
            pages::redirect(url.as_str())
        }
        None => {
            // Without RP-initiated logout (or while the provider is unreachable) the user is
            // still signed in at the provider, and the next sign-in there needs no password:
            // say so, in the log and on the page.
            tracing::info!(
                target: "tower_oidc",
                event = "logout_local_only",
                provider = provider.config.slug.as_str(),
                reason = if metadata.is_some() { "the provider has no end_session_endpoint" } else { "the provider is unreachable" },
                "signed out of this app only: the session at the identity provider stays open",
            );
            match post_logout {
                Some(target) => pages::redirect(target.as_str()),
                None => pages::signed_out_page(&shared.config),
            }
        }
    };
    clear_cookies(&mut page, shared, parts);
    page
}

/// Revokes the session's refresh token (RFC 7009) where the provider has a revocation
/// endpoint; a failure is logged and the logout goes on.
async fn revoke(
    provider: &crate::provider::Provider,
    metadata: &crate::provider::Metadata,
    token: &crate::secret::Secret,
) {
    let Some(endpoint) = &metadata.revocation_endpoint else {
        return;
    };
    let call = provider.revoke(metadata, endpoint, token.expose(), "refresh_token");
    match crate::meter::provider_call(provider.config.slug.as_str(), "revocation", call).await {
        Ok(()) => tracing::debug!(
            target: "tower_oidc",
            event = "refresh_token_revoked",
            provider = provider.config.slug.as_str(),
        ),
        Err(e) => tracing::warn!(
            target: "tower_oidc",
            event = "refresh_token_revocation_failed",
            provider = provider.config.slug.as_str(),
            error = %e,
            "the refresh token could not be revoked at the provider; the logout goes on",
        ),
    }
}

/// Removes the session cookie, the logout hint and every login cookie of this browser.
fn clear_cookies(page: &mut Page, shared: &Shared, parts: &Parts) {
    let names = &shared.cookies.names;
    let headers = page.headers_mut();
    headers.append(header::SET_COOKIE, names.remove(&names.session));
    headers.append(header::SET_COOKIE, names.remove(&names.logout));
    for (name, _) in request_cookies(&parts.headers)
        .filter(|(n, _)| n.starts_with(names.login_prefix.as_str()))
        .take(4 * MAX_PENDING_LOGINS)
    {
        headers.append(header::SET_COOKIE, names.remove(name));
    }
}
