//! The client's address: the connection's peer (axum's `ConnectInfo<SocketAddr>`), or, when
//! that peer is a trusted proxy (`OIDC_TRUSTED_PROXIES`), the first untrusted address of its
//! forwarding header read from the right. Nothing else reads a forwarding header.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use http::request::Parts;
use http::HeaderMap;

use crate::config::{ForwardedHeader, TrustedProxies};

/// At most this many hops of a forwarding header are read: a chain of proxies is short, and a
/// long header costs no more than this.
const MAX_HOPS: usize = 16;

/// The longest user agent kept for the audit trail, in bytes.
pub(crate) const MAX_USER_AGENT: usize = 256;

/// The client's address, or `None` when the server was not started with connect info.
pub(crate) fn client_ip(proxies: &TrustedProxies, parts: &Parts) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()?
        .0
        .ip()
        .to_canonical();
    Some(through_proxies(proxies, peer, &parts.headers))
}

/// The request's `User-Agent`, cut to [`MAX_USER_AGENT`] bytes at a character boundary.
pub(crate) fn user_agent(parts: &Parts) -> Option<String> {
    let raw = parts.headers.get(http::header::USER_AGENT)?.to_str().ok()?;
    let mut end = raw.len().min(MAX_USER_AGENT);
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    Some(raw[..end].to_owned())
}

/// `peer` itself unless it is trusted; then each hop from the right, until one that is not
/// trusted. A hop that cannot be read ends the walk at the last address known.
fn through_proxies(proxies: &TrustedProxies, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    if !proxies.trusts(peer) {
        return peer;
    }
    let name = match proxies.header {
        ForwardedHeader::XForwardedFor => "x-forwarded-for",
        ForwardedHeader::Forwarded => "forwarded",
    };
    let hops = headers
        .get_all(name)
        .iter()
        .rev()
        .flat_map(|v| v.to_str().unwrap_or("\u{0}").rsplit(','))
        .take(MAX_HOPS);
    let mut client = peer;
    for hop in hops {
        let address = match proxies.header {
            ForwardedHeader::XForwardedFor => parse_address(hop.trim()),
            ForwardedHeader::Forwarded => forwarded_for(hop),
        };
        let Some(address) = address else {
            return client;
        };
        client = address;
        if !proxies.trusts(address) {
            return address;
        }
    }
    client
}

/// The `for=` parameter of one RFC 7239 forwarded element (RFC 7239 section 6: an address,
/// `"[v6]:port"`, `"v4:port"`; `unknown` and obfuscated names are not addresses).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("for")
            .then(|| parse_address(value.trim().trim_matches('"')))?
    })
}

/// An address, with or without a port (`192.0.2.1`, `192.0.2.1:80`, `2001:db8::1`,
/// `[2001:db8::1]:80`).
fn parse_address(raw: &str) -> Option<IpAddr> {
    raw.parse::<IpAddr>()
        .or_else(|_| raw.parse::<SocketAddr>().map(|s| s.ip()))
        .or_else(|_| {
            raw.strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .unwrap_or("")
                .parse::<IpAddr>()
        })
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(header: ForwardedHeader, nets: &[&str]) -> TrustedProxies {
        TrustedProxies {
            nets: nets.iter().map(|n| n.parse().unwrap()).collect(),
            header,
        }
    }

    fn request(peer: Option<&str>, headers: &[(&str, &str)]) -> Parts {
        let mut req = http::Request::builder().uri("/auth/login");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let (mut parts, ()) = req.body(()).unwrap().into_parts();
        if let Some(peer) = peer {
            parts
                .extensions
                .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        }
        parts
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn without_connect_info_no_address_is_known() {
        let none = TrustedProxies::default();
        let parts = request(None, &[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(client_ip(&none, &parts), None);
    }

    #[test]
    fn forwarding_header_of_an_untrusted_peer_is_ignored() {
        let none = TrustedProxies::default();
        let forged = [
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=203.0.113.9"),
        ];
        let parts = request(Some("198.51.100.4:5000"), &forged);
        assert_eq!(client_ip(&none, &parts), ip("198.51.100.4"));
        let other = proxies(ForwardedHeader::XForwardedFor, &["10.0.0.0/8"]);
        assert_eq!(client_ip(&other, &parts), ip("198.51.100.4"));
    }

    #[test]
    fn trusted_proxy_header_is_read_from_the_right() {
        let p = proxies(ForwardedHeader::XForwardedFor, &["10.0.0.0/8"]);
        // The client forged the first entry; the proxy appended the real peer.
        let parts = request(
            Some("10.0.0.2:443"),
            &[("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.0.0.7")],
        );
        assert_eq!(client_ip(&p, &parts), ip("203.0.113.9"));
        // Several header lines are one list, in order.
        let parts = request(
            Some("10.0.0.2:443"),
            &[
                ("x-forwarded-for", "1.2.3.4"),
                ("x-forwarded-for", "203.0.113.9"),
            ],
        );
        assert_eq!(client_ip(&p, &parts), ip("203.0.113.9"));
        // The `Forwarded` header is not read when the proxies write `X-Forwarded-For`.
        let parts = request(Some("10.0.0.2:443"), &[("forwarded", "for=1.2.3.4")]);
        assert_eq!(client_ip(&p, &parts), ip("10.0.0.2"));
    }

    #[test]
    fn rfc7239_forwarded_with_ports_and_obfuscation() {
        let p = proxies(ForwardedHeader::Forwarded, &["10.0.0.0/8"]);
        let parts = request(
            Some("10.0.0.2:443"),
            &[(
                "forwarded",
                "for=1.2.3.4, for=\"[2001:db8::7]:4711\";proto=https, for=10.0.0.9",
            )],
        );
        assert_eq!(client_ip(&p, &parts), ip("2001:db8::7"));
        let parts = request(
            Some("10.0.0.2:443"),
            &[("forwarded", "for=1.2.3.4, for=_hidden, for=10.0.0.9")],
        );
        assert_eq!(client_ip(&p, &parts), ip("10.0.0.9"));
        let parts = request(Some("10.0.0.2:443"), &[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(client_ip(&p, &parts), ip("10.0.0.2"));
    }

    #[test]
    fn garbage_never_panics_and_never_names_a_forged_client() {
        let p = proxies(ForwardedHeader::XForwardedFor, &["10.0.0.0/8"]);
        for junk in ["", ",,,", "unknown", "[::1", "999.1.1.1", "1.2.3.4 , , x"] {
            let parts = request(Some("10.0.0.2:1"), &[("x-forwarded-for", junk)]);
            let got = client_ip(&p, &parts).unwrap();
            assert_ne!(got, "1.2.3.4".parse::<IpAddr>().unwrap(), "{junk}");
        }
        let mut parts = request(Some("10.0.0.2:1"), &[]);
        parts.headers.insert(
            "x-forwarded-for",
            http::HeaderValue::from_bytes(b"1.2.3.4, \xff").unwrap(),
        );
        assert_eq!(client_ip(&p, &parts), ip("10.0.0.2"));
    }

    #[test]
    fn user_agent_is_cut_at_a_character_boundary() {
        let long = "a".repeat(300);
        let parts = request(None, &[("user-agent", &long)]);
        assert_eq!(user_agent(&parts).unwrap().len(), MAX_USER_AGENT);
        assert_eq!(user_agent(&request(None, &[])), None);
    }
}
