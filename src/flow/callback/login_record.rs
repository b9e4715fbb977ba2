//! Step 1: the `state` names a login started in this browser, fresh and unused, for a provider
//! still configured, and the response arrived on that provider's callback route.

use http::request::Parts;
use subtle::ConstantTimeEq;

use super::query::CallbackQuery;
use crate::error::{AuthError, AuthErrorKind};
use crate::flow::origin::missing_cookie_hint;
use crate::provider::Provider;
use crate::session::{request_cookie, request_cookies, LoginRecord, Replay, LOGIN_TTL_SECS};
use crate::shared::Shared;

/// A login this browser started, matched to its provider.
#[derive(Debug)]
pub(crate) struct StartedLogin<'s> {
    pub(crate) record: LoginRecord,
    pub(crate) provider: &'s Provider,
}

/// Finds and checks the login record for the response's `state`. `used_cookie` gets the name
/// of the login cookie found, so that the caller removes it whatever the outcome.
pub(crate) fn open<'s>(
    shared: &'s Shared,
    parts: &Parts,
    query: &CallbackQuery,
    now: u64,
    used_cookie: &mut Option<String>,
) -> Result<StartedLogin<'s>, AuthError> {
    let cookies = &shared.cookies;
    let state = query
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            AuthError::new(
                AuthErrorKind::MissingState,
                "The sign-in response did not carry a state parameter.",
            )
        })?;
    let cookie_name = cookies.names.login(state);
    let Some(value) = request_cookie(&parts.headers, &cookie_name) else {
        let mut reason = String::from(
            "No sign-in was started from this browser for this response, or it was already completed.",
        );
        // Without any login cookie at all, the likeliest cause is a sign-in started at another
        // address than BASE_URL, whose cookie this address never receives.
        if !request_cookies(&parts.headers).any(|(n, _)| n.starts_with(&cookies.names.login_prefix))
        {
            reason.push_str(&missing_cookie_hint(&shared.config.base_url));
        }
        return Err(AuthError::new(AuthErrorKind::LoginExpired, reason));
    };
    *used_cookie = Some(cookie_name.clone());
    let record = LoginRecord::open(&cookies.codec, &cookie_name, value).ok_or_else(|| {
        AuthError::new(
            AuthErrorKind::StateMismatch,
            "The sign-in record in this browser is not valid: it was sealed with another cookie key (every replica of the app must share one OIDC_COOKIE_KEY, and without it each restart makes a new key).",
        )
    })?;
    if !bool::from(record.state.as_bytes().ct_eq(state.as_bytes())) {
        return Err(AuthError::new(
            AuthErrorKind::StateMismatch,
            "The sign-in response does not match the sign-in started in this browser.",
        ));
    }
    if record.created_at.saturating_add(LOGIN_TTL_SECS) <= now {
        return Err(AuthError::new(
            AuthErrorKind::LoginExpired,
            "The sign-in took longer than ten minutes.",
        ));
    }
    let expires_at = record.created_at.saturating_add(LOGIN_TTL_SECS);
    match cookies.memories.replay.consume(state, expires_at, now) {
        Replay::First => {}
        Replay::Again => {
            return Err(AuthError::new(
                AuthErrorKind::LoginExpired,
                "This sign-in response was already used.",
            ))
        }
        Replay::Unknown => return Err(AuthError::new(
            AuthErrorKind::LoginExpired,
            "Too many sign-ins were under way at once to tell whether this one was already used.",
        )),
    }
    let provider = shared
        .provider_for(&record.provider, &record.issuer)
        .ok_or_else(|| {
            AuthError::new(
                AuthErrorKind::StateMismatch,
                "The sign-in was started for a provider that is no longer configured.",
            )
        })?;
    // Mix-up defence (RFC 9700 4.4): with several providers each has its own callback route,
    // and the response must arrive on the route of the provider the login was started with.
    if crate::route::app_uri(parts).path() != provider.config.callback_path {
        return Err(AuthError::new(
            AuthErrorKind::IssuerMismatch,
            "The sign-in response arrived at another identity provider's callback route.",
        ));
    }
    Ok(StartedLogin { record, provider })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::test_support::{shared, ISSUER};

    fn record(state: &str, created_at: u64) -> LoginRecord {
        LoginRecord {
            state: state.into(),
            nonce: "n".into(),
            verifier: "v".into(),
            issuer: ISSUER.into(),
            provider: "default".into(),
            return_to: "/".into(),
            created_at,
            max_age: None,
            acr: Vec::new(),
        }
    }

    /// A callback request carrying the login cookie for `sealed_for`'s record.
    fn callback(shared: &Shared, path: &str, record: &LoginRecord, sealed_for: &str) -> Parts {
        let name = shared.cookies.names.login(sealed_for);
        let value = record.seal(&shared.cookies.codec, &name);
        http::Request::get(path)
            .header("cookie", format!("{name}={value}"))
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    fn query(state: &str) -> CallbackQuery {
        CallbackQuery {
            state: Some(state.into()),
            code: Some("c".into()),
            ..CallbackQuery::default()
        }
    }

    fn kind(r: Result<StartedLogin<'_>, AuthError>) -> AuthErrorKind {
        r.expect_err("refused").kind()
    }

    #[test]
    fn accepts_a_fresh_login_once_and_names_its_cookie() {
        let s = shared();
        let parts = callback(&s, "/auth/callback", &record("s1", 1_000), "s1");
        let mut used = None;
        let login = open(&s, &parts, &query("s1"), 1_100, &mut used).unwrap();
        assert_eq!(login.record.nonce, "n");
        assert_eq!(login.provider.config.issuer.as_str(), ISSUER);
        assert_eq!(used, Some(s.cookies.names.login("s1")));
        let again = open(&s, &parts, &query("s1"), 1_100, &mut None);
        assert_eq!(kind(again), AuthErrorKind::LoginExpired, "replayed");
    }

    #[test]
    fn refuses_a_missing_state_or_login_cookie() {
        let s = shared();
        let parts = callback(&s, "/auth/callback", &record("s1", 1_000), "s1");
        let none = CallbackQuery::default();
        assert_eq!(
            kind(open(&s, &parts, &none, 1_100, &mut None)),
            AuthErrorKind::MissingState
        );
        let mut used = None;
        let other = open(&s, &parts, &query("s2"), 1_100, &mut used);
        let other = other.expect_err("refused");
        assert_eq!(other.kind(), AuthErrorKind::LoginExpired);
        assert_eq!(used, None, "no cookie of this login was found");
        assert!(
            !other.reason().contains("another address"),
            "another login's cookie is there: {}",
            other.reason()
        );
        let bare = http::Request::get("/auth/callback")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let none = open(&s, &bare, &query("s1"), 1_100, &mut None).expect_err("refused");
        assert!(
            none.reason()
                .contains("open https://app.example.com and sign in again"),
            "no login cookie at all: {}",
            none.reason()
        );
    }

    #[test]
    fn refuses_a_record_for_another_state_an_old_one_or_another_route() {
        let s = shared();
        // The cookie for s1 holds a record made for s2.
        let parts = callback(&s, "/auth/callback", &record("s2", 1_000), "s1");
        let swapped = open(&s, &parts, &query("s1"), 1_100, &mut None);
        assert_eq!(kind(swapped), AuthErrorKind::StateMismatch);

        let parts = callback(&s, "/auth/callback", &record("s3", 1_000), "s3");
        let late = open(&s, &parts, &query("s3"), 1_000 + LOGIN_TTL_SECS, &mut None);
        assert_eq!(kind(late), AuthErrorKind::LoginExpired);

        let parts = callback(&s, "/auth/callback/other", &record("s4", 1_000), "s4");
        let route = open(&s, &parts, &query("s4"), 1_100, &mut None);
        assert_eq!(kind(route), AuthErrorKind::IssuerMismatch);
    }

    #[test]
    fn refuses_a_login_for_a_provider_no_longer_configured() {
        let s = shared();
        let mut r = record("s1", 1_000);
        r.issuer = "https://gone.example.com".into();
        let parts = callback(&s, "/auth/callback", &r, "s1");
        let gone = open(&s, &parts, &query("s1"), 1_100, &mut None);
        assert_eq!(kind(gone), AuthErrorKind::StateMismatch);
    }
}
