//! The session cookie decoder (`decode_session`, `CookieCodec::open`, `LoginRecord::open`) and
//! the `Cookie` header parser.
//!
//! Properties: a value the fuzzer makes never opens (it cannot forge the AEAD tag); an edited
//! valid cookie opens only if unchanged; encode then decode gives back the same session, and
//! decodes exactly while `now` lies within its lifetime; authenticated but arbitrary plaintext
//! (what a holder of the key could make) never panics or inflates without bound.

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use serde_json::{Map, Value};

use super::support::{config, decode, view, ISSUER, NOW};
use crate::identity::{Identity, IdentityData};
use crate::policy::PgRole;
use crate::session::{self, CookieCodec, CookieNames, LoginRecord, Purpose, MAX_COOKIE_VALUE};

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

/// A session's contents, as the fuzzer makes them (the role only when it is a valid name).
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
    sid: Option<String>,
}

impl Fields {
    fn into_session(self) -> IdentityData {
        IdentityData {
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
            sid: self.sid,
            seen_at: self.authenticated_at,
            claims: OnceLock::new(),
            access: None,
            provider_token: None,
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

/// The session key of the https configuration's one provider.
const SESSION: Purpose<'static> = Purpose::Session {
    provider: "default",
    issuer: ISSUER,
};

fn purpose(p: u8) -> Purpose<'static> {
    match p % 3 {
        0 => SESSION,
        1 => Purpose::Login,
        _ => Purpose::Logout,
    }
}

/// The cookie codec and names of an https (`__Host-`) or http configuration.
#[derive(Debug)]
struct Jar {
    codec: CookieCodec,
    names: CookieNames,
}

fn jar(secure: bool) -> &'static Jar {
    static HTTPS: OnceLock<Jar> = OnceLock::new();
    static HTTP: OnceLock<Jar> = OnceLock::new();
    let cell = if secure { &HTTPS } else { &HTTP };
    cell.get_or_init(|| Jar {
        codec: CookieCodec::new(&config(secure)),
        names: CookieNames::new(secure),
    })
}

impl Jar {
    /// `decode_session`.
    fn decode(&self, value: &str, now: u64) -> Option<IdentityData> {
        session::decode_session(&self.codec, &self.names, value, now)
    }

    /// `LoginRecord::open`, as what it stored.
    fn open_login(&self, name: &str, value: &str) -> Option<Map<String, Value>> {
        LoginRecord::open(&self.codec, name, value).map(|r| view(&r))
    }
}

