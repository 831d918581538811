//! The transport settings every provider builder takes, under the same names
//! and with the same meaning in each: one struct, one validation, and one
//! set of setters ([`client_settings_setters!`](crate::client_settings_setters))
//! that each builder expands, so a knob cannot drift apart between
//! providers.

use std::time::Duration;

use super::client::{in_range, timeout_in_range, HttpClientBuilder};
use super::retry::RetryPolicy;
use crate::{Error, Result};

/// Transport settings shared by every provider's builder. `None` means the
/// provider's default, which its builder documents.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientSettings {
    /// Test mode: `http://` endpoints allowed (a simulated org on 127.0.0.1).
    pub allow_insecure_http: bool,
    /// Items per page for every listing (capped by each endpoint's maximum).
    pub page_size: Option<u32>,
    /// Requests in flight at once across all streams.
    pub max_concurrency: Option<usize>,
    /// Groups whose members are read at once during a snapshot.
    pub member_concurrency: Option<usize>,
    /// Retries for throttling and transient failures.
    pub retry: RetryPolicy,
    /// The time one request attempt may take.
    pub timeout: Duration,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            allow_insecure_http: false,
            page_size: None,
            max_concurrency: None,
            member_concurrency: None,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(60),
        }
    }
}

impl ClientSettings {
    /// Every setting within its range, or an
    /// [`ErrorKind::InvalidConfig`](crate::ErrorKind::InvalidConfig) error
    /// naming the setter. `max_page` is the provider's largest page and
    /// `page_note` says where that limit comes from.
    pub fn validate(&self, max_page: u32, page_note: &str) -> Result<()> {
        if let Some(n) = self.page_size.filter(|n| !(1..=max_page).contains(n)) {
            return Err(Error::config(
                "page_size",
                format!("{n} is outside 1..={max_page}, {page_note}"),
            ));
        }
        let most = HttpClientBuilder::MAX_CONCURRENCY;
        if let Some(n) = self.max_concurrency {
            in_range("max_concurrency", n, 1, most)?;
        }
        if let Some(n) = self.member_concurrency {
            in_range("member_concurrency", n, 1, most)?;
        }
        timeout_in_range("timeout", self.timeout)?;
        self.retry.validate("retry_policy")
    }
}

/// Expands, inside a provider builder's `impl` block, the setters of the
/// [`ClientSettings`] it keeps in the field named first: `allow_insecure_http`,
/// `page_size`, `max_concurrency`, `member_concurrency`, `retry_policy` and
/// `timeout`. The provider documents its defaults for the three numbers it
/// decides (page size, requests in flight, member listings at once).
///
/// ```
/// use directory_core::http::ClientSettings;
///
/// /// A provider's builder.
/// #[derive(Default)]
/// pub struct ExampleBuilder {
///     settings: ClientSettings,
/// }
///
/// impl ExampleBuilder {
///     directory_core::client_settings_setters! {
///         settings,
///         page_size: "Items per page, 1 to 500 (default 500).",
///         max_concurrency: "Requests in flight at once, 1 to 1,024 (default 8).",
///         member_concurrency: "Member listings at once, 1 to 1,024 (default 4).",
///     }
/// }
///
/// let b = ExampleBuilder::default().page_size(50).timeout(std::time::Duration::from_secs(5));
/// assert_eq!(b.settings.page_size, Some(50));
/// assert!(b.settings.validate(500, "the most the API serves").is_ok());
/// ```
#[macro_export]
macro_rules! client_settings_setters {
    (
        $field:ident,
        page_size: $page_doc:literal,
        max_concurrency: $concurrency_doc:literal,
        member_concurrency: $member_doc:literal $(,)?
    ) => {
        /// Test mode: allow `http://` endpoints (a simulated org on
        /// 127.0.0.1). Never against a real service: tokens and secrets
        /// would travel in clear text.
        pub fn allow_insecure_http(mut self, allow: bool) -> Self {
            self.$field.allow_insecure_http = allow;
            self
        }

        #[doc = $page_doc]
        pub fn page_size(mut self, n: u32) -> Self {
            self.$field.page_size = Some(n);
            self
        }

        #[doc = $concurrency_doc]
        pub fn max_concurrency(mut self, n: usize) -> Self {
            self.$field.max_concurrency = Some(n);
            self
        }

        #[doc = $member_doc]
        pub fn member_concurrency(mut self, n: usize) -> Self {
            self.$field.member_concurrency = Some(n);
            self
        }

        /// The retry policy for throttling and transient failures (checked
        /// by `RetryPolicy::validate` in `build()`).
        pub fn retry_policy(mut self, policy: $crate::http::RetryPolicy) -> Self {
            self.$field.retry = policy;
            self
        }

        /// The time one request attempt may take: 1 ms to 1 h (default 60 s).
        pub fn timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.$field.timeout = timeout;
            self
        }
    };
}

