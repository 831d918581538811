//! Small pure parsers for what servers say in headers: `Link`, `Retry-After`,
//! `X-Rate-Limit-*`. None of them panics on any input.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The target of the first `rel="next"` entry among `Link` header values
/// (RFC 8288), verbatim. Values may hold several comma-separated links, and a
/// response may carry several `Link` headers (Okta sends one per relation).
pub fn next_link<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<String> {
    values
        .into_iter()
        .flat_map(split_links)
        .find(|(_, params)| has_rel(params, "next"))
        .map(|(target, _)| target.to_string())
}

/// Splits one header value into `(target, params)` pairs. A comma inside
/// `<...>` belongs to the URL, not to the list.
fn split_links(value: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else { break };
        let target = &after[..close];
        let tail = &after[close + 1..];
        // Params run to the '<' that starts the next link, less the separator.
        let params_end = tail.find('<').unwrap_or(tail.len());
        let params = tail[..params_end].trim_end().trim_end_matches(',');
        out.push((target.trim(), params));
        rest = &tail[params_end..];
    }
    out
}

fn has_rel(params: &str, rel: &str) -> bool {
    params.split(';').any(|p| {
        let mut kv = p.splitn(2, '=');
        let key = kv.next().unwrap_or("").trim();
        let val = kv.next().unwrap_or("").trim().trim_matches('"');
        key.eq_ignore_ascii_case("rel")
            && val
                .split_ascii_whitespace()
                .any(|r| r.eq_ignore_ascii_case(rel))
    })
}

/// The longest wait any server hint is read as. A server may send any number
/// (`Retry-After: 18446744073709551615`, a reset in the year 9999); past
/// this the value only says "longer than anyone will wait", and capping it
/// here keeps every sum with it far from overflowing. The retry loop caps
/// it again, at its own deadline.
pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);

/// Parses `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
/// A date in the past means no wait; garbage means no hint; anything longer
/// than [`MAX_SERVER_WAIT`] is [`MAX_SERVER_WAIT`].
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(MAX_SERVER_WAIT));
    }
    if let Ok(secs) = v.parse::<f64>() {
        if !secs.is_finite() || secs < 0.0 {
            return None;
        }
        let capped = secs.min(MAX_SERVER_WAIT.as_secs_f64());
        return Duration::try_from_secs_f64(capped).ok();
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_SERVER_WAIT),
    )
}

/// Okta-style rate-limit headers: `X-Rate-Limit-Limit`, `-Remaining`, `-Reset`
/// (the reset is UTC epoch seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimitHeaders {
    /// Requests allowed in the current window.
    pub limit: Option<u64>,
    /// Requests left in the current window.
    pub remaining: Option<u64>,
    /// When the window resets, in UTC epoch seconds.
    pub reset: Option<u64>,
}

impl RateLimitHeaders {
    /// Reads the headers; missing or malformed values are `None`.
    pub fn parse(headers: &reqwest::header::HeaderMap) -> Self {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        Self {
            limit: num("x-rate-limit-limit"),
            remaining: num("x-rate-limit-remaining"),
            reset: num("x-rate-limit-reset"),
        }
    }

    /// How long until the window resets, measured against the server's own
    /// clock (`server_now`, from its `Date` header) so local clock skew does
    /// not matter.
    /// A reset further away than [`MAX_SERVER_WAIT`] (or past what the
    /// clock can hold) is [`MAX_SERVER_WAIT`] away.
    pub fn wait_until_reset(&self, server_now: SystemTime) -> Option<Duration> {
        let reset = self.reset?;
        let Some(at) = UNIX_EPOCH.checked_add(Duration::from_secs(reset)) else {
            return Some(MAX_SERVER_WAIT);
        };
        Some(
            at.duration_since(server_now)
                .unwrap_or(Duration::ZERO)
                .min(MAX_SERVER_WAIT),
        )
    }
}

/// The server's clock from its `Date` header, or the local clock.
pub fn server_now(headers: &reqwest::header::HeaderMap) -> SystemTime {
    headers
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .unwrap_or_else(SystemTime::now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_from_okta_style_headers() {
        let values = [
            r#"<https://acme.okta.com/api/v1/users?limit=200>; rel="self""#,
            r#"<https://acme.okta.com/api/v1/users?after=00u5&limit=200>; rel="next""#,
        ];
        assert_eq!(
            next_link(values).as_deref(),
            Some("https://acme.okta.com/api/v1/users?after=00u5&limit=200")
        );
    }

    #[test]
    fn next_link_from_one_combined_header_with_commas_in_urls() {
        let v =
            r#"<https://x.test/a?f=a,b>; rel="self", <https://x.test/a?after=1&f=a,b>; rel=next"#;
        assert_eq!(
            next_link([v]).as_deref(),
            Some("https://x.test/a?after=1&f=a,b")
        );
        assert_eq!(next_link([r#"<https://x.test/a>; rel="self""#]), None);
        assert_eq!(next_link(["garbage", "<", ">;;rel", ""]), None);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
        assert_eq!(parse_retry_after("NaN", now), None);
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
    }

    #[test]
    fn huge_waits_are_capped_whatever_their_form() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for huge in [
            "18446744073709551615",
            "1e300",
            "inf",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            let got = parse_retry_after(huge, now);
            assert!(got.is_none_or(|w| w <= MAX_SERVER_WAIT), "{huge}: {got:?}");
        }
        assert_eq!(
            parse_retry_after("18446744073709551615", now),
            Some(MAX_SERVER_WAIT)
        );
        for reset in [u64::MAX, i64::MAX as u64, 253_402_300_799] {
            let rl = RateLimitHeaders {
                reset: Some(reset),
                ..Default::default()
            };
            assert_eq!(rl.wait_until_reset(UNIX_EPOCH), Some(MAX_SERVER_WAIT));
        }
    }

    #[test]
    fn rate_limit_reset_uses_server_clock() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("x-rate-limit-limit", "600".parse().unwrap());
        h.insert("x-rate-limit-remaining", "0".parse().unwrap());
        h.insert("x-rate-limit-reset", "1700000060".parse().unwrap());
        let rl = RateLimitHeaders::parse(&h);
        assert_eq!(rl.limit, Some(600));
        let server = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(rl.wait_until_reset(server), Some(Duration::from_secs(60)));
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(s in ".*") {
            let _ = next_link([s.as_str()]);
            let _ = parse_retry_after(&s, SystemTime::now());
        }
    }
}
