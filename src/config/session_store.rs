//! Where sessions live and how long they last: `OIDC_SESSION_STORE` (with
//! `OIDC_SESSION_STORE_STALENESS`), `OIDC_SESSION_IDLE_TIMEOUT` and `OIDC_SESSION_LIFETIME`,
//! their setters, the config file's keys, and their validation into [`SessionStoreConfig`].

use std::fmt;
use std::time::Duration;

use url::Url;

use super::builder::OidcConfigBuilder;
use crate::error::ConfigProblem;

/// The variable choosing the session store.
pub(crate) const SESSION_STORE: &str = "OIDC_SESSION_STORE";
/// How long a replica that lost its store still serves the sessions it has cached.
pub(crate) const STALENESS: &str = "OIDC_SESSION_STORE_STALENESS";
/// How long a session may go unused.
pub(crate) const IDLE_TIMEOUT: &str = "OIDC_SESSION_IDLE_TIMEOUT";
/// How long a session lasts at most.
pub(crate) const LIFETIME: &str = "OIDC_SESSION_LIFETIME";

/// The default staleness: 5 seconds.
const DEFAULT_STALENESS: Duration = Duration::from_secs(5);

/// The settings as written, kept by the builder until `build`.
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionStoreDraft {
    /// `OIDC_SESSION_STORE` as written, and the key it came from; `None`: the cookie store.
    store: Option<(String, &'static str)>,
    staleness: Option<Duration>,
    /// `Some(None)`: turned off explicitly.
    idle_timeout: Option<Duration>,
}

/// Where sessions live.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum StoreKind {
    /// Everything in the encrypted cookie (the default).
    Cookie,
    /// Server-side, in this process.
    Memory,
    /// Server-side, in Redis: the URL as written (it may hold a password; never printed).
    Redis(RedisUrl),
}

/// A `redis://` or `rediss://` URL. Its Debug shows the scheme, host, port and database only:
/// the password never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RedisUrl(String);

impl RedisUrl {
    /// The URL as written, for the client only.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Url::parse(&self.0) {
            Ok(u) => write!(
                f,
                "{}://{}{}:{}{}",
                u.scheme(),
                if u.password().is_some() || !u.username().is_empty() {
                    "[redacted]@"
                } else {
                    ""
                },
                u.host_str().unwrap_or(""),
                u.port().unwrap_or(6379),
                u.path()
            ),
            Err(_) => f.write_str("[redacted]"),
        }
    }
}

impl fmt::Debug for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cookie => f.write_str("cookie"),
            Self::Memory => f.write_str("memory"),
            Self::Redis(url) => url.fmt(f),
        }
    }
}

/// The validated settings.
#[derive(Debug, Clone)]
pub(crate) struct SessionStoreConfig {
    pub(crate) kind: StoreKind,
    /// How long cached sessions are served after the store was last reached.
    pub(crate) staleness: Duration,
    /// How long a session may go unused; `None`: only the lifetime ends it.
    pub(crate) idle_timeout: Option<Duration>,
}

impl OidcConfigBuilder {
    /// Where sessions live (`OIDC_SESSION_STORE`, `session_store` in the file):
    ///
    /// - `cookie`, the default: the whole session in its encrypted cookie; nothing on the
    ///   server. A logout ends the session in this process only; other replicas accept a copy
    ///   of the cookie until it expires.
    /// - `memory`: the session in this process, the cookie holding only its random id. Ended
    ///   for every layer of the process; lost when it restarts.
    /// - `redis://[:password@]host[:port][/db]` or `rediss://…` (TLS), with the cargo feature
    ///   `redis`: the session in Redis, shared by every replica; ending it reaches every
    ///   replica within a second. Redis Cluster and Sentinel are not supported.
    ///
    /// Anything else is a startup error naming `OIDC_SESSION_STORE`.
    pub fn with_session_store(mut self, store: impl Into<String>) -> Self {
        self.session_store.store = Some((store.into(), "with_session_store"));
        self
    }

