//! The AEAD codec every cookie value goes through.
//!
//! Every cookie value is `base64url(version || key hint || nonce || AES-256-GCM(plaintext))`
//! with the cookie name as associated data, so a value cannot be moved to another cookie.
//!
//! The keys: `OIDC_COOKIE_KEY` is stretched with Argon2id (`stretch.rs`), then each key is
//! derived from that with HKDF-SHA256, with an info that names its purpose (session, login
//! record, logout hint) and the `BASE_URL` origin, so that a cookie of another app sharing the
//! key (a staging copy, a sister app) never opens here. A session key also names its
//! provider's issuer and client id: each configured provider has its own, and a session
//! minted by an app with another `client_id` at the same issuer is refused, so that app's
//! role map and access rules can never be skipped. Replicas of one app share one `BASE_URL`
//! and one configuration, and so the keys. The key hint (a byte of a digest of the issuer and
//! client id, not secret) picks the session key to try, so that a forged value costs one
//! decryption however many providers there are.

use std::fmt;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::{digest, hkdf};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;

use super::stretch::master_secret;
use crate::config::OidcConfig;
use crate::random::fill_random;

/// The format's version: 2 since the keys are stretched and bound to the app (version 1
/// values, of earlier releases, are refused).
const VERSION: u8 = 2;
const TAG_LEN: usize = 16;
/// Version and key hint.
const HEADER_LEN: usize = 2;
/// A cookie value larger than this is refused: browsers keep at most 4096 bytes per cookie,
/// name and attributes included (RFC 6265 section 6.1).
pub(crate) const MAX_COOKIE_VALUE: usize = 3900;
/// The most bytes a cookie value of [`MAX_COOKIE_VALUE`] base64url characters decodes to.
pub(crate) const MAX_DECODED: usize = MAX_COOKIE_VALUE * 3 / 4 + 3;

/// What a cookie value is for: each purpose has its own key, each provider its own session key.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Purpose<'a> {
    /// A session of the provider with this slug and issuer (one this configuration does not
    /// have gets a key of its own, and is refused later, where the provider is looked up).
    Session { provider: &'a str, issuer: &'a str },
    /// A login record.
    Login,
    /// The logout hint.
    Logout,
}

/// One provider's session key.
struct SessionKey {
    provider: Box<str>,
    issuer: Box<str>,
    hint: u8,
    key: LessSafeKey,
}

/// The keys derived from one cookie key.
struct Keys {
    /// One per configured provider, then the key of sessions naming none of them.
    sessions: Vec<SessionKey>,
    login: LessSafeKey,
    logout: LessSafeKey,
}

/// Seals and opens cookie values: `OIDC_COOKIE_KEY`'s keys seal, they and those of each
/// `OIDC_COOKIE_KEYS_OLD` key open (tried in that order), so a key can change without
/// signing everyone out.
pub(crate) struct CookieCodec {
    /// The current key's, then each old key's, in the configured order (never empty).
    keys: Vec<Keys>,
}

impl fmt::Debug for CookieCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CookieCodec([redacted])")
    }
}

/// A provider the session keys are bound to: slug, issuer and client id.
type Binding<'a> = (&'a str, &'a str, &'a str);

impl CookieCodec {
    /// The codec of `config`: its key, its `BASE_URL` origin, its providers.
    pub(crate) fn new(config: &OidcConfig) -> Self {
        let origin = config.base_url.origin().ascii_serialization();
        let providers: Vec<Binding<'_>> = config
            .providers
            .iter()
            .map(|p| (p.slug.as_str(), p.issuer.as_str(), p.client_id.as_str()))
            .collect();
        let keys = std::iter::once(&config.cookie_key)
            .chain(&config.old_cookie_keys)
            .map(|key| Keys::derive(&master_secret(key, &origin), &origin, &providers))
            .collect();
        Self { keys }
    }

