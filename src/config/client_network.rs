//! Where a client's address comes from and how often it may start a sign-in:
//! `OIDC_TRUSTED_PROXIES` (with `OIDC_TRUSTED_PROXY_HEADER`) and `OIDC_LOGIN_RATE_LIMIT`, their
//! setters, and their validation into [`TrustedProxies`] and [`LoginRateLimit`].

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use ipnet::IpNet;

use super::builder::OidcConfigBuilder;
use crate::error::ConfigProblem;

/// The variable naming the proxies whose forwarding header is believed.
pub(crate) const TRUSTED_PROXIES: &str = "OIDC_TRUSTED_PROXIES";
/// The variable naming which forwarding header those proxies write.
pub(crate) const TRUSTED_PROXY_HEADER: &str = "OIDC_TRUSTED_PROXY_HEADER";
/// The variable setting the per-IP rate of the login routes.
pub(crate) const LOGIN_RATE_LIMIT: &str = "OIDC_LOGIN_RATE_LIMIT";

/// The forwarding header a trusted proxy writes, the only one ever read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, most load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

/// The default rate of the login routes per client address: 30 a minute, a burst of 30. A
/// person signing in makes two requests (the login and the callback), a few more after a
/// mistyped password; an office behind one NAT address can still have a dozen sign-ins a minute.
pub(crate) const DEFAULT_LOGIN_RATE: (u32, Duration) = (30, Duration::from_secs(60));

/// The settings as written, kept by the builder until `build`.
#[derive(Debug, Clone)]
pub(crate) struct ClientNetworkDraft {
    /// Each entry as written, with the key it came from.
    pub(crate) trusted_proxies: Vec<(String, &'static str)>,
    pub(crate) header: Result<ForwardedHeader, String>,
    /// `(requests, per)`; `requests == 0` turns the limit off. `Err` holds an unreadable value.
    pub(crate) rate: Result<(u32, Duration), String>,
}

impl Default for ClientNetworkDraft {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            header: Ok(ForwardedHeader::default()),
            rate: Ok(DEFAULT_LOGIN_RATE),
        }
    }
}

/// The proxies whose forwarding header names the client, validated.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustedProxies {
    pub(crate) nets: Vec<IpNet>,
    pub(crate) header: ForwardedHeader,
}

impl TrustedProxies {
    /// Whether `ip` is one of the trusted proxies.
    pub(crate) fn trusts(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(&ip))
    }
}

/// The per-address rate of the login routes, validated: `burst` requests, one more every
/// `period`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoginRateLimit {
    pub(crate) burst: NonZeroU32,
    pub(crate) period: Duration,
}

impl OidcConfigBuilder {
    /// Trusts the forwarding header (see [`with_trusted_proxy_header`](Self::with_trusted_proxy_header))
    /// of connections from `cidr` (`OIDC_TRUSTED_PROXIES`, a comma- or space-separated list
    /// such as `10.0.0.0/8, 2001:db8::1`; a bare address is one host).
    ///
    /// The client's address, used by the login rate limit and the audit trail, is the
    /// connection's peer address (axum's `ConnectInfo<SocketAddr>`: serve the app with
    /// `into_make_service_with_connect_info::<SocketAddr>()`, or no address is known). When that
    /// peer is a trusted proxy, the header is read from the right: the first address that is
    /// not a trusted proxy is the client.
    ///
    /// # Security
    /// Nothing else ever reads a forwarding header: from any other peer it is ignored, since
    /// anyone can send one. Name only proxies that overwrite or append to the header.
    pub fn add_trusted_proxy(mut self, cidr: impl Into<String>) -> Self {
        self.client_network
            .trusted_proxies
            .push((cidr.into(), "trusted proxy"));
        self
    }

    /// Which header the trusted proxies write (`OIDC_TRUSTED_PROXY_HEADER`:
    /// `x-forwarded-for`, the default, or `forwarded`); the other one is never read.
    pub fn with_trusted_proxy_header(mut self, header: ForwardedHeader) -> Self {
        self.client_network.header = Ok(header);
        self
    }

    /// How many requests to the login and callback routes (and redirects to the provider) one
    /// client address may make: a burst of `requests`, refilled evenly over `per`
    /// (`OIDC_LOGIN_RATE_LIMIT`, e.g. `30/minute`, the default; `off` or `0` turns it off).
    /// Past it the answer is `429 Too Many Requests` with `Retry-After`. IPv6 addresses count
    /// by their /64 network, which one host usually has whole.
    ///
    /// The limiter holds at most [`with_memory_capacity`](Self::with_memory_capacity) addresses:
    /// when full, it forgets those whose limit has refilled, and if that is not enough,
    /// everyone (logged), so a flood of distinct addresses cannot exhaust memory.
    pub fn with_login_rate_limit(mut self, requests: u32, per: Duration) -> Self {
        self.client_network.rate = Ok((requests, per));
        self
    }
}

/// Reads the variables of this file through `get` into `draft`.
pub(crate) fn read_env(draft: &mut ClientNetworkDraft, get: impl Fn(&str) -> Option<String>) {
    if let Some(v) = get(TRUSTED_PROXIES) {
        draft.trusted_proxies = v
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(|s| (s.to_owned(), TRUSTED_PROXIES))
            .collect();
    }
    if let Some(v) = get(TRUSTED_PROXY_HEADER) {
        draft.header = match v.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(ForwardedHeader::XForwardedFor),
            "forwarded" => Ok(ForwardedHeader::Forwarded),
            _ => Err(v),
        };
    }
    if let Some(v) = get(LOGIN_RATE_LIMIT) {
        draft.rate = parse_rate(&v).ok_or(v);
    }
}

