//! [`Network`]: how the layer reaches its providers from a corporate network, an extra root
//! certificate (a private CA) and an https proxy, validated at startup.

use url::Url;

/// The validated network settings the HTTP client is built with.
#[derive(Clone, Debug, Default)]
pub(crate) struct Network {
    /// Certificates trusted besides the system's store.
    #[cfg(feature = "rustls")]
    pub(crate) extra_roots: Vec<reqwest::Certificate>,
    /// The proxy every https request to a provider goes through.
    pub(crate) https_proxy: Option<Url>,
}

/// The builder's key for the extra root certificates.
pub(super) const ROOTS_KEY: &str = "extra root certificate (with_extra_root_certificate_pem)";
/// The builder's key for the proxy.
pub(super) const PROXY_KEY: &str = "https proxy (with_https_proxy)";

impl Network {
    /// Validates the PEM bundles and the proxy URL as written; each problem is `(key, message)`
    /// and never quotes the value (a proxy URL may hold a password).
    pub(super) fn parse(
        pems: &[Vec<u8>],
        proxy: Option<&str>,
        problems: &mut Vec<(&'static str, String)>,
    ) -> Self {
        let mut network = Self::default();
        for (i, pem) in pems.iter().enumerate() {
            let which = format!("certificate {} of {}", i + 1, pems.len());
            #[cfg(feature = "rustls")]
            match reqwest::Certificate::from_pem_bundle(pem) {
                Ok(certs) if certs.is_empty() => problems.push((
                    ROOTS_KEY,
                    format!(
                        "{which} holds no PEM certificate (a `-----BEGIN CERTIFICATE-----` block)"
                    ),
                )),
                Ok(certs) => network.extra_roots.extend(certs),
                Err(_) => problems.push((
                    ROOTS_KEY,
                    format!("{which} is not valid PEM: give the CA's certificate as PEM text"),
                )),
            }
            #[cfg(not(feature = "rustls"))]
            {
                let _ = pem;
                problems.push((
                    ROOTS_KEY,
                    format!("{which} needs the `rustls` feature, which gives the layer https"),
                ));
            }
        }
        if let Some(raw) = proxy {
            network.https_proxy = proxy_url(raw)
                .map_err(|e| problems.push((PROXY_KEY, e)))
                .ok();
        }
        network
    }
}

/// A proxy URL: `http://` or `https://`, a host, optionally a port and credentials, nothing
/// else.
fn proxy_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|_| {
        "is not a URL: give the proxy as `http://host:port` (or `https://…`)".to_owned()
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "has the scheme `{}`: an https proxy is reached with `http://` or `https://`",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("names no host".to_owned());
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err("has a path, query or fragment: give only `http://host:port`".to_owned());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(pems: &[&[u8]], proxy: Option<&str>) -> Vec<(&'static str, String)> {
        let pems: Vec<Vec<u8>> = pems.iter().map(|p| p.to_vec()).collect();
        let mut problems = Vec::new();
        Network::parse(&pems, proxy, &mut problems);
        problems
    }

    #[test]
    fn refuses_malformed_pem_and_proxy_urls_naming_the_setting_not_the_value() {
        let found = problems(&[b"not a certificate"], None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, ROOTS_KEY);
        let broken = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        let found = problems(&[broken], None);
        assert_eq!(found.len(), 1, "{found:?}");
        for bad in [
            "proxy.example.com:3128",
            "socks5://proxy:1080",
            "http://",
            "http://proxy:3128/path",
            "http://user:s3cret@proxy:3128/?x",
        ] {
            let found = problems(&[], Some(bad));
            assert_eq!(found.len(), 1, "{bad}: {found:?}");
            assert_eq!(found[0].0, PROXY_KEY);
            assert!(!found[0].1.contains("s3cret"), "{found:?}");
        }
        assert!(problems(&[], Some("http://user:pw@proxy.corp:3128")).is_empty());
    }
}