    /// The codec of one master secret (already stretched), for an app at `origin` with
    /// `providers`.
    #[cfg(test)]
    fn derive(master: &[u8], origin: &str, providers: &[Binding<'_>]) -> Self {
        Self {
            keys: vec![Keys::derive(master, origin, providers)],
        }
    }

    /// The keys that seal.
    fn current(&self) -> &Keys {
        &self.keys[0]
    }

    /// Encrypts `plaintext` for the cookie called `name`.
    pub(crate) fn seal(&self, purpose: Purpose<'_>, name: &str, plaintext: &[u8]) -> String {
        let (key, hint) = self.current().key(purpose);
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce);
        let mut buf = Vec::with_capacity(HEADER_LEN + NONCE_LEN + plaintext.len() + TAG_LEN);
        buf.extend_from_slice(&[VERSION, hint]);
        buf.extend_from_slice(&nonce);
        buf.extend_from_slice(plaintext);
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(name.as_bytes()),
                &mut buf[HEADER_LEN + NONCE_LEN..],
            )
            // Sealing fails only for inputs over AES-GCM's 64 GiB limit.
            .expect("a cookie is far below AES-GCM's size limit");
        buf.extend_from_slice(tag.as_ref());
        B64.encode(&buf)
    }

    /// Decrypts a cookie value; `None` for anything forged, truncated, oversized, or made for
    /// another cookie, purpose, provider or app.
    pub(crate) fn open(&self, purpose: Purpose<'_>, name: &str, value: &str) -> Option<Vec<u8>> {
        let mut buf = [0u8; MAX_DECODED];
        let plain = self
            .keys
            .iter()
            .find_map(|keys| open_with(keys.key(purpose).0, name, value, &mut buf))?;
        Some(buf[plain].to_vec())
    }

    /// Opens a session cookie value of any provider, decoding into `buf` (no allocation):
    /// the plaintext, and which session key opened it, for
    /// [`is_session_key_of`](Self::is_session_key_of).
    pub(crate) fn open_session_into<'b>(
        &self,
        name: &str,
        value: &str,
        buf: &'b mut [u8; MAX_DECODED],
    ) -> Option<(&'b [u8], usize)> {
        // The hint is the second byte: the first two base64url characters hold 12 bits.
        let mut head = [0u8; 3];
        B64.decode_slice(value.get(..4)?, &mut head).ok()?;
        let hint = head[1];
        // The current key first: with old keys, only a cookie they sealed (or a forged one)
        // costs more than one decryption.
        let (index, plain) = self.keys.iter().find_map(|keys| {
            keys.sessions
                .iter()
                .enumerate()
                .filter(|(_, k)| k.hint == hint)
                .find_map(|(i, k)| Some((i, open_with(&k.key, name, value, buf)?)))
        })?;
        Some((&buf[plain], index))
    }

    /// Whether the session key `index` is the one of sessions of this provider: a session
    /// whose payload names another provider than its key was not sealed by this app.
    pub(crate) fn is_session_key_of(&self, index: usize, provider: &str, issuer: &str) -> bool {
        // Every key set has the same providers in the same order.
        self.current().session_index(provider, issuer) == index
    }
}

impl Keys {
    /// The keys from a master secret (already stretched), for an app at `origin` with
    /// `providers`.
    fn derive(master: &[u8], origin: &str, providers: &[Binding<'_>]) -> Self {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"tower-oidc cookie keys v2").extract(master);
        let derive = |fields: &[&[u8]]| {
            let mut info = Vec::new();
            for field in fields {
                info.extend_from_slice(&(field.len() as u32).to_be_bytes());
                info.extend_from_slice(field);
            }
            let infos = [&info[..]];
            // HKDF-SHA256 can expand up to 8160 bytes; 32 are asked for.
            let okm = prk
                .expand(&infos, &AES_256_GCM)
                .expect("HKDF output length is valid");
            LessSafeKey::new(UnboundKey::from(okm))
        };
        let origin = origin.as_bytes();
        let mut sessions: Vec<SessionKey> = providers
            .iter()
            .map(|&(provider, issuer, client_id)| SessionKey {
                provider: provider.into(),
                issuer: issuer.into(),
                hint: hint(&[issuer.as_bytes(), client_id.as_bytes()]),
                key: derive(&[
                    b"session",
                    origin,
                    b"provider",
                    issuer.as_bytes(),
                    client_id.as_bytes(),
                ]),
            })
            .collect();
        sessions.push(SessionKey {
            provider: "".into(),
            issuer: "".into(),
            hint: hint(&[]),
            key: derive(&[b"session", origin, b"no provider"]),
        });
        Self {
            sessions,
            login: derive(&[b"login", origin]),
            logout: derive(&[b"logout", origin]),
        }
    }

    /// The index of the session key for sessions of this provider.
    fn session_index(&self, provider: &str, issuer: &str) -> usize {
        let configured = &self.sessions[..self.sessions.len() - 1];
        configured
            .iter()
            .position(|k| &*k.provider == provider && &*k.issuer == issuer)
            .unwrap_or(configured.len())
    }

    /// The key of a purpose, and its hint.
    fn key(&self, purpose: Purpose<'_>) -> (&LessSafeKey, u8) {
        match purpose {
            Purpose::Session { provider, issuer } => {
                let k = &self.sessions[self.session_index(provider, issuer)];
                (&k.key, k.hint)
            }
            Purpose::Login => (&self.login, 0),
            Purpose::Logout => (&self.logout, 0),
        }
    }
}

/// The key hint of a session key: a byte of a digest of what the key is bound to.
fn hint(fields: &[&[u8]]) -> u8 {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"tower-oidc session key hint");
    for field in fields {
        ctx.update(&(field.len() as u32).to_be_bytes());
        ctx.update(field);
    }
    ctx.finish().as_ref()[0]
}

