//! The AEAD codec every cookie value goes through.
//!
//! Every cookie value is `base64url(version || nonce || AES-256-GCM(plaintext))` with the cookie
//! name as associated data, so a value cannot be moved to another cookie. Each purpose (session,
//! login record, logout hint) has its own key, derived with HKDF-SHA256 from `OIDC_COOKIE_KEY`.

use std::fmt;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hkdf;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;

use crate::random::fill_random;

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
/// A cookie value larger than this is refused: browsers keep at most 4096 bytes per cookie,
/// name and attributes included (RFC 6265 section 6.1).
pub(crate) const MAX_COOKIE_VALUE: usize = 3900;
/// The most bytes a cookie value of [`MAX_COOKIE_VALUE`] base64url characters decodes to.
pub(crate) const MAX_DECODED: usize = MAX_COOKIE_VALUE * 3 / 4 + 3;

/// What a cookie value is for: each purpose has its own key.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Purpose {
    Session,
    Login,
    Logout,
}

/// Seals and opens cookie values.
pub(crate) struct CookieCodec {
    session: LessSafeKey,
    login: LessSafeKey,
    logout: LessSafeKey,
}

impl fmt::Debug for CookieCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CookieCodec([redacted])")
    }
}

impl CookieCodec {
    pub(crate) fn new(master: &[u8]) -> Self {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"tower-oidc cookie keys v1").extract(master);
        let derive = |info: &'static [u8]| {
            let infos = [info];
            // HKDF-SHA256 can expand up to 8160 bytes; 32 are asked for.
            let okm = prk
                .expand(&infos, &AES_256_GCM)
                .expect("HKDF output length is valid");
            LessSafeKey::new(UnboundKey::from(okm))
        };
        Self {
            session: derive(b"session"),
            login: derive(b"login"),
            logout: derive(b"logout"),
        }
    }

    fn key(&self, purpose: Purpose) -> &LessSafeKey {
        match purpose {
            Purpose::Session => &self.session,
            Purpose::Login => &self.login,
            Purpose::Logout => &self.logout,
        }
    }

    /// Encrypts `plaintext` for the cookie called `name`.
    pub(crate) fn seal(&self, purpose: Purpose, name: &str, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce);
        let mut buf = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + TAG_LEN);
        buf.push(VERSION);
        buf.extend_from_slice(&nonce);
        buf.extend_from_slice(plaintext);
        let tag = self
            .key(purpose)
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(name.as_bytes()),
                &mut buf[1 + NONCE_LEN..],
            )
            // Sealing fails only for inputs over AES-GCM's 64 GiB limit.
            .expect("a cookie is far below AES-GCM's size limit");
        buf.extend_from_slice(tag.as_ref());
        B64.encode(&buf)
    }

    /// Decrypts a cookie value; `None` for anything forged, truncated, oversized, or made for
    /// another cookie or purpose.
    pub(crate) fn open(&self, purpose: Purpose, name: &str, value: &str) -> Option<Vec<u8>> {
        let mut buf = [0u8; MAX_DECODED];
        self.open_into(purpose, name, value, &mut buf)
            .map(<[u8]>::to_vec)
    }

    /// Like [`open`](Self::open), decoding into `buf` (no allocation); returns the plaintext.
    pub(crate) fn open_into<'b>(
        &self,
        purpose: Purpose,
        name: &str,
        value: &str,
        buf: &'b mut [u8; MAX_DECODED],
    ) -> Option<&'b [u8]> {
        // We never issue a larger value; anything longer is refused before any work.
        if value.len() > MAX_COOKIE_VALUE {
            return None;
        }
        let len = B64.decode_slice(value, buf).ok()?;
        if len < 1 + NONCE_LEN + TAG_LEN || buf[0] != VERSION {
            return None;
        }
        let (head, sealed) = buf[..len].split_at_mut(1 + NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&head[1..]).ok()?;
        let plain = self
            .key(purpose)
            .open_in_place(nonce, Aad::from(name.as_bytes()), sealed)
            .ok()?;
        Some(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip_and_bind_the_name() {
        let codec = CookieCodec::new(&[7u8; 32]);
        let v = codec.seal(Purpose::Session, "a", b"hello");
        assert_eq!(
            codec.open(Purpose::Session, "a", &v).as_deref(),
            Some(&b"hello"[..])
        );
        assert!(
            codec.open(Purpose::Session, "b", &v).is_none(),
            "moved to another cookie"
        );
        assert!(
            codec.open(Purpose::Login, "a", &v).is_none(),
            "used for another purpose"
        );
        assert!(CookieCodec::new(&[8u8; 32])
            .open(Purpose::Session, "a", &v)
            .is_none());
    }

    #[test]
    fn rejects_tampered_truncated_and_garbage_values() {
        let codec = CookieCodec::new(&[7u8; 32]);
        let v = codec.seal(Purpose::Session, "a", b"hello world");
        let mut bytes = B64.decode(&v).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(codec
            .open(Purpose::Session, "a", &B64.encode(&bytes))
            .is_none());
        assert!(codec
            .open(Purpose::Session, "a", &v[..v.len() - 4])
            .is_none());
        for junk in ["", "%%%", "AAAA", "not base64 at all!", &"A".repeat(20_000)] {
            assert!(codec.open(Purpose::Session, "a", junk).is_none(), "{junk}");
        }
    }
}
