//! An injectable source of time, so that tests can expire codes and tokens without sleeping.

use std::fmt::Debug;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current wall-clock time, for the lifetimes of codes, access tokens and ID
/// tokens (`iat`, `exp`, `auth_time`).
///
/// The default is [`SystemClock`]; tests install their own with
/// [`DevIdp::with_clock`](crate::DevIdp::with_clock). This crate does not depend on
/// `tower-oidc`, so this is its own trait; it has the same shape as `tower_oidc::Clock`, and one
/// test clock type can implement both to move the provider and the app together:
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
///
/// use tower_oidc_dev_idp::{Clock, DevIdp};
///
/// #[derive(Debug)]
/// struct TestClock(AtomicU64);
///
/// impl Clock for TestClock {
///     fn now(&self) -> SystemTime {
///         UNIX_EPOCH + Duration::from_secs(self.0.load(Ordering::SeqCst))
///     }
/// }
///
/// let clock = Arc::new(TestClock(AtomicU64::new(1_700_000_000)));
/// let idp = DevIdp::new("http://127.0.0.1:3000/dev-idp").with_clock(clock.clone());
/// clock.0.fetch_add(61, Ordering::SeqCst); // codes issued before now have expired
/// # drop(idp);
/// ```
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

/// The operating system's clock, the default of every [`DevIdp`](crate::DevIdp).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}