    /// How long a replica that cannot reach its Redis store still serves the sessions it has
    /// cached (`OIDC_SESSION_STORE_STALENESS`, seconds, 5 by default); after that they get
    /// `503`, and new sign-ins get the 503 page until the store is back. An unreachable store
    /// never signs anyone in.
    pub fn with_session_store_staleness(mut self, staleness: Duration) -> Self {
        self.session_store.staleness = Some(staleness);
        self
    }

    /// Ends a session unused for `idle` (`OIDC_SESSION_IDLE_TIMEOUT`, seconds; off by
    /// default), with any store. Use is recorded at most once a minute per session, so a
    /// session ends between `idle` and `idle` plus a minute after its last request.
    /// OWASP's Session Management Cheat Sheet suggests 15 to 30 minutes for most apps.
    ///
    /// With a server-side store it is applied by the store. With the cookie store the cookie
    /// carries the time of its last use, and the layer re-issues it (`Set-Cookie` on the
    /// response) when that time is a minute old, so every replica sees the same time. A
    /// response the app marked cacheable (a `Cache-Control` without `no-store` or `private`)
    /// never carries the re-issued cookie; the next request's does.
    pub fn with_session_idle_timeout(mut self, idle: Duration) -> Self {
        self.session_store.idle_timeout = Some(idle);
        self
    }
}

/// Reads the variables of this file through `get` into `draft` and the builder.
pub(crate) fn read_env(b: &mut OidcConfigBuilder, get: impl Fn(&str) -> Option<String>) {
    if let Some(v) = get(SESSION_STORE) {
        b.session_store.store = Some((v, SESSION_STORE));
    }
    read_secs(b, STALENESS, get(STALENESS), |b, d| {
        b.session_store.staleness = Some(d)
    });
    read_secs(b, IDLE_TIMEOUT, get(IDLE_TIMEOUT), |b, d| {
        b.session_store.idle_timeout = Some(d)
    });
    read_secs(b, LIFETIME, get(LIFETIME), |b, d| b.session_lifetime = d);
}

/// The config file's keys of this file: `session_store`, `session_store_staleness`,
/// `session_idle_timeout` and `session_lifetime` (seconds).
#[derive(Debug, Default)]
pub(crate) struct FileSessionStore {
    pub(crate) session_store: Option<String>,
    pub(crate) session_store_staleness: Option<u64>,
    pub(crate) session_idle_timeout: Option<u64>,
    pub(crate) session_lifetime: Option<u64>,
}

/// Applies the config file's keys.
pub(crate) fn read_file(b: &mut OidcConfigBuilder, file: FileSessionStore) {
    if let Some(v) = file.session_store {
        b.session_store.store = Some((v, "session_store"));
    }
    if let Some(v) = file.session_store_staleness {
        b.session_store.staleness = Some(Duration::from_secs(v));
    }
    if let Some(v) = file.session_idle_timeout {
        b.session_store.idle_timeout = Some(Duration::from_secs(v));
    }
    if let Some(v) = file.session_lifetime {
        b.session_lifetime = Duration::from_secs(v);
    }
}

/// A number of seconds (`300`, or `300s`), or a problem naming `key`.
pub(super) fn read_secs(
    b: &mut OidcConfigBuilder,
    key: &str,
    raw: Option<String>,
    set: impl FnOnce(&mut OidcConfigBuilder, Duration),
) {
    let Some(raw) = raw else {
        return;
    };
    let t = raw.trim();
    match t.strip_suffix('s').unwrap_or(t).parse::<u64>() {
        Ok(secs) => set(b, Duration::from_secs(secs)),
        Err(_) => b.problems.push(ConfigProblem {
            key: key.to_owned(),
            message: format!(
                "`{}` is not a number of seconds (such as `300`)",
                t.chars().take(32).collect::<String>()
            ),
        }),
    }
}

