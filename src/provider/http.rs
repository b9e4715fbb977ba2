//! The HTTP client to the provider: follows no redirects, has connect and total timeouts, and
//! reads at most 1 MiB of any response, whether it goes direct or through the configured
//! https proxy, and whichever roots (the system's, and the configured extra ones) it trusts.
//!
//! A redirect from discovery or the token endpoint could otherwise point us anywhere (SSRF);
//! an unbounded body could exhaust memory. Every request to the provider goes through here.

use std::time::Duration;

use super::error::ProviderError;
use crate::config::Network;

/// The most bytes read from any response of the provider.
const MAX_BODY: usize = 1024 * 1024;

/// A `reqwest` client configured for talking to an identity provider.
#[derive(Debug, Clone)]
pub(crate) struct HttpClient(reqwest::Client);

impl HttpClient {
    pub(crate) fn new(timeout: Duration, network: &Network) -> Self {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .user_agent(concat!("tower-oidc/", env!("CARGO_PKG_VERSION")));
        #[cfg(feature = "rustls")]
        {
            builder = builder.tls_certs_merge(network.extra_roots.iter().cloned());
        }
        if let Some(proxy) = &network.https_proxy {
            let proxy = reqwest::Proxy::https(proxy.as_str())
                // reqwest parses the URL with the same `url` crate that validated it at
                // startup (`config/network.rs`: http or https, a host, nothing after the port).
                .expect("the https proxy URL was validated at startup");
            builder = builder.proxy(proxy);
        }
        let client = builder
            .build()
            // Building fails only when the TLS backend cannot initialise, which is a broken
            // installation rather than a configuration the user can change.
            .expect("the HTTP client's TLS backend failed to initialise");
        Self(client)
    }

    /// A POST request to `url`, to be sent with [`send`](Self::send).
    pub(crate) fn post(&self, url: url::Url) -> reqwest::RequestBuilder {
        self.0.post(url)
    }

    /// A GET request to `url`, to be sent with [`send`](Self::send).
    pub(crate) fn get_request(&self, url: &str) -> reqwest::RequestBuilder {
        self.0.get(url)
    }

    /// Sends a request; connection failures and timeouts become [`ProviderError::Unreachable`].
    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<reqwest::Response, ProviderError> {
        request.send().await.map_err(|e| classify(&e, what))
    }

    /// GETs a JSON document and returns its body: a redirect or an unsuccessful status is an
    /// error.
    pub(crate) async fn get(&self, url: &str, what: &str) -> Result<bytes::Bytes, ProviderError> {
        let request = self
            .0
            .get(url)
            .header(http::header::ACCEPT, "application/json");
        let response = self.send(request, what).await?;
        let status = response.status();
        if status.is_redirection() {
            return Err(ProviderError::BadResponse(format!(
                "the {what} answered with a redirect (HTTP {}), which is not followed",
                status.as_u16()
            )));
        }
        if !status.is_success() {
            return Err(status_error(what, status));
        }
        read_limited(response, what).await
    }
}

/// An unsuccessful status from the provider. 502, 503 and 504 say that the provider (or the
/// proxy in front of it) is down for now, like a refused connection: the user gets the 503 page
/// with `Retry-After`. Anything else is a broken answer: 502.
pub(crate) fn status_error(what: &str, status: http::StatusCode) -> ProviderError {
    let code = status.as_u16();
    if matches!(code, 502..=504) {
        ProviderError::Unreachable(format!(
            "{what}: answered HTTP {code}, temporarily unavailable"
        ))
    } else {
        ProviderError::BadResponse(format!("the {what} answered HTTP {code}"))
    }
}

fn classify(err: &reqwest::Error, what: &str) -> ProviderError {
    if err.is_connect() || err.is_timeout() || err.is_request() {
        let why = if err.is_timeout() {
            "timed out"
        } else {
            "could not connect"
        };
        ProviderError::Unreachable(format!("{what}: {why}"))
    } else {
        ProviderError::BadResponse(format!("{what}: the response could not be read"))
    }
}

pub(crate) async fn read_limited(
    mut response: reqwest::Response,
    what: &str,
) -> Result<bytes::Bytes, ProviderError> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY as u64)
    {
        return Err(ProviderError::BadResponse(format!(
            "the {what} is larger than 1 MiB"
        )));
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e, what))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(ProviderError::BadResponse(format!(
                "the {what} is larger than 1 MiB"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_errors_mean_unreachable_and_other_statuses_a_bad_answer() {
        for code in [502, 503, 504] {
            let status = http::StatusCode::from_u16(code).unwrap();
            assert!(
                matches!(status_error("JWKS", status), ProviderError::Unreachable(_)),
                "{code}"
            );
        }
        for code in [400, 404, 500, 501] {
            let status = http::StatusCode::from_u16(code).unwrap();
            let err = status_error("JWKS", status);
            assert_eq!(
                err,
                ProviderError::BadResponse(format!("the JWKS answered HTTP {code}"))
            );
        }
    }
}
