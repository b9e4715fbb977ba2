//! The session cookie decoder (`decode_session`, `CookieCodec::open`, `LoginRecord::open`) and
//! the `Cookie` header parser.
//!
//! Properties: a value the fuzzer makes never opens (it cannot forge the AEAD tag); an edited
//! valid cookie opens only if unchanged; encode then decode gives back the same session, and
//! decodes exactly while `now` lies within its lifetime; authenticated but arbitrary plaintext
//! (what a holder of the key could make) never panics or inflates without bound.

#![no_main]

use arbitrary::Arbitrary;
use fuzz_support::{COOKIE_KEY, NOW};
use libfuzzer_sys::fuzz_target;
use tower_oidc::fuzz::{
    request_cookies, CookieJar, CookiePurpose, LoginFields, SessionFields, MAX_COOKIE_VALUE,
};
use tower_oidc::PgRole;

#[derive(Debug, Arbitrary)]
enum Case {
    /// A value as a browser, or an attacker, sends it.
    Raw {
        value: String,
        secure: bool,
        purpose: u8,
    },
    /// A valid session cookie, edited.
    Edited { fields: Fields, edits: Vec<Edit> },
    /// Authenticated plaintext of the fuzzer's choice, for any purpose.
    Sealed {
        plaintext: Vec<u8>,
        purpose: u8,
        as_login: bool,
    },
    /// Encode, then decode at an arbitrary time.
    RoundTrip { fields: Fields, at: u64 },
    /// A login record round trip.
    Login(Login),
    /// The `Cookie` header parser.
    Header(Vec<Vec<u8>>),
}

#[derive(Debug, Arbitrary)]
struct Fields {
    subject: String,
    issuer: String,
    provider: String,
    email: Option<String>,
    email_verified: bool,
    name: Option<String>,
    preferred_username: Option<String>,
    groups: Vec<String>,
    role: Option<String>,
    admin: bool,
    claims_json: String,
    app_json: String,
    authenticated_at: u64,
    expires_at: u64,
    session_id: String,
}