/// Validates the draft; every problem names its key.
pub(crate) fn validate(
    draft: &SessionStoreDraft,
    problems: &mut Vec<ConfigProblem>,
) -> SessionStoreConfig {
    let mut push = |key: &str, message: String| {
        problems.push(ConfigProblem {
            key: key.to_owned(),
            message,
        })
    };
    let kind = match &draft.store {
        None => StoreKind::Cookie,
        Some((raw, key)) => match parse_kind(raw.trim()) {
            Ok(kind) => kind,
            Err(message) => {
                push(key, message);
                StoreKind::Cookie
            }
        },
    };
    let staleness = draft.staleness.unwrap_or(DEFAULT_STALENESS);
    if staleness > Duration::from_secs(300) {
        push(
            STALENESS,
            "must be at most 300 seconds: a replica that lost its store would otherwise serve ended sessions for that long".into(),
        );
    }
    let idle_timeout = draft.idle_timeout.filter(|d| !d.is_zero());
    if let Some(idle) = idle_timeout {
        if idle < Duration::from_secs(120) {
            push(
                IDLE_TIMEOUT,
                "must be at least 120 seconds (use is recorded once a minute), or 0 for none"
                    .into(),
            );
        }
    }
    SessionStoreConfig {
        kind,
        staleness,
        idle_timeout,
    }
}

/// `cookie`, `memory`, or a Redis URL.
fn parse_kind(raw: &str) -> Result<StoreKind, String> {
    match raw.to_ascii_lowercase().as_str() {
        "cookie" => return Ok(StoreKind::Cookie),
        "memory" => return Ok(StoreKind::Memory),
        _ => {}
    }
    let url = Url::parse(raw).ok().filter(|u| {
        matches!(u.scheme(), "redis" | "rediss") && u.host_str().is_some_and(|h| !h.is_empty())
    });
    match url {
        Some(_) if cfg!(feature = "redis") => Ok(StoreKind::Redis(RedisUrl(raw.to_owned()))),
        Some(_) => Err(
            "a Redis session store needs tower-oidc's cargo feature `redis`: enable it, or use `cookie` or `memory`".into(),
        ),
        // The value is not echoed: it may be a URL with a password in it.
        None => Err(
            "is not a session store: use `cookie` (the default), `memory`, or a `redis://host:port` or `rediss://host:port` URL".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validated(store: &str) -> (SessionStoreConfig, Vec<ConfigProblem>) {
        let draft = SessionStoreDraft {
            store: Some((store.into(), SESSION_STORE)),
            ..Default::default()
        };
        let mut problems = Vec::new();
        (validate(&draft, &mut problems), problems)
    }

    #[test]
    fn the_store_is_cookie_memory_or_a_redis_url_and_anything_else_is_named() {
        assert_eq!(validated("cookie").0.kind, StoreKind::Cookie);
        assert_eq!(validated("memory").0.kind, StoreKind::Memory);
        assert_eq!(validated("memory").0.staleness, Duration::from_secs(5));
        for bad in ["memcache://x", "redis://", "postgres://db", "rediss"] {
            let (_, problems) = validated(bad);
            assert_eq!(problems.len(), 1, "{bad}");
            assert_eq!(problems[0].key, SESSION_STORE, "{bad}");
        }
        let (config, problems) = validated("redis://:hunter2@cache.internal:6380/2");
        if cfg!(feature = "redis") {
            assert!(problems.is_empty());
            let debug = format!("{config:?}");
            assert!(!debug.contains("hunter2"), "{debug}");
            assert!(debug.contains("cache.internal:6380/2"), "{debug}");
        } else {
            assert!(problems[0].message.contains("feature `redis`"));
        }
        let (_, problems) = validated("rediss://user:s3cret@[::1");
        assert!(!problems[0].message.contains("s3cret"));
    }

    #[test]
    fn an_idle_timeout_works_with_every_store_and_needs_a_sane_length() {
        let check = |store: &str, idle: u64| {
            let draft = SessionStoreDraft {
                store: Some((store.into(), SESSION_STORE)),
                idle_timeout: Some(Duration::from_secs(idle)),
                ..Default::default()
            };
            let mut problems = Vec::new();
            let config = validate(&draft, &mut problems);
            (config.idle_timeout, problems)
        };
        assert_eq!(
            check("memory", 900),
            (Some(Duration::from_secs(900)), vec![])
        );
        assert_eq!(check("memory", 0).0, None);
        assert_eq!(check("memory", 30).1[0].key, IDLE_TIMEOUT);
        assert_eq!(
            check("cookie", 900),
            (Some(Duration::from_secs(900)), vec![])
        );
        assert_eq!(check("cookie", 60).1[0].key, IDLE_TIMEOUT);
    }
}