/// Opens `value` with `key` into `buf`; the plaintext's range in `buf`.
fn open_with(
    key: &LessSafeKey,
    name: &str,
    value: &str,
    buf: &mut [u8; MAX_DECODED],
) -> Option<std::ops::Range<usize>> {
    // We never issue a larger value; anything longer is refused before any work.
    if value.len() > MAX_COOKIE_VALUE {
        return None;
    }
    let len = B64.decode_slice(value, buf).ok()?;
    if len < HEADER_LEN + NONCE_LEN + TAG_LEN || buf[0] != VERSION {
        return None;
    }
    let (head, sealed) = buf[..len].split_at_mut(HEADER_LEN + NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(&head[HEADER_LEN..]).ok()?;
    key.open_in_place(nonce, Aad::from(name.as_bytes()), sealed)
        .ok()?;
    Some(HEADER_LEN + NONCE_LEN..len - TAG_LEN)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const ISSUER: &str = "https://id.example.com";
    const ORIGIN: &str = "https://app.example.com";
    const SESSION: Purpose<'static> = Purpose::Session {
        provider: "default",
        issuer: ISSUER,
    };

    /// A codec for the unit tests: `master` as the stretched secret, one provider `default`
    /// at [`ISSUER`] with the client id `app`, at [`ORIGIN`].
    pub(crate) fn codec(master: u8) -> CookieCodec {
        CookieCodec::derive(&[master; 32], ORIGIN, &[("default", ISSUER, "app")])
    }

    fn open_session(codec: &CookieCodec, name: &str, value: &str) -> Option<(Vec<u8>, usize)> {
        let mut buf = [0u8; MAX_DECODED];
        codec
            .open_session_into(name, value, &mut buf)
            .map(|(plain, index)| (plain.to_vec(), index))
    }

    #[test]
    fn seal_and_open_round_trip_and_bind_the_name() {
        let codec = codec(7);
        let v = codec.seal(SESSION, "a", b"hello");
        assert_eq!(codec.open(SESSION, "a", &v).as_deref(), Some(&b"hello"[..]));
        assert!(
            codec.open(SESSION, "b", &v).is_none(),
            "moved to another cookie"
        );
        assert!(
            codec.open(Purpose::Login, "a", &v).is_none(),
            "used for another purpose"
        );
        assert!(self::codec(8).open(SESSION, "a", &v).is_none());
        let (plain, index) = open_session(&codec, "a", &v).unwrap();
        assert_eq!(plain, b"hello");
        assert!(codec.is_session_key_of(index, "default", ISSUER));
        assert!(!codec.is_session_key_of(index, "other", ISSUER));
    }

    #[test]
    fn a_cookie_of_another_origin_or_client_does_not_open() {
        let ours = codec(7);
        let staging = CookieCodec::derive(
            &[7; 32],
            "https://staging.example.com",
            &[("default", ISSUER, "app")],
        );
        let sister = CookieCodec::derive(&[7; 32], ORIGIN, &[("default", ISSUER, "sister-app")]);
        for other in [&staging, &sister] {
            let session = other.seal(SESSION, "s", b"admin");
            assert!(ours.open(SESSION, "s", &session).is_none());
            assert!(open_session(&ours, "s", &session).is_none());
        }
        let login = staging.seal(Purpose::Login, "l", b"record");
        assert!(ours.open(Purpose::Login, "l", &login).is_none());
        // A replica: the same key, origin and providers.
        let replica = codec(7);
        let session = replica.seal(SESSION, "s", b"user");
        assert_eq!(open_session(&ours, "s", &session).unwrap().0, b"user");
    }

    #[test]
    fn each_provider_has_its_own_session_key() {
        let codec = CookieCodec::derive(
            &[7; 32],
            ORIGIN,
            &[
                ("a", "https://a.example.com", "app"),
                ("b", "https://b.example.com", "app"),
            ],
        );
        let a = Purpose::Session {
            provider: "a",
            issuer: "https://a.example.com",
        };
        let b = Purpose::Session {
            provider: "b",
            issuer: "https://b.example.com",
        };
        let unknown = Purpose::Session {
            provider: "c",
            issuer: "https://c.example.com",
        };
        let v = codec.seal(a, "s", b"x");
        assert!(codec.open(a, "s", &v).is_some());
        assert!(codec.open(b, "s", &v).is_none());
        let (_, index) = open_session(&codec, "s", &v).unwrap();
        assert!(codec.is_session_key_of(index, "a", "https://a.example.com"));
        assert!(!codec.is_session_key_of(index, "b", "https://b.example.com"));
        let u = codec.seal(unknown, "s", b"y");
        let (_, index) = open_session(&codec, "s", &u).unwrap();
        assert!(codec.is_session_key_of(index, "c", "https://c.example.com"));
        assert!(!codec.is_session_key_of(index, "a", "https://a.example.com"));
    }

    #[test]
    fn rejects_tampered_truncated_and_garbage_values() {
        let codec = codec(7);
        let v = codec.seal(SESSION, "a", b"hello world");
        let mut bytes = B64.decode(&v).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(codec.open(SESSION, "a", &B64.encode(&bytes)).is_none());
        assert!(codec.open(SESSION, "a", &v[..v.len() - 4]).is_none());
        // Version 1 values (earlier releases) are refused.
        let mut old = B64.decode(&v).unwrap();
        old[0] = 1;
        assert!(open_session(&codec, "a", &B64.encode(&old)).is_none());
        for junk in ["", "%%%", "AAAA", "not base64 at all!", &"A".repeat(20_000)] {
            assert!(codec.open(SESSION, "a", junk).is_none(), "{junk}");
            assert!(open_session(&codec, "a", junk).is_none(), "{junk}");
        }
    }

    #[test]
    fn the_first_key_seals_and_every_key_opens() {
        let providers = [("default", ISSUER, "app")];
        let before = codec(7);
        let rotated = CookieCodec {
            keys: vec![
                Keys::derive(&[8; 32], ORIGIN, &providers),
                Keys::derive(&[7; 32], ORIGIN, &providers),
            ],
        };
        let session = before.seal(SESSION, "s", b"user");
        let (plain, index) = open_session(&rotated, "s", &session).unwrap();
        assert_eq!(plain, b"user");
        assert!(rotated.is_session_key_of(index, "default", ISSUER));
        assert!(rotated.open(SESSION, "s", &session).is_some());
        let login = before.seal(Purpose::Login, "l", b"record");
        assert!(rotated.open(Purpose::Login, "l", &login).is_some());
        // New cookies are sealed with the first key only.
        let fresh = rotated.seal(SESSION, "s", b"new");
        assert!(open_session(&before, "s", &fresh).is_none());
        assert_eq!(open_session(&codec(8), "s", &fresh).unwrap().0, b"new");
        // An old key keeps its binding to the origin and the provider.
        let staging = CookieCodec::derive(&[7; 32], "https://staging.example.com", &providers);
        assert!(open_session(&rotated, "s", &staging.seal(SESSION, "s", b"x")).is_none());
        let sister = CookieCodec::derive(&[7; 32], ORIGIN, &[("default", ISSUER, "sister")]);
        assert!(open_session(&rotated, "s", &sister.seal(SESSION, "s", b"x")).is_none());
    }
}