/// The strings a session holds, in bytes: below ~1 KiB it must always fit in a cookie.
fn size(s: &IdentityData) -> usize {
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
fn valid_at(s: &IdentityData, now: u64) -> bool {
    s.expires_at > now && s.authenticated_at <= now.saturating_add(300)
}

fn touch(data: IdentityData) {
    // Everything a handler can call on the identity.
    let identity = Identity::from_data(data);
    let _ = identity.claims().len();
    let _ = identity.app_data().len();
    let _ = format!("{identity:?}");
}

/// The `session_cookie` target: `data` decoded as a [`Case`].
pub(super) fn run(data: &[u8]) {
    let Some(case) = decode::<Case>(data) else {
        return;
    };
    match case {
        Case::Raw {
            value,
            secure,
            purpose: p,
        } => {
            let jar = jar(secure);
            assert!(jar.decode(&value, NOW).is_none(), "forged session");
            assert_eq!(
                jar.codec.open(purpose(p), &jar.names.session, &value),
                None,
                "a made-up value opened"
            );
            assert_eq!(
                jar.open_login(&jar.names.login(&value), &value),
                None,
                "a made-up login record opened"
            );
        }
        Case::Edited { fields, edits } => {
            let jar = jar(true);
            let mut fields = fields.into_session();
            fields.authenticated_at = NOW - 10;
            fields.expires_at = NOW + 3600;
            let Some(value) = session::encode_session(&jar.codec, &jar.names, &mut fields) else {
                return;
            };
            let stored = view(&fields);
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
            let decoded = jar.decode(&edited, NOW).map(|d| view(&d));
            if edited == value {
                assert_eq!(
                    decoded.as_ref(),
                    Some(&stored),
                    "an unchanged cookie changed"
                );
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
                let name = jar.names.login("state");
                let value = jar.codec.seal(p, &name, &plaintext);
                let opened = LoginRecord::open(&jar.codec, &name, &value);
                if !matches!(p, Purpose::Login) || value.len() > MAX_COOKIE_VALUE {
                    assert!(
                        opened.is_none(),
                        "a login record opened from a {p:?} seal of {} bytes",
                        value.len()
                    );
                }
                if let Some(record) = opened {
                    let again = record.seal(&jar.codec, &name);
                    assert_eq!(
                        jar.open_login(&name, &again),
                        Some(view(&record)),
                        "a login record changed when sealed again"
                    );
                }
                return;
            }
            let value = jar.codec.seal(p, &jar.names.session, &plaintext);
            let opened = jar.codec.open(p, &jar.names.session, &value);
            if value.len() <= MAX_COOKIE_VALUE {
                assert_eq!(
                    opened.as_deref(),
                    Some(&plaintext[..]),
                    "a sealed value changed"
                );
            } else {
                assert_eq!(opened, None, "an oversized value opened");
            }
            let decoded = jar.decode(&value, NOW);
            if !matches!(p, Purpose::Session { .. }) || value.len() > MAX_COOKIE_VALUE {
                assert!(decoded.is_none(), "opened with another purpose's key");
            }
            if let Some(fields) = decoded {
                assert!(valid_at(&fields, NOW), "decoded outside its lifetime");
                touch(fields);
            }
        }
        Case::RoundTrip { fields, at } => {
            let jar = jar(false);
            let mut stored = fields.into_session();
            let fields = view(&stored);
            let claims_json = stored.claims_json.clone();
            let small = size(&stored) < 900;
            let Some(value) = session::encode_session(&jar.codec, &jar.names, &mut stored) else {
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
            if stored.claims_json != claims_json {
                assert!(stored.claims_json.is_empty(), "claims changed, not dropped");
                assert!(!small, "claims dropped from a small session");
            }
            // Everything else as given.
            let mut expected = fields;
            expected.insert(
                "claims_json".into(),
                Value::String(stored.claims_json.clone()),
            );
            assert_eq!(view(&stored), expected, "the session changed when stored");
            let decoded = jar.decode(&value, at).map(|d| view(&d));
            if valid_at(&stored, at) {
                assert_eq!(decoded, Some(expected), "round trip at {at}");
                touch(stored);
            } else {
                assert_eq!(decoded, None, "decoded outside its lifetime at {at}");
            }
        }
        Case::Login(l) => {
            let jar = jar(true);
            let record = LoginRecord {
                state: l.state,
                nonce: l.nonce,
                verifier: l.verifier,
                issuer: l.issuer,
                provider: l.provider,
                return_to: l.return_to,
                created_at: l.created_at,
                max_age: None,
                acr: Vec::new(),
            };
            let name = jar.names.login(&record.state);
            let value = record.seal(&jar.codec, &name);
            let opened = jar.open_login(&name, &value);
            if value.len() <= MAX_COOKIE_VALUE {
                assert_eq!(opened, Some(view(&record)), "a login record changed");
            } else {
                assert_eq!(opened, None, "an oversized login record opened");
            }
            assert_eq!(
                jar.open_login(&jar.names.login("other"), &value),
                None,
                "a login record opened under another state's name"
            );
            assert!(
                jar.decode(&value, NOW).is_none(),
                "a login record opened as a session"
            );
        }
        Case::Header(values) => {
            let mut headers = http::HeaderMap::new();
            for v in values {
                if let Ok(v) = http::HeaderValue::from_bytes(&v) {
                    headers.append(http::header::COOKIE, v);
                }
            }
            for (name, value) in session::request_cookies(&headers) {
                assert!(
                    !name.contains([';', '=']),
                    "a cookie name with ; or =: {name:?}"
                );
                assert_eq!(name, name.trim(), "a cookie name with spaces around it");
                assert!(!value.contains(';'), "a cookie value with ;: {value:?}");
            }
        }
    }
}
