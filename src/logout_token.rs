//! Logout token validation (OpenID Connect Back-Channel Logout 1.0 section 2.6), with our own
//! clock: what every signed token of the provider carries ([`crate::jwt`]: header, key,
//! signature, `iss`, `aud`, `azp`, `exp` when present, `nbf`, `iat`), then what makes it a
//! logout token: its type, the back-channel logout event, no `nonce`, a `jti`, and `sid` or
//! `sub`.

use jsonwebtoken::Header;
use serde_json::{Map, Value};

use crate::jwt::{self, Audience, Expiry, JwtError};

/// The `events` member that makes a JWT a logout token (section 2.4).
pub(crate) const BACKCHANNEL_LOGOUT_EVENT: &str =
    "http://schemas.openid.net/event/backchannel-logout";

/// How long after its issue time a logout token is accepted (before the leeway), and so how
/// long its `jti` is remembered: providers send it when the session ends, and a token that
/// cannot be older than this cannot be replayed once its `jti` is forgotten.
pub(crate) const MAX_AGE: u64 = 300;

/// The longest `sid`, `sub` or `jti` accepted.
const MAX_ID: usize = 255;

/// Why a logout token was refused. Display never includes claim values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LogoutTokenError {
    /// A check every signed token of the provider passes.
    #[error("the logout token {0}")]
    Jwt(#[from] JwtError),
    #[error("the logout token's type (typ) is neither logout+jwt nor JWT: it is another kind of token (Back-Channel Logout 1.0 section 2.4)")]
    WrongType,
    #[error("the logout token has no back-channel logout event (an `events` object with the member {BACKCHANNEL_LOGOUT_EVENT}, itself an object)")]
    MissingEvent,
    #[error("the logout token carries a nonce, which logout tokens must not (Back-Channel Logout 1.0 section 2.4): it may be an ID token")]
    Nonce,
    #[error("the logout token names neither a session (sid) nor a user (sub), each a string of at most 255 bytes")]
    NoSession,
    #[error("the logout token has no token id (jti), a string of at most 255 bytes")]
    MissingJti,
    /// Seconds since the token was issued, by our clock.
    #[error("the logout token was issued {0} s ago by this server's clock, more than the 300 s it is accepted for: check NTP on both machines")]
    TooOld(u64),
    #[error("the logout token was received before (its jti)")]
    Replayed,
    #[error("the logout token cannot be told from one received before: the memory of logout tokens is full")]
    ReplayUnknown,
}

/// What a valid logout token ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogoutToken {
    /// The provider's session (`sid`), when it names one.
    pub(crate) sid: Option<String>,
    /// The user (`sub`), when it names one.
    pub(crate) sub: Option<String>,
    /// The token's id, remembered until [`remember_until`](Self::remember_until).
    pub(crate) jti: String,
    /// When the provider issued it (`iat`, Unix seconds): a logout by `sub` ends the sessions
    /// signed in until then (with the leeway).
    pub(crate) issued_at: u64,
    /// When the token stops being accepted (its `iat` plus [`MAX_AGE`] and the leeway), so how
    /// long its `jti` must be remembered.
    pub(crate) remember_until: u64,
}

/// Checks the header's `typ`: absent, `logout+jwt` (the explicit type the specification
/// recommends, with or without `application/`, any case: RFC 8725 section 3.11) or the generic
/// `JWT` that some providers write on every token. Any other type names another kind of token
/// (`at+jwt`, `secevent+jwt`, ...) and is refused.
pub(crate) fn check_type(header: &Header) -> Result<(), LogoutTokenError> {
    let Some(typ) = header.typ.as_deref() else {
        return Ok(());
    };
    let typ = typ.to_ascii_lowercase();
    let typ = typ.strip_prefix("application/").unwrap_or(&typ);
    match typ {
        "logout+jwt" | "jwt" => Ok(()),
        _ => Err(LogoutTokenError::WrongType),
    }
}

