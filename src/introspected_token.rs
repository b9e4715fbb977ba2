//! Token introspection answers (RFC 7662 section 2.2): what the provider must say about an
//! opaque access token before its claims go through the login's policy.

use serde_json::{Map, Value};

use crate::config::ApiConfig;

/// Why an introspected token was refused. Display never includes a claim value; it is sent as
/// the `error_description` of the `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum IntrospectionError {
    #[error("the access token is not active (unknown to the provider, revoked or expired)")]
    Inactive,
    #[error("the provider says this token is not a bearer access token")]
    NotAccessToken,
    #[error("the access token is bound to a key or certificate (cnf), so it is no bearer token")]
    SenderConstrained,
    #[error("the access token was issued by another issuer")]
    WrongIssuer,
    #[error("the access token is not meant for this API (audience)")]
    WrongAudience,
    #[error("the access token expired")]
    Expired,
    #[error("the access token is not valid yet (nbf)")]
    NotYetValid,
    #[error("the access token names neither a subject (sub) nor a client (client_id)")]
    MissingSubject,
}

/// An active token's claims, ready for the policy: `iss` and `sub` always set.
#[derive(Debug)]
pub(crate) struct Introspected {
    pub(crate) claims: Map<String, Value>,
    /// The token's `exp`, when the provider gave one.
    pub(crate) exp: Option<u64>,
    /// Whether the token speaks for a user (its `sub` is not the client itself).
    pub(crate) has_user: bool,
}

