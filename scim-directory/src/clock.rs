//! Where the service reads the time: the system clock, or one a test or
//! host controls.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};

/// The service's source of "now" for tenant administration and token
/// checks (when a token was issued, when a rotated token's overlap window
/// ends). [`Clock::system`] by default; [`Clock::from_fn`] lets a test move
/// time without sleeping.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    /// The system clock ([`Utc::now`]).
    pub fn system() -> Self {
        Self::from_fn(Utc::now)
    }

    /// A clock that reads the time from `now`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use chrono::{Duration, Utc};
    /// use scim_directory::Clock;
    ///
    /// let time = Arc::new(Mutex::new(Utc::now()));
    /// let t = time.clone();
    /// let clock = Clock::from_fn(move || *t.lock().unwrap());
    /// let before = clock.now();
    /// *time.lock().unwrap() += Duration::hours(1);
    /// assert_eq!(clock.now() - before, Duration::hours(1));
    /// ```
    pub fn from_fn(now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        Self(Arc::new(now))
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}