/// Checks the claims of a token whose signature is valid, and returns what it ends. The `jti`
/// is not looked up here: the caller remembers it.
pub(crate) fn check_claims(
    claims: &Map<String, Value>,
    want: &Audience<'_>,
) -> Result<LogoutToken, LogoutTokenError> {
    jwt::check_common(claims, want, Expiry::WhenPresent)?;
    let iat = claims
        .get("iat")
        .and_then(Value::as_f64)
        .ok_or(JwtError::MissingIssuedAt)?;
    let age = jwt::skew(want.now as f64, iat);
    if age > MAX_AGE + want.leeway {
        return Err(LogoutTokenError::TooOld(age));
    }
    let event = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|events| events.get(BACKCHANNEL_LOGOUT_EVENT));
    if !event.is_some_and(Value::is_object) {
        return Err(LogoutTokenError::MissingEvent);
    }
    if claims.contains_key("nonce") {
        return Err(LogoutTokenError::Nonce);
    }
    let id = |name: &str| -> Result<Option<String>, ()> {
        match claims.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_ID => Ok(Some(s.clone())),
            Some(_) => Err(()),
        }
    };
    let jti = id("jti")
        .ok()
        .flatten()
        .ok_or(LogoutTokenError::MissingJti)?;
    let (Ok(sid), Ok(sub)) = (id("sid"), id("sub")) else {
        return Err(LogoutTokenError::NoSession);
    };
    if sid.is_none() && sub.is_none() {
        return Err(LogoutTokenError::NoSession);
    }
    // `iat` is at most `now + leeway` here, and at least `now - MAX_AGE - leeway`.
    let issued_at = iat.max(0.0) as u64;
    let remember_until = issued_at
        .saturating_add(MAX_AGE + want.leeway)
        .max(want.now);
    Ok(LogoutToken {
        sid,
        sub,
        jti,
        issued_at,
        remember_until,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::test_support::{self, audience as want, claims, CLIENT_ID, ISSUER};
    use serde_json::json;

    fn good() -> Map<String, Value> {
        claims(
            json!({"iss": ISSUER, "aud": CLIENT_ID, "iat": 999_990, "jti": "j1",
                      "sid": "s1", "events": {BACKCHANNEL_LOGOUT_EVENT: {}}}),
        )
    }

    fn with(key: &str, value: Value) -> Map<String, Value> {
        test_support::with(good(), key, value)
    }

    fn without(keys: &[&str]) -> Map<String, Value> {
        test_support::without(good(), keys)
    }

    #[test]
    fn accepts_a_good_token_by_sid_or_sub() {
        let w = want();
        let t = check_claims(&good(), &w).unwrap();
        assert_eq!(
            (t.sid.as_deref(), t.sub.as_deref(), t.jti.as_str()),
            (Some("s1"), None, "j1")
        );
        assert_eq!(t.remember_until, 999_990 + 300 + 60);
        assert_eq!(t.issued_at, 999_990);
        let by_sub = test_support::without(with("sub", json!("u1")), &["sid"]);
        assert_eq!(
            check_claims(&by_sub, &w).unwrap().sub.as_deref(),
            Some("u1")
        );
        assert!(check_claims(&with("exp", json!(1_000_100)), &w).is_ok());
    }

    #[test]
    fn rejects_each_bad_claim() {
        let w = want();
        let refused = |c: Map<String, Value>| check_claims(&c, &w).unwrap_err();
        assert_eq!(
            refused(with("iss", json!("https://other.example.com"))),
            LogoutTokenError::Jwt(JwtError::WrongIssuer)
        );
        assert_eq!(
            refused(with("aud", json!("other"))),
            LogoutTokenError::Jwt(JwtError::WrongAudience)
        );
        assert_eq!(
            refused(with("exp", json!(999_000))),
            LogoutTokenError::Jwt(JwtError::Expired(1_000))
        );
        assert_eq!(
            refused(with("iat", json!(1_000_100))),
            LogoutTokenError::Jwt(JwtError::IssuedInFuture(100))
        );
        assert_eq!(
            refused(with("iat", json!(999_000))),
            LogoutTokenError::TooOld(1_000)
        );
        assert_eq!(
            refused(without(&["events"])),
            LogoutTokenError::MissingEvent
        );
        for events in [
            json!({"http://schemas.openid.net/event/other": {}}),
            json!({BACKCHANNEL_LOGOUT_EVENT: true}),
            json!([BACKCHANNEL_LOGOUT_EVENT]),
            json!(BACKCHANNEL_LOGOUT_EVENT),
        ] {
            assert_eq!(
                refused(with("events", events.clone())),
                LogoutTokenError::MissingEvent,
                "{events}"
            );
        }
        assert_eq!(refused(with("nonce", json!("n"))), LogoutTokenError::Nonce);
        assert_eq!(refused(without(&["jti"])), LogoutTokenError::MissingJti);
        assert_eq!(refused(with("jti", json!(7))), LogoutTokenError::MissingJti);
        assert_eq!(refused(without(&["sid"])), LogoutTokenError::NoSession);
        assert_eq!(refused(with("sid", json!(""))), LogoutTokenError::NoSession);
        assert_eq!(
            refused(with("sub", json!({"id": 1}))),
            LogoutTokenError::NoSession
        );
        assert_eq!(
            refused(with("sid", json!("x".repeat(256)))),
            LogoutTokenError::NoSession
        );
    }

    #[test]
    fn the_type_is_absent_logout_jwt_or_generic() {
        let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
        for ok in [
            None,
            Some("logout+jwt"),
            Some("application/logout+JWT"),
            Some("JWT"),
        ] {
            header.typ = ok.map(str::to_owned);
            assert_eq!(check_type(&header), Ok(()), "{ok:?}");
        }
        for bad in ["at+jwt", "secevent+jwt", "application/jwt+logout", ""] {
            header.typ = Some(bad.to_owned());
            assert_eq!(
                check_type(&header),
                Err(LogoutTokenError::WrongType),
                "{bad}"
            );
        }
    }
}
