//! A request's `application/x-www-form-urlencoded` body, read up to a bound: the back-channel
//! logout's logout token and a `response_mode=form_post` callback's authorization response.

use bytes::Buf;
use http::header;
use http::request::Parts;
use http_body::Body;
use http_body_util::BodyExt;

/// Why a form body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FormBodyError {
    /// The `Content-Type` is not `application/x-www-form-urlencoded`.
    NotForm,
    /// Longer than the bound (declared or sent).
    TooLarge,
    /// The body broke off.
    Unreadable,
}

/// The body, when it is a form of at most `max` bytes (checked against `Content-Length` first,
/// then as it arrives, so nothing larger is ever buffered).
pub(crate) async fn read<B>(parts: &Parts, body: B, max: usize) -> Result<Vec<u8>, FormBodyError>
where
    B: Body + Send,
    B::Data: Send,
{
    let form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return Err(FormBodyError::NotForm);
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(FormBodyError::TooLarge);
    }
    let mut body = std::pin::pin!(body);
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(FormBodyError::Unreadable);
        };
        if let Ok(mut data) = frame.into_data() {
            if bytes.len() + data.remaining() > max {
                return Err(FormBodyError::TooLarge);
            }
            while data.has_remaining() {
                let chunk = data.chunk();
                bytes.extend_from_slice(chunk);
                let n = chunk.len();
                data.advance(n);
            }
        }
    }
    Ok(bytes)
}
