//! Step 7: the session. A new session value at every login (a planted cookie cannot be kept),
//! the logout hint beside it, and the redirect back to where the user was going.

use http::header;

use super::exchange::Tokens;
use crate::error::{AuthError, AuthErrorKind};
use crate::flow::return_to::safe_return_to;
use crate::identity::{Identity, IdentityData};
use crate::pages::{self, Page};
use crate::session::{encode_session, Purpose, MAX_COOKIE_VALUE};
use crate::shared::Shared;
use crate::store::{ServerSessions, StoredSession, StoredTokens};

/// The redirect back to `return_to` that sets the session cookie for `data` and the logout
/// hint (the raw ID token, sealed) beside it.
pub(crate) fn session(
    shared: &Shared,
    mut data: IdentityData,
    raw_id_token: &str,
    return_to: &str,
) -> Result<Page, AuthError> {
    let config = &shared.config;
    let cookies = &shared.cookies;
    let session = encode_session(&cookies.codec, &cookies.names, &mut data).ok_or_else(|| {
        AuthError::new(
            AuthErrorKind::SessionTooLarge,
            "Your account's information is too large for a session cookie.",
        )
    })?;
    let (identity, mut page) = signed_in(shared, data, &session, return_to);
    let lifetime = config.session_lifetime.as_secs();
    let headers = page.headers_mut();
    let hint = cookies.codec.seal(
        Purpose::Logout,
        &cookies.names.logout,
        raw_id_token.as_bytes(),
    );
    if hint.len() <= MAX_COOKIE_VALUE {
        headers.append(
            header::SET_COOKIE,
            cookies.names.set(&cookies.names.logout, &hint, lifetime),
        );
    } else {
        // Too large to keep: drop any hint of an earlier user of this browser, so that this
        // user's logout never names someone else to the provider.
        headers.append(
            header::SET_COOKIE,
            cookies.names.remove(&cookies.names.logout),
        );
    }
    page.extensions_mut().insert(identity);
    Ok(page)
}

/// With a server-side store: the session stored (with the ID token for the logout, the
/// provider's `sid`, the access token and, with refresh on, the refresh token), the cookie
/// holding only its id, and the redirect back.
pub(crate) async fn stored_session(
    shared: &Shared,
    server: &ServerSessions,
    mut data: IdentityData,
    tokens: Tokens,
    return_to: &str,
) -> Result<Page, AuthError> {
    let config = &shared.config;
    let cookies = &shared.cookies;
    let now = config.clock.unix_seconds();
    let refresh_token = tokens.refresh_token.filter(|_| config.refresh.on);
    let stored = StoredTokens::new(
        tokens.access_token,
        tokens.expires_in,
        refresh_token,
        now,
        config.refresh.margin,
        tokens.dpop_bound,
    );
    data.provider_token = stored.provider_token();
    let record = StoredSession {
        identity: data.duplicate(),
        id_token: tokens.id_token,
        seen_at: now,
        idle_secs: server.idle_secs(),
        tokens: stored,
    };
    if let Err(e) = server.create(&record).await {
        tracing::warn!(target: "tower_oidc", event = "session_store_unreachable", error = %e, "a new session could not be stored");
        return Err(AuthError::new(
            AuthErrorKind::SessionStoreUnavailable,
            "The session store cannot be reached.",
        ));
    }
    let value = cookies.codec.seal(
        Purpose::StoredSession,
        &cookies.names.session,
        data.session_id.as_bytes(),
    );
    let (identity, mut page) = signed_in(shared, data, &value, return_to);
    let headers = page.headers_mut();
    // The ID token is in the store: no hint cookie, and none of an earlier user.
    headers.append(
        header::SET_COOKIE,
        cookies.names.remove(&cookies.names.logout),
    );
    page.extensions_mut().insert(identity);
    Ok(page)
}

/// The sign-in logged, and the redirect back to `return_to` (when safe) setting the session
/// cookie `value`.
fn signed_in(
    shared: &Shared,
    data: IdentityData,
    value: &str,
    return_to: &str,
) -> (Identity, Page) {
    let config = &shared.config;
    let names = &shared.cookies.names;
    let identity = Identity::from_data(data);
    tracing::info!(
        target: "tower_oidc",
        event = "login",
        provider = identity.provider(),
        issuer = identity.issuer(),
        subject = identity.subject(),
    );
    let return_to = safe_return_to(&config.base_url, return_to).unwrap_or_else(|| "/".to_owned());
    let mut page = pages::redirect(&return_to);
    page.headers_mut().append(
        header::SET_COOKIE,
        names.set(&names.session, value, config.session_lifetime.as_secs()),
    );
    (identity, page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::callback::identity::identity_from_claims;
    use crate::flow::callback::identity::tests::grant;
    use crate::session::decode_session;
    use crate::shared::test_support::shared;
    use serde_json::json;

    #[test]
    fn the_session_cookie_opens_to_the_identity_and_the_target_is_kept_only_when_safe() {
        let s = shared();
        let now = s.config.clock.unix_seconds();
        let claims = json!({"sub": "u1", "iss": "https://id.example.com"});
        let data = identity_from_claims(
            &s.providers[0],
            claims.as_object().cloned().unwrap(),
            grant(),
            now,
            600,
        );
        let page = session(&s, data, "a.b.c", "/reports?id=7").unwrap();
        assert_eq!(page.status(), http::StatusCode::FOUND);
        assert_eq!(page.headers()[header::LOCATION], "/reports?id=7");
        let cookies: Vec<&str> = page
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        let names = &s.cookies.names;
        let value = cookies
            .iter()
            .find_map(|c| c.strip_prefix(&format!("{}=", names.session)))
            .and_then(|c| c.split(';').next())
            .expect("a session cookie");
        let opened = decode_session(&s.cookies.codec, names, value, now).unwrap();
        assert_eq!(opened.subject, "u1");
        assert!(cookies
            .iter()
            .any(|c| c.starts_with(&format!("{}=", names.logout))));
        assert_eq!(page.extensions().get::<Identity>().unwrap().subject(), "u1");

        let data = identity_from_claims(
            &s.providers[0],
            claims.as_object().cloned().unwrap(),
            grant(),
            now,
            600,
        );
        let page = session(&s, data, "a.b.c", "//evil.example").unwrap();
        assert_eq!(page.headers()[header::LOCATION], "/");
    }
}