/// Checks an introspection answer: `active` exactly `true`; a `token_type`, when given,
/// `Bearer` (a refresh token answers otherwise or, at some providers, without one: see the
/// README); a `token_use`, when given, `access_token`; no `cnf` (a sender-constrained token
/// cannot be accepted as a bearer token, RFC 8705, RFC 9449); `iss`, when given, exactly the
/// provider's; `aud`, when given, containing the API's audience; `exp` and `nbf` with `leeway`;
/// a `sub`, or for a client acting for itself its `client_id`.
pub(crate) fn check(
    mut answer: Map<String, Value>,
    issuer: &str,
    api: &ApiConfig,
    now: u64,
    leeway: u64,
) -> Result<Introspected, IntrospectionError> {
    use IntrospectionError as E;
    if answer.remove("active") != Some(Value::Bool(true)) {
        return Err(E::Inactive);
    }
    let string = |answer: &Map<String, Value>, name: &str| -> Result<Option<String>, ()> {
        match answer.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(()),
        }
    };
    match string(&answer, "token_type") {
        Ok(None) => {}
        Ok(Some(t)) if t.eq_ignore_ascii_case("bearer") => {}
        _ => return Err(E::NotAccessToken),
    }
    match string(&answer, "token_use") {
        Ok(None) => {}
        Ok(Some(t)) if t == "access_token" => {}
        _ => return Err(E::NotAccessToken),
    }
    if answer.get("cnf").is_some_and(|c| !c.is_null()) {
        return Err(E::SenderConstrained);
    }
    match string(&answer, "iss") {
        Ok(None) => {
            answer.insert("iss".into(), Value::String(issuer.to_owned()));
        }
        Ok(Some(iss)) if iss == issuer => {}
        _ => return Err(E::WrongIssuer),
    }
    let audience = api.audience.as_str();
    match answer.get("aud") {
        None | Some(Value::Null) => {}
        Some(Value::String(a)) if a == audience => {}
        Some(Value::Array(list)) if list.iter().any(|a| a.as_str() == Some(audience)) => {}
        Some(_) => return Err(E::WrongAudience),
    }
    let time = |name: &str| -> Result<Option<u64>, IntrospectionError> {
        match answer.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|t| t.is_finite() && *t >= 0.0)
                .map(|t| Some(t as u64))
                .ok_or(E::NotAccessToken),
        }
    };
    let exp = time("exp")?;
    if exp.is_some_and(|exp| exp.saturating_add(leeway) <= now) {
        return Err(E::Expired);
    }
    if time("nbf")?.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
        return Err(E::NotYetValid);
    }
    let valid = |s: &String| !s.is_empty() && s.len() <= 255;
    let client_id = string(&answer, "client_id").ok().flatten().filter(valid);
    let sub = string(&answer, "sub").map_err(|()| E::MissingSubject)?;
    let has_user = match (sub.filter(valid), client_id) {
        (Some(sub), client) => client.as_deref() != Some(sub.as_str()),
        (None, Some(client)) => {
            // A client credentials token: the client is the subject (as in a JWT access
            // token, RFC 9068 section 2.2).
            answer.insert("sub".into(), Value::String(client));
            false
        }
        (None, None) => return Err(E::MissingSubject),
    };
    Ok(Introspected {
        claims: answer,
        exp,
        has_user,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISS: &str = "https://id.example.com";
    const NOW: u64 = 1_000_000;

    fn api() -> ApiConfig {
        ApiConfig {
            audience: "https://api.example.com".into(),
            require_at_jwt: true,
            introspection_cache: std::time::Duration::from_secs(60),
        }
    }

    fn answer(extra: Value) -> Map<String, Value> {
        let mut a = json!({"active": true, "sub": "u1", "client_id": "spa",
                           "exp": NOW + 300, "scope": "openid"})
        .as_object()
        .unwrap()
        .clone();
        a.extend(extra.as_object().unwrap().clone());
        a
    }

    fn check_(a: Map<String, Value>) -> Result<Introspected, IntrospectionError> {
        check(a, ISS, &api(), NOW, 60)
    }

    #[test]
    fn an_active_token_passes_with_the_issuer_filled_in() {
        let ok = check_(answer(json!({}))).unwrap();
        assert_eq!(ok.claims["iss"], ISS);
        assert!(!ok.claims.contains_key("active"));
        assert_eq!(ok.exp, Some(NOW + 300));
        assert!(ok.has_user);
        for extra in [
            json!({"aud": "https://api.example.com", "iss": ISS, "token_type": "bearer"}),
            json!({"aud": ["x", "https://api.example.com"], "token_use": "access_token"}),
            json!({"exp": null, "cnf": null}),
        ] {
            assert!(check_(answer(extra.clone())).is_ok(), "{extra}");
        }
    }

    #[test]
    fn a_client_credentials_token_has_the_client_as_its_subject() {
        let mut a = answer(json!({}));
        a.remove("sub");
        let ok = check_(a).unwrap();
        assert_eq!(ok.claims["sub"], "spa");
        assert!(!ok.has_user);
        let ok = check_(answer(json!({"sub": "spa"}))).unwrap();
        assert!(!ok.has_user);
    }

    #[test]
    fn refuses_each_bad_answer() {
        use IntrospectionError as E;
        for (extra, want) in [
            (json!({"active": false}), E::Inactive),
            (json!({"active": "true"}), E::Inactive),
            (json!({"token_type": "refresh_token"}), E::NotAccessToken),
            (json!({"token_type": "DPoP"}), E::NotAccessToken),
            (json!({"token_use": "refresh_token"}), E::NotAccessToken),
            (json!({"cnf": {"jkt": "x"}}), E::SenderConstrained),
            (json!({"iss": "https://evil.example.com"}), E::WrongIssuer),
            (
                json!({"aud": "https://other.example.com"}),
                E::WrongAudience,
            ),
            (json!({"aud": []}), E::WrongAudience),
            (json!({"exp": NOW - 61}), E::Expired),
            (json!({"exp": "soon"}), E::NotAccessToken),
            (json!({"nbf": NOW + 600}), E::NotYetValid),
            (json!({"sub": 7}), E::MissingSubject),
            (json!({"sub": "", "client_id": ""}), E::MissingSubject),
        ] {
            assert_eq!(check_(answer(extra.clone())).unwrap_err(), want, "{extra}");
        }
        let mut a = answer(json!({}));
        a.remove("active");
        assert_eq!(check_(a).unwrap_err(), E::Inactive);
    }
}