/// Expands plain builder setters inside an `impl` block: a field declared
/// `name: Option<T>` gets `fn name(self, value: impl Into<T>)` storing
/// `Some(value.into())`; any other `name: T` gets `fn name(self, value: T)`.
/// Each setter's doc comment is written at its line. Setters that do more
/// (clear another field, parse) stay hand-written.
///
/// ```
/// #[derive(Default)]
/// pub struct ExampleBuilder {
///     client_id: Option<String>,
///     verbose: bool,
/// }
///
/// impl ExampleBuilder {
///     directory_core::builder_setters! {
///         /// The app's client id.
///         client_id: Option<String>,
///         /// Log every page.
///         verbose: bool,
///     }
/// }
///
/// let b = ExampleBuilder::default().client_id("abc").verbose(true);
/// assert_eq!((b.client_id.as_deref(), b.verbose), (Some("abc"), true));
/// ```
#[macro_export]
macro_rules! builder_setters {
    () => {};
    ($(#[$doc:meta])* $name:ident: Option<$ty:ty>, $($rest:tt)*) => {
        $(#[$doc])*
        pub fn $name(mut self, value: impl Into<$ty>) -> Self {
            self.$name = Some(value.into());
            self
        }
        $crate::builder_setters!($($rest)*);
    };
    ($(#[$doc:meta])* $name:ident: $ty:ty, $($rest:tt)*) => {
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.$name = value;
            self
        }
        $crate::builder_setters!($($rest)*);
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn field_of(s: &ClientSettings) -> Option<String> {
        let e = s.validate(999, "the most Graph serves").err()?;
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        Some(e.to_string())
    }

    #[test]
    fn defaults_pass_and_each_bad_number_names_its_setter() {
        assert_eq!(field_of(&ClientSettings::default()), None);
        let cases: [(&str, ClientSettings); 5] = [
            (
                "page_size",
                ClientSettings {
                    page_size: Some(1_000),
                    ..ClientSettings::default()
                },
            ),
            (
                "page_size",
                ClientSettings {
                    page_size: Some(0),
                    ..ClientSettings::default()
                },
            ),
            (
                "max_concurrency",
                ClientSettings {
                    max_concurrency: Some(0),
                    ..ClientSettings::default()
                },
            ),
            (
                "member_concurrency",
                ClientSettings {
                    member_concurrency: Some(HttpClientBuilder::MAX_CONCURRENCY + 1),
                    ..ClientSettings::default()
                },
            ),
            (
                "timeout",
                ClientSettings {
                    timeout: Duration::ZERO,
                    ..ClientSettings::default()
                },
            ),
        ];
        for (field, settings) in cases {
            let message = field_of(&settings).unwrap_or_default();
            assert!(message.contains(field), "{field}: {message}");
        }
    }

    #[test]
    fn page_size_error_says_where_the_limit_comes_from() {
        let s = ClientSettings {
            page_size: Some(1_000),
            ..ClientSettings::default()
        };
        let message = field_of(&s).unwrap_or_default();
        assert!(
            message.contains("1..=999, the most Graph serves"),
            "{message}"
        );
    }
}
