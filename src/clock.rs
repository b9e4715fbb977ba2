//! An injectable source of time.
//!
//! Every expiry decision in the crate (session lifetime, login record age, ID token `exp`/`iat`,
//! JWKS refetch cooldown) asks a [`Clock`], so tests can move time without sleeping.

use std::fmt::Debug;
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
