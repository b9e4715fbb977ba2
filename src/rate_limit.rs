//! The login routes' rate limit per client address (`OIDC_LOGIN_RATE_LIMIT`): governor's GCRA,
//! keyed by address (IPv6 by its /64), timed by the configuration's [`Clock`], in a store
//! bounded to the configuration's memory capacity that forgets the addresses seen least
//! recently first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

use governor::clock::Clock as GovernorClock;
use governor::nanos::Nanos;
use governor::state::StateStore;
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

/// Governor's state per address, in two generations of at most half the capacity each: an
/// address is looked up in the current one, then in the previous one (and moved to the
/// current one when found there); when the current one is full it becomes the previous one and
/// the old previous one is forgotten. So at most `capacity` addresses are remembered, and the
/// ones forgotten are those not seen since the last two turns: a flood of new addresses pushes
/// out only addresses that stopped sending, never one that keeps trying while it is limited.
#[derive(Debug)]
struct Generations {
    half: usize,
    maps: Mutex<[HashMap<IpAddr, Nanos>; 2]>,
}

impl Generations {
    fn new(capacity: usize) -> Self {
        Self {
            half: (capacity / 2).max(1),
            maps: Mutex::new([HashMap::new(), HashMap::new()]),
        }
    }

    /// How many addresses it remembers.
    fn len(&self) -> usize {
        let maps = self.maps.lock().unwrap_or_else(PoisonError::into_inner);
        maps[0].len() + maps[1].len()
    }
}

/// The store governor owns, sharing the generations with the limiter (which counts them).
#[derive(Debug)]
struct Store(Arc<Generations>);

impl StateStore for Store {
    type Key = IpAddr;

    fn measure_and_replace<T, F, E>(&self, key: &IpAddr, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        // A std lock held for one map lookup and one insert, never across an await.
        let generations = &*self.0;
        let mut maps = generations
            .maps
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let [current, previous] = &mut *maps;
        let seen = match current.get(key) {
            Some(tat) => Some(*tat),
            None => previous.remove(key),
        };
        let (outcome, stored) = match f(seen) {
            Ok((value, tat)) => (Ok(value), tat),
            // Refused: the state is unchanged, but the address was seen now.
            Err(refusal) => match seen {
                Some(tat) => (Err(refusal), tat),
                None => return Err(refusal),
            },
        };
        if !current.contains_key(key) && current.len() >= generations.half {
            tracing::debug!(
                target: "tower_oidc",
                event = "rate_limit_turn",
                forgotten = previous.len(),
                "the login rate limiter forgets the addresses it has not seen for a while",
            );
            *previous = std::mem::take(current);
            current.reserve(generations.half);
        }
        current.insert(*key, stored);
        outcome
    }
}

type Keyed = RateLimiter<IpAddr, Store, LimiterClock, governor::middleware::NoOpMiddleware<Nanos>>;

/// The limiter of one layer: at most `capacity` addresses remembered.
pub(crate) struct LoginLimiter {
    quota: Quota,
    clock: LimiterClock,
    capacity: usize,
    keyed: Keyed,
    generations: Arc<Generations>,
}

impl LoginLimiter {
    pub(crate) fn new(rate: LoginRateLimit, clock: Arc<dyn Clock>, capacity: usize) -> Self {
        // `period` is not zero: validation refused such a rate.
        let quota = Quota::with_period(rate.period)
            .unwrap_or_else(|| Quota::per_second(rate.burst))
            .allow_burst(rate.burst);
        let clock = LimiterClock(clock);
        let capacity = capacity.max(2);
        let generations = Arc::new(Generations::new(capacity));
        let keyed = RateLimiter::new(quota, Store(generations.clone()), clock.clone());
        Self {
            quota,
            clock,
            capacity,
            keyed,
            generations,
        }
    }

    /// `Ok` when `ip` may make one more request now; else how long until it may.
    pub(crate) fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let now = self.clock.now();
        self.keyed
            .check_key(&key(ip))
            .map_err(|not_until| not_until.wait_time_from(now))
    }

    /// How many addresses it remembers now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.generations.len()
    }
}

impl std::fmt::Debug for LoginLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginLimiter")
            .field("quota", &self.quota)
            .field("capacity", &self.capacity)
            .field("remembered", &self.generations.len())
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
        assert!(
            limiter.len() >= capacity / 2,
            "it remembers the recent half"
        );
    }

    #[test]
    fn a_limited_address_stays_limited_while_a_hundred_thousand_others_flood() {
        let capacity = 1000;
        let (limiter, clock) = make(30, 60, capacity);
        let attacker = ip("203.0.113.9");
        for _ in 0..30 {
            assert!(limiter.check(attacker).is_ok());
        }
        assert!(limiter.check(attacker).is_err());
        for n in 0..100_000u32 {
            let _ = limiter.check(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)));
            assert!(limiter.len() <= capacity, "{} at {n}", limiter.len());
            // The attacker keeps trying, once per hundred flood requests (it would try far
            // more often), and stays refused throughout.
            if n % 100 == 0 {
                assert!(limiter.check(attacker).is_err(), "let through at {n}");
            }
        }
        // Its refusals did not extend its wait: one refill period later it may try again.
        clock.advance(Duration::from_secs(2));
        assert!(limiter.check(attacker).is_ok());
        assert!(limiter.check(attacker).is_err());
    }

    #[test]
    fn the_least_recently_seen_addresses_are_forgotten_first() {
        // Capacity 4: two generations of two.
        let (limiter, _) = make(1, 3600, 4);
        let (old, recent) = (ip("192.0.2.1"), ip("192.0.2.2"));
        assert!(limiter.check(old).is_ok());
        assert!(limiter.check(recent).is_ok());
        for n in 3..=6 {
            let _ = limiter.check(ip(&format!("192.0.2.{n}")));
            // `recent` keeps trying; `old` does not.
            assert!(limiter.check(recent).is_err());
        }
        assert!(limiter.len() <= 4);
        assert!(limiter.check(recent).is_err(), "still remembered");
        assert!(limiter.check(old).is_ok(), "forgotten, a fresh start");
    }
}