impl Fields {
    fn into_session(self) -> SessionFields {
        SessionFields {
            subject: self.subject,
            issuer: self.issuer,
            provider: self.provider,
            email: self.email,
            email_verified: self.email_verified,
            name: self.name,
            preferred_username: self.preferred_username,
            groups: self.groups,
            role: self.role.and_then(|r| PgRole::new(&r).ok()),
            admin: self.admin,
            claims_json: self.claims_json,
            app_json: self.app_json,
            authenticated_at: self.authenticated_at,
            expires_at: self.expires_at,
            session_id: self.session_id,
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Login {
    state: String,
    nonce: String,
    verifier: String,
    issuer: String,
    provider: String,
    return_to: String,
    created_at: u64,
}

#[derive(Debug, Arbitrary)]
enum Edit {
    Flip { at: u16, bit: u8 },
    Replace { at: u16, byte: u8 },
    Insert { at: u16, byte: u8 },
    Remove { at: u16 },
    Truncate { at: u16 },
    Append(String),
}

fn purpose(p: u8) -> CookiePurpose {
    match p % 3 {
        0 => CookiePurpose::Session,
        1 => CookiePurpose::Login,
        _ => CookiePurpose::Logout,
    }
}

fn jar(secure: bool) -> &'static CookieJar {
    static HTTPS: std::sync::OnceLock<CookieJar> = std::sync::OnceLock::new();
    static HTTP: std::sync::OnceLock<CookieJar> = std::sync::OnceLock::new();
    let cell = if secure { &HTTPS } else { &HTTP };
    cell.get_or_init(|| CookieJar::new(COOKIE_KEY.as_bytes(), secure))
}

/// The strings a session holds, in bytes: below ~1 KiB it must always fit in a cookie.
fn size(s: &SessionFields) -> usize {
    let opt = |o: &Option<String>| o.as_ref().map_or(0, |s| s.len() + 1);
    s.subject.len()
        + s.issuer.len()
        + s.provider.len()
        + opt(&s.email)
        + opt(&s.name)
        + opt(&s.preferred_username)
        + s.groups.iter().map(|g| g.len() + 2).sum::<usize>()
        + s.role.as_ref().map_or(0, |r| r.as_str().len() + 1)
        + s.claims_json.len()
        + s.app_json.len()
        + s.session_id.len()
}

/// Whether the decoder must accept a session at `now` (`decode_session`'s contract).
fn valid_at(s: &SessionFields, now: u64) -> bool {
    s.expires_at > now && s.authenticated_at <= now.saturating_add(300)
}

fn touch(fields: SessionFields) {
    // Everything a handler can call on the identity.
    let identity = fields.into_identity();
    let _ = identity.claims().len();
    let _ = identity.app_data().len();
    let _ = format!("{identity:?}");
}

fuzz_target!(|case: Case| {
    match case {
        Case::Raw {
            value,
            secure,
            purpose: p,
        } => {
            let jar = jar(secure);
            assert_eq!(jar.decode_session(&value, NOW), None, "forged session");
            assert_eq!(jar.open(purpose(p), jar.session_name(), &value), None);
            assert_eq!(jar.open_login(&jar.login_name(&value), &value), None);
        }
        Case::Edited { fields, edits } => {
            let jar = jar(true);
            let mut fields = fields.into_session();
            fields.authenticated_at = NOW - 10;
            fields.expires_at = NOW + 3600;
            let Some((value, stored)) = jar.encode_session(fields) else {
                return;
            };
            let mut bytes = value.clone().into_bytes();
            for edit in edits {
                let len = bytes.len().max(1);
                match edit {
                    Edit::Flip { at, bit } => {
                        if let Some(b) = bytes.get_mut(at as usize % len) {
                            *b ^= 1 << (bit % 8);
                        }
                    }
                    Edit::Replace { at, byte } => {
                        if let Some(b) = bytes.get_mut(at as usize % len) {
                            *b = byte;
                        }
                    }
                    Edit::Insert { at, byte } => {
                        bytes.insert((at as usize % len).min(bytes.len()), byte)
                    }
                    Edit::Remove { at } => {
                        if !bytes.is_empty() {
                            bytes.remove(at as usize % len);
                        }
                    }
                    Edit::Truncate { at } => bytes.truncate(at as usize % len),
                    Edit::Append(s) => bytes.extend_from_slice(s.as_bytes()),
                }
            }
            let edited = String::from_utf8_lossy(&bytes);
            let decoded = jar.decode_session(&edited, NOW);
            if edited == value {
                assert_eq!(decoded.as_ref(), Some(&stored));
            } else {
                assert_eq!(decoded, None, "an edited cookie opened: {edited:?}");
            }
        }
        Case::Sealed {
            plaintext,
            purpose: p,
            as_login,
        } => {
            let jar = jar(true);
            let p = purpose(p);
            if as_login {
                let name = jar.login_name("state");
                let value = jar.seal(p, &name, &plaintext);
                let opened = jar.open_login(&name, &value);
                if p != CookiePurpose::Login || value.len() > MAX_COOKIE_VALUE {
                    assert_eq!(opened, None);
                }
                if let Some(record) = opened {
                    let again = jar.seal_login(&name, &record);
                    assert_eq!(jar.open_login(&name, &again), Some(record));
                }
                return;
            }
            let value = jar.seal(p, jar.session_name(), &plaintext);
            let opened = jar.open(p, jar.session_name(), &value);
            if value.len() <= MAX_COOKIE_VALUE {
                assert_eq!(opened.as_deref(), Some(&plaintext[..]));
            } else {
                assert_eq!(opened, None);
            }
            let decoded = jar.decode_session(&value, NOW);
            if p != CookiePurpose::Session || value.len() > MAX_COOKIE_VALUE {
                assert_eq!(decoded, None, "opened with another purpose's key");
            }
            if let Some(fields) = decoded {
                assert!(valid_at(&fields, NOW));
                touch(fields);
            }
        }
        Case::RoundTrip { fields, at } => {
            let jar = jar(false);
            let fields = fields.into_session();
            let small = size(&fields) < 900;
            let Some((value, stored)) = jar.encode_session(fields.clone()) else {
                assert!(!small, "a small session did not fit: {fields:?}");
                return;
            };
            assert!(value.len() <= MAX_COOKIE_VALUE, "{} bytes", value.len());
            assert!(
                value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "not base64url: {value:?}"
            );
            if stored.claims_json != fields.claims_json {
                assert!(stored.claims_json.is_empty(), "claims changed, not dropped");
                assert!(!small, "claims dropped from a small session");
            }
            let expected = SessionFields {
                claims_json: stored.claims_json.clone(),
                ..fields
            };
            assert_eq!(stored, expected);
            let decoded = jar.decode_session(&value, at);
            if valid_at(&stored, at) {
                assert_eq!(decoded.as_ref(), Some(&stored), "round trip at {at}");
                touch(stored);
            } else {
                assert_eq!(decoded, None, "decoded outside its lifetime at {at}");
            }
        }
        Case::Login(l) => {
            let jar = jar(true);
            let record = LoginFields {
                state: l.state,
                nonce: l.nonce,
                verifier: l.verifier,
                issuer: l.issuer,
                provider: l.provider,
                return_to: l.return_to,
                created_at: l.created_at,
            };
            let name = jar.login_name(&record.state);
            let value = jar.seal_login(&name, &record);
            let opened = jar.open_login(&name, &value);
            if value.len() <= MAX_COOKIE_VALUE {
                assert_eq!(opened, Some(record));
            } else {
                assert_eq!(opened, None);
            }
            assert_eq!(jar.open_login(&jar.login_name("other"), &value), None);
            assert_eq!(jar.decode_session(&value, NOW), None);
        }
        Case::Header(values) => {
            let mut headers = http::HeaderMap::new();
            for v in values {
                if let Ok(v) = http::HeaderValue::from_bytes(&v) {
                    headers.append(http::header::COOKIE, v);
                }
            }
            for (name, value) in request_cookies(&headers) {
                assert!(!name.contains([';', '=']), "{name:?}");
                assert_eq!(name, name.trim());
                assert!(!value.contains(';'), "{value:?}");
            }
        }
    }
});
