//! Randomness and digests from the crypto backend: the state, nonce, PKCE verifier, session ids
//! and AEAD nonces all come from here.

use aws_lc_rs::digest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;

/// Fills `buf` from the operating system's CSPRNG.
pub(crate) fn fill_random(buf: &mut [u8]) {
    // A CSPRNG failure leaves no safe way to make a state, nonce or key: stop rather than
    // continue with predictable values.
    aws_lc_rs::rand::fill(buf).expect("the operating system's random number generator failed");
}

/// `n` random bytes, base64url-encoded.
pub(crate) fn random_token(n: usize) -> String {
    let mut buf = [0u8; 48];
    let buf = &mut buf[..n.min(48)];
    fill_random(buf);
    B64.encode(buf)
}

/// Three random tokens of 32, 32 and 48 bytes from a single call to the CSPRNG (each call has a
/// fixed cost), base64url-encoded: a login's state, nonce and PKCE verifier.
pub(crate) fn login_secrets() -> [String; 3] {
    let mut buf = [0u8; 112];
    fill_random(&mut buf);
    [
        B64.encode(&buf[..32]),
        B64.encode(&buf[32..64]),
        B64.encode(&buf[64..]),
    ]
}

/// SHA-256 of `data`, base64url-encoded (PKCE S256, RFC 7636 section 4.2).
pub(crate) fn sha256_b64(data: &[u8]) -> String {
    B64.encode(sha256(data))
}

/// SHA-256 of `data`: a fixed-size stand-in for a value that only needs comparing (a key's
/// thumbprint, a key id remembered for rate limiting).
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
    out
}
