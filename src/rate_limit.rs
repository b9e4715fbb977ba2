//! The login routes' rate limit per client address (`OIDC_LOGIN_RATE_LIMIT`): governor's GCRA,
//! keyed by address (IPv6 by its /64), timed by the configuration's [`Clock`], and bounded to
//! the configuration's memory capacity.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

use governor::clock::Clock as GovernorClock;
use governor::nanos::Nanos;
use governor::{Quota, RateLimiter};

use crate::clock::Clock;
use crate::config::LoginRateLimit;

/// The configuration's clock, as governor wants one.
#[derive(Debug, Clone)]
struct LimiterClock(Arc<dyn Clock>);

impl GovernorClock for LimiterClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(self.0.now().duration_since(UNIX_EPOCH).unwrap_or_default())
    }
}

type Keyed = RateLimiter<
    IpAddr,
    governor::state::keyed::HashMapStateStore<IpAddr>,
    LimiterClock,
    governor::middleware::NoOpMiddleware<Nanos>,
>;

/// The limiter of one layer: at most `capacity` addresses remembered.
pub(crate) struct LoginLimiter {
    quota: Quota,
    clock: LimiterClock,
    capacity: usize,
    keyed: Mutex<Keyed>,
}

impl LoginLimiter {
    pub(crate) fn new(rate: LoginRateLimit, clock: Arc<dyn Clock>, capacity: usize) -> Self {
        // `period` is not zero: validation refused such a rate.
        let quota = Quota::with_period(rate.period)
            .unwrap_or_else(|| Quota::per_second(rate.burst))
            .allow_burst(rate.burst);
        let clock = LimiterClock(clock);
        let keyed = Mutex::new(RateLimiter::hashmap_with_clock(quota, clock.clone()));
        Self {
            quota,
            clock,
            capacity: capacity.max(1),
            keyed,
        }
    }

    /// `Ok` when `ip` may make one more request now; else how long until it may.
    pub(crate) fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let key = key(ip);
        let mut keyed = self.keyed.lock().unwrap_or_else(PoisonError::into_inner);
        let now = self.clock.now();
        let outcome = keyed
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(now));
        if keyed.len() > self.capacity {
            keyed.retain_recent();
            if keyed.len() > self.capacity {
                tracing::warn!(
                    target: "tower_oidc",
                    event = "rate_limit_full",
                    capacity = self.capacity,
                    "the login rate limiter holds as many addresses as the memory capacity allows, all of them recent: it forgets them all (a flood from many addresses?)",
                );
                *keyed = RateLimiter::hashmap_with_clock(self.quota, self.clock.clone());
            }
            keyed.shrink_to_fit();
        }
        outcome
    }

    /// How many addresses it remembers now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.keyed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl std::fmt::Debug for LoginLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginLimiter")
            .field("quota", &self.quota)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// IPv4 addresses count alone; IPv6 ones by their /64, which a single host usually holds whole.
fn key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::num::NonZeroU32;

    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::SystemTime;

    use super::*;

    /// Seconds the test moves on by hand.
    #[derive(Debug)]
    struct TestClock(AtomicU64);

    impl TestClock {
        fn advance(&self, by: Duration) {
            self.0.fetch_add(by.as_secs(), Ordering::SeqCst);
        }
    }

    impl Clock for TestClock {
        fn now(&self) -> SystemTime {
            UNIX_EPOCH + Duration::from_secs(self.0.load(Ordering::SeqCst))
        }
    }

    fn make(burst: u32, per_secs: u64, capacity: usize) -> (LoginLimiter, Arc<TestClock>) {
        let clock = Arc::new(TestClock(AtomicU64::new(1_800_000_000)));
        let burst = NonZeroU32::new(burst).unwrap();
        let rate = LoginRateLimit {
            burst,
            period: Duration::from_secs(per_secs) / burst.get(),
        };
        (LoginLimiter::new(rate, clock.clone(), capacity), clock)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_flood_from_one_address_is_refused_while_another_passes() {
        let (limiter, clock) = make(30, 60, 1000);
        for _ in 0..30 {
            assert!(limiter.check(ip("203.0.113.9")).is_ok());
        }
        let wait = limiter.check(ip("203.0.113.9")).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(2),
            "{wait:?}"
        );
        assert!(limiter.check(ip("198.51.100.4")).is_ok());
        // One more request after one refill period.
        clock.advance(Duration::from_secs(2));
        assert!(limiter.check(ip("203.0.113.9")).is_ok());
        assert!(limiter.check(ip("203.0.113.9")).is_err());
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        let (limiter, _) = make(2, 60, 1000);
        assert!(limiter.check(ip("2001:db8:1:2::1")).is_ok());
        assert!(limiter.check(ip("2001:db8:1:2::ffff")).is_ok());
        assert!(limiter.check(ip("2001:db8:1:2:abcd::9")).is_err());
        assert!(limiter.check(ip("2001:db8:1:3::1")).is_ok());
        // An IPv4-mapped address is the IPv4 address.
        assert!(limiter.check(ip("192.0.2.1")).is_ok());
        assert!(limiter.check(ip("::ffff:192.0.2.1")).is_ok());
        assert!(limiter.check(ip("192.0.2.1")).is_err());
    }

    #[test]
    fn memory_stays_bounded_under_a_hundred_thousand_addresses() {
        let capacity = 1000;
        let (limiter, _) = make(30, 60, capacity);
        for n in 0..100_000u32 {
            let _ = limiter.check(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)));
            assert!(limiter.len() <= capacity, "{} at {n}", limiter.len());
        }
        // And an address that refilled is forgotten before anyone recent is.
        let (limiter, clock) = make(1, 1, 2);
        assert!(limiter.check(ip("192.0.2.1")).is_ok());
        clock.advance(Duration::from_secs(5));
        assert!(limiter.check(ip("192.0.2.2")).is_ok());
        assert!(limiter.check(ip("192.0.2.3")).is_ok());
        assert!(
            limiter.check(ip("192.0.2.2")).is_err(),
            "forgotten too early"
        );
    }
}
