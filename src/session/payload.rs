//! The session cookie's payload: an identity, postcard-encoded, deflated when large, sealed.

use crate::identity::IdentityData;

use super::codec::{CookieCodec, Purpose, MAX_COOKIE_VALUE, MAX_DECODED};
use super::cookie::CookieNames;

/// Plaintext is stored as is below this size, deflated above it.
const COMPRESS_ABOVE: usize = 1024;
/// The largest inflated session accepted (bounds the work a forged-but-valid cookie can cause).
const MAX_INFLATED: usize = 64 * 1024;

/// Encodes a session; `None` if it cannot fit in a cookie even without its extra claims.
pub(crate) fn encode_session(
    codec: &CookieCodec,
    names: &CookieNames,
    data: &mut IdentityData,
) -> Option<String> {
    let attempt = |data: &IdentityData| {
        let json = postcard::to_allocvec(data).ok()?;
        if json.len() > MAX_INFLATED {
            // The decoder would refuse it.
            return None;
        }
        let mut plain = Vec::with_capacity(json.len() + 1);
        if json.len() > COMPRESS_ABOVE {
            let deflated = miniz_oxide::deflate::compress_to_vec(&json, 6);
            if deflated.len() < json.len() {
                plain.push(1);
                plain.extend_from_slice(&deflated);
            }
        }
        if plain.is_empty() {
            plain.push(0);
            plain.extend_from_slice(&json);
        }
        let purpose = Purpose::Session {
            provider: &data.provider,
            issuer: &data.issuer,
        };
        let value = codec.seal(purpose, &names.session, &plain);
        (value.len() <= MAX_COOKIE_VALUE).then_some(value)
    };
    if let Some(v) = attempt(data) {
        return Some(v);
    }
    if !data.claims_json.is_empty() {
        tracing::warn!(
            target: "tower_oidc",
            bytes = data.claims_json.len(),
            "session too large for a cookie: dropping the extra claims from the session"
        );
        data.claims_json.clear();
        return attempt(data);
    }
    None
}

/// What a session cookie value holds at some time.
#[derive(Debug)]
pub(crate) enum Opened {
    /// A valid session.
    Valid(IdentityData),
    /// A session that passed every check but its expiry: it was ours, and it is over.
    Expired(IdentityData),
    /// Forged, malformed, sealed with another provider's key than the one it names, or
    /// authenticated in the future.
    Invalid,
}

/// Decodes a session cookie value; `None` when forged, malformed, expired at `now`, or sealed
/// with another provider's key than the one it names.
pub(crate) fn decode_session(
    codec: &CookieCodec,
    names: &CookieNames,
    value: &str,
    now: u64,
) -> Option<IdentityData> {
    match open_session(codec, names, value, now) {
        Opened::Valid(data) => Some(data),
        Opened::Expired(_) | Opened::Invalid => None,
    }
}

/// Like [`decode_session`], telling an expired session from an invalid one: every check is
/// made either way, expiry last, so only a genuine session can be [`Opened::Expired`].
pub(crate) fn open_session(
    codec: &CookieCodec,
    names: &CookieNames,
    value: &str,
    now: u64,
) -> Opened {
    let mut buf = [0u8; MAX_DECODED];
    let Some((plain, key)) = codec.open_session_into(&names.session, value, &mut buf) else {
        return Opened::Invalid;
    };
    let Some((&flag, body)) = plain.split_first() else {
        return Opened::Invalid;
    };
    let data: Option<IdentityData> = match flag {
        0 => postcard::from_bytes(body).ok(),
        1 => miniz_oxide::inflate::decompress_to_vec_with_limit(body, MAX_INFLATED)
            .ok()
            .and_then(|json| postcard::from_bytes(&json).ok()),
        _ => None,
    };
    match data {
        Some(data)
            if codec.is_session_key_of(key, &data.provider, &data.issuer)
                && data.authenticated_at <= now.saturating_add(300) =>
        {
            if data.expires_at > now {
                Opened::Valid(data)
            } else {
                Opened::Expired(data)
            }
        }
        _ => Opened::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentityData;

    fn data(groups: usize) -> IdentityData {
        IdentityData::sample(groups)
    }

    #[test]
    fn session_with_hundreds_of_groups_stays_under_4_kb() {
        let codec = crate::session::codec::tests::codec(1);
        let names = CookieNames::new(true);
        let mut d = data(300);
        let value = encode_session(&codec, &names, &mut d).expect("fits");
        let header = names.set(&names.session, &value, 3600);
        assert!(header.len() < 4096, "Set-Cookie is {} bytes", header.len());
        let back = decode_session(&codec, &names, &value, 1_500).unwrap();
        assert_eq!(back.groups.len(), 300);
        assert_eq!(back.groups[299], "department-10-team-299");
        assert_eq!(back.role.as_ref().map(|r| r.as_str()), Some("app_reader"));
        assert!(back.admin, "the role and admin flag travel in the session");
    }

    #[test]
    fn expired_session_is_refused() {
        let codec = crate::session::codec::tests::codec(1);
        let names = CookieNames::new(false);
        let value = encode_session(&codec, &names, &mut data(2)).unwrap();
        assert!(decode_session(&codec, &names, &value, 1_999).is_some());
        assert!(decode_session(&codec, &names, &value, 2_000).is_none());
        assert!(matches!(
            open_session(&codec, &names, &value, 2_000),
            Opened::Expired(d) if d.expires_at == 2_000
        ));
        assert!(matches!(
            open_session(&codec, &names, &value, 1_999),
            Opened::Valid(_)
        ));
        let mut forged = value.clone().into_bytes();
        forged[10] ^= 1;
        let forged = String::from_utf8(forged).unwrap();
        assert!(matches!(
            open_session(&codec, &names, &forged, 2_000),
            Opened::Invalid
        ));
        let other = crate::session::codec::tests::codec(2);
        assert!(matches!(
            open_session(&other, &names, &value, 2_000),
            Opened::Invalid
        ));
    }
}