/// `30/minute`, `5/second`, `100/hour` (also `s`, `min`, `m`, `h`), or `off`.
fn parse_rate(raw: &str) -> Option<(u32, Duration)> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("off") {
        return Some((0, Duration::from_secs(60)));
    }
    let (count, unit) = raw.split_once('/')?;
    let count: u32 = count.trim().parse().ok()?;
    let per = match unit.trim().to_ascii_lowercase().as_str() {
        "s" | "sec" | "second" => 1,
        "m" | "min" | "minute" => 60,
        "h" | "hour" => 3600,
        _ => return None,
    };
    Some((count, Duration::from_secs(per)))
}

/// Validates the draft; every problem names its key.
pub(crate) fn validate(
    draft: &ClientNetworkDraft,
    problems: &mut Vec<ConfigProblem>,
) -> (TrustedProxies, Option<LoginRateLimit>) {
    let mut push = |key: &str, message: String| {
        problems.push(ConfigProblem {
            key: key.to_owned(),
            message,
        })
    };
    let mut nets = Vec::new();
    for (raw, key) in &draft.trusted_proxies {
        let parsed = raw
            .parse::<IpNet>()
            .or_else(|_| raw.parse::<IpAddr>().map(IpNet::from));
        match parsed {
            Ok(net) => nets.push(net.trunc()),
            Err(_) => push(
                key,
                format!(
                    "`{}` is not an IP address or CIDR network (such as 10.0.0.0/8 or 2001:db8::/32)",
                    raw.chars().take(64).collect::<String>()
                ),
            ),
        }
    }
    let header = draft.header.clone().unwrap_or_else(|raw| {
        push(
            TRUSTED_PROXY_HEADER,
            format!(
                "`{}` is not a forwarding header: use `x-forwarded-for` or `forwarded`",
                raw.chars().take(64).collect::<String>()
            ),
        );
        ForwardedHeader::default()
    });
    let rate = match &draft.rate {
        Err(raw) => {
            push(
                LOGIN_RATE_LIMIT,
                format!(
                    "`{}` is not a rate: write it as requests/unit, such as `30/minute`, `5/second` or `100/hour`, or `off`",
                    raw.chars().take(64).collect::<String>()
                ),
            );
            None
        }
        Ok((0, _)) => None,
        Ok((requests, per)) => {
            let period = per.checked_div(*requests).unwrap_or_default();
            match NonZeroU32::new(*requests) {
                Some(burst) if !period.is_zero() => Some(LoginRateLimit { burst, period }),
                _ => {
                    push(
                        LOGIN_RATE_LIMIT,
                        format!("{requests} requests per {per:?} is not a usable rate: the period must be longer than the number of requests in nanoseconds (`with_login_rate_limit`)"),
                    );
                    None
                }
            }
        }
    };
    (TrustedProxies { nets, header }, rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validated(
        vars: &[(&str, &str)],
    ) -> (TrustedProxies, Option<LoginRateLimit>, Vec<ConfigProblem>) {
        let mut draft = ClientNetworkDraft::default();
        read_env(&mut draft, |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        });
        let mut problems = Vec::new();
        let (proxies, rate) = validate(&draft, &mut problems);
        (proxies, rate, problems)
    }

    #[test]
    fn reads_cidr_lists_and_bare_addresses() {
        let (proxies, _, problems) =
            validated(&[(TRUSTED_PROXIES, "10.0.0.0/8, 192.168.1.7 2001:db8::/32")]);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(proxies.trusts("10.1.2.3".parse().unwrap()));
        assert!(proxies.trusts("192.168.1.7".parse().unwrap()));
        assert!(!proxies.trusts("192.168.1.8".parse().unwrap()));
        assert!(proxies.trusts("2001:db8::5".parse().unwrap()));
        assert!(!proxies.trusts("11.0.0.1".parse().unwrap()));
    }

    #[test]
    fn malformed_proxy_list_names_the_variable() {
        for bad in ["10.0.0.0/33", "proxy.internal", "10.0.0.0/8;", "::1/129"] {
            let (_, _, problems) = validated(&[(TRUSTED_PROXIES, bad)]);
            assert_eq!(problems.len(), 1, "{bad}: {problems:?}");
            assert_eq!(problems[0].key, TRUSTED_PROXIES);
        }
        let (_, _, problems) = validated(&[(TRUSTED_PROXY_HEADER, "x-real-ip")]);
        assert_eq!(problems[0].key, TRUSTED_PROXY_HEADER);
    }

    #[test]
    fn reads_rates_and_refuses_unusable_ones() {
        let (_, rate, _) = validated(&[]);
        let rate = rate.expect("on by default");
        assert_eq!(
            (rate.burst.get(), rate.period),
            (30, Duration::from_secs(2))
        );
        let (_, rate, _) = validated(&[(LOGIN_RATE_LIMIT, "5/second")]);
        assert_eq!(rate.map(|r| r.burst.get()), Some(5));
        for off in ["off", "0/minute"] {
            let (_, rate, problems) = validated(&[(LOGIN_RATE_LIMIT, off)]);
            assert!(rate.is_none() && problems.is_empty(), "{off}");
        }
        for bad in [
            "30",
            "30/fortnight",
            "-1/minute",
            "lots/minute",
            "4294967296/s",
            "4000000000/s",
        ] {
            let (_, _, problems) = validated(&[(LOGIN_RATE_LIMIT, bad)]);
            assert_eq!(problems.len(), 1, "{bad}: {problems:?}");
            assert_eq!(problems[0].key, LOGIN_RATE_LIMIT, "{bad}");
        }
    }
}
