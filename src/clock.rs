//! An injectable source of time.
//!
//! Every expiry decision in the crate (session lifetime, login record age, ID token `exp`/`iat`,
//! JWKS refetch cooldown) asks a [`Clock`], so tests can move time without sleeping.

use std::fmt::Debug;
#[cfg(feature = "test-util")]
use std::sync::atomic::{AtomicU64, Ordering};
#[cfg(feature = "test-util")]
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current wall-clock time.
///
/// The default is [`SystemClock`]. Tests can install their own through
/// [`OidcConfigBuilder::with_clock`](crate::OidcConfigBuilder::with_clock).
pub trait Clock: Debug + Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// The current time as whole seconds since the Unix epoch (0 before the epoch).
    fn unix_seconds(&self) -> u64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs()
    }
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that moves only when told to (feature `test-util`): for tests of session expiry,
/// token lifetimes and refetch cooldowns without sleeping.
///
/// It holds whole seconds since the Unix epoch. [`TestClock::new`] starts at the system time,
/// [`TestClock::at`] at a fixed one; both return an `Arc`, ready for
/// [`OidcConfigBuilder::with_clock`](crate::OidcConfigBuilder::with_clock) while the test keeps
/// a handle to move it.
///
/// ```
/// use std::time::Duration;
/// use tower_oidc::{Clock, Identity, OidcConfig, OidcLayer, TestClock};
///
/// # fn main() -> Result<(), tower_oidc::ConfigError> {
/// let clock = TestClock::at(1_750_000_000);
/// let layer = OidcLayer::new(
///     OidcConfig::builder()
///         .with_issuer("https://id.example.com")
///         .with_client_id("app")
///         .with_base_url("https://app.example.com")
///         .allow_random_cookie_key(true)
///         .with_session_lifetime(Duration::from_secs(3600))
///         .with_clock(clock.clone())
///         .build()?,
/// );
/// // A session minted now is valid until 1_750_003_600 ...
/// let cookie = layer.session_cookie(&Identity::builder("https://id.example.com", "u1").build());
/// # let _ = cookie;
/// // ... and the test lets it run out without sleeping.
/// clock.advance(Duration::from_secs(3600));
/// assert_eq!(clock.unix_seconds(), 1_750_003_600);
/// clock.set(1_750_000_000); // and back again
/// assert_eq!(clock.secs(), 1_750_000_000);
/// # Ok(()) }
/// ```
#[cfg(feature = "test-util")]
#[derive(Debug)]
pub struct TestClock(AtomicU64);

#[cfg(feature = "test-util")]
impl TestClock {
    /// A clock at the system's current time, in whole seconds.
    pub fn new() -> Arc<Self> {
        Self::at(SystemClock.unix_seconds())
    }

    /// A clock at `unix_secs` seconds since the Unix epoch.
    pub fn at(unix_secs: u64) -> Arc<Self> {
        Arc::new(Self(AtomicU64::new(unix_secs)))
    }

    /// The current time, in seconds since the Unix epoch.
    pub fn secs(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Moves the clock forward by `by`, in whole seconds (a fraction is dropped; the time stops
    /// at `u64::MAX` seconds rather than wrapping).
    pub fn advance(&self, by: Duration) {
        let by = by.as_secs();
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |secs| {
                Some(secs.saturating_add(by))
            });
    }

    /// Sets the clock to `unix_secs` seconds since the Unix epoch (backwards too).
    pub fn set(&self, unix_secs: u64) {
        self.0.store(unix_secs, Ordering::SeqCst);
    }
}

#[cfg(feature = "test-util")]
impl Clock for TestClock {
    /// The set time. A time beyond what `SystemTime` can hold on this platform reads as the
    /// last second of the year 9999 here; [`unix_seconds`](Clock::unix_seconds) still gives
    /// the exact value.
    fn now(&self) -> SystemTime {
        UNIX_EPOCH
            .checked_add(Duration::from_secs(self.secs()))
            .unwrap_or_else(|| UNIX_EPOCH + Duration::from_secs(253_402_300_799))
    }

    fn unix_seconds(&self) -> u64 {
        self.secs()
    }
}
