//! Schedules: an interval or a cron expression (in a time zone), each with a
//! fixed per-connection jitter so a thousand nightly runs spread out.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::delta;
use crate::error::{Error, Result};

/// The longest schedule interval or jitter accepted.
const MAX_SCHEDULE: Duration = Duration::from_secs(366 * 24 * 3600);

/// What a cron expression must look like, for error messages.
const CRON_HELP: &str = "write five fields (minute hour day-of-month month day-of-week), \
                         e.g. \"0 2 * * *\" for 02:00 every day";

/// When a connection runs: every interval, or at the times a cron
/// expression names (in UTC or an IANA time zone), plus a fixed
/// per-connection offset within the jitter so a thousand nightly runs do not
/// start in the same second.
///
/// ```
/// use std::time::Duration;
/// use sync_runner::Schedule;
///
/// let hourly = Schedule::every(Duration::from_secs(3600)).jitter(Duration::from_secs(300));
/// let nightly = Schedule::cron("0 2 * * *", Some("Europe/Berlin"))?.jitter(Duration::from_secs(3600));
/// assert_eq!(nightly.cron_expression(), Some("0 2 * * *"));
/// assert!(Schedule::cron("0 25 * * *", None).is_err());
///
/// // Stored as readable JSON.
/// assert_eq!(
///     serde_json::to_value(&nightly)?,
///     serde_json::json!({ "cron": "0 2 * * *", "timezone": "Europe/Berlin", "jitter_secs": 3600 })
/// );
/// assert_eq!(
///     serde_json::to_value(&hourly)?,
///     serde_json::json!({ "every_secs": 3600, "jitter_secs": 300 })
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ScheduleRepr", into = "ScheduleRepr")]
pub struct Schedule {
    cadence: Cadence,
    jitter: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Cadence {
    Every(Duration),
    /// Boxed: a parsed pattern is a few hundred bytes.
    Cron(Box<CronSpec>),
}

/// A parsed cron expression and its time zone.
#[derive(Clone)]
struct CronSpec {
    /// As written, for the stored form.
    expression: String,
    tz: Tz,
    cron: Cron,
}

impl PartialEq for CronSpec {
    fn eq(&self, other: &Self) -> bool {
        (&self.expression, self.tz) == (&other.expression, other.tz)
    }
}

impl Eq for CronSpec {}

impl fmt::Debug for CronSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} in {}", self.expression, self.tz.name())
    }
}

impl CronSpec {
    fn parse(expression: &str, timezone: Option<&str>) -> Result<CronSpec> {
        let tz = match timezone {
            None => Tz::UTC,
            Some(name) => Tz::from_str(name).map_err(|_| {
                Error::invalid(
                    "schedule.timezone",
                    format!(
                        "{name:?} is not an IANA time zone name: write one like \"Europe/Berlin\" or \"UTC\""
                    ),
                )
            })?,
        };
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(expression)
            .map_err(|e| {
                Error::invalid(
                    "schedule.cron",
                    format!("{expression:?} is not a cron expression ({e}): {CRON_HELP}"),
                )
            })?;
        let spec = CronSpec {
            expression: expression.trim().to_string(),
            tz,
            cron,
        };
        // A pattern that never matches (Feb 30) is refused now, not at the first run.
        let probe = DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap_or_default();
        spec.next_after(probe).ok_or_else(|| {
            Error::invalid(
                "schedule.cron",
                format!("{expression:?} never matches a date: {CRON_HELP}"),
            )
        })?;
        Ok(spec)
    }

    /// The first time the expression names strictly after `after`.
    fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&after.with_timezone(&self.tz), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

impl Schedule {
    /// Every `interval` (more than zero, whole seconds, under a year: checked
    /// when the connection is stored), no jitter.
    pub fn every(interval: Duration) -> Schedule {
        Schedule {
            cadence: Cadence::Every(interval),
            jitter: Duration::ZERO,
        }
    }

    /// At the times the five-field cron `expression` names (`minute hour
    /// day-of-month month day-of-week`, with `L`, `W`, `#` and `@daily`-style
    /// nicknames), in the IANA `timezone` (UTC when `None`), no jitter. A
    /// time skipped by a daylight-saving change runs once, right after it;
    /// one repeated by it runs once.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConnection`] naming `schedule.cron` or
    /// `schedule.timezone` and what to write instead.
    pub fn cron(expression: &str, timezone: Option<&str>) -> Result<Schedule> {
        Ok(Schedule {
            cadence: Cadence::Cron(Box::new(CronSpec::parse(expression, timezone)?)),
            jitter: Duration::ZERO,
        })
    }

    /// Spreads runs: each connection gets its own fixed offset in
    /// `[0, jitter)` (under a year, whole seconds).
    #[must_use]
    pub fn jitter(mut self, jitter: Duration) -> Schedule {
        self.jitter = jitter;
        self
    }

    /// The interval, for an interval schedule.
    pub fn interval(&self) -> Option<Duration> {
        match &self.cadence {
            Cadence::Every(d) => Some(*d),
            Cadence::Cron(_) => None,
        }
    }

    /// The cron expression, for a cron schedule.
    pub fn cron_expression(&self) -> Option<&str> {
        match &self.cadence {
            Cadence::Every(_) => None,
            Cadence::Cron(c) => Some(&c.expression),
        }
    }

    /// The cron expression's time zone, for a cron schedule.
    pub fn timezone(&self) -> Option<&str> {
        match &self.cadence {
            Cadence::Every(_) => None,
            Cadence::Cron(c) => Some(c.tz.name()),
        }
    }

    /// The jitter window: offsets fall in `[0, jitter_window)`.
    pub fn jitter_window(&self) -> Duration {
        self.jitter
    }

    /// The next run after one that finished at `finished`.
    ///
    /// * Interval: `finished + interval + offset`.
    /// * Cron: the first of this connection's slots (each time the expression
    ///   names, plus its offset) strictly after `finished`. A run that
    ///   finished late (a retry after failures) does not skip the next slot;
    ///   one slot is never run twice.
    pub fn next_after(&self, connection_id: &str, finished: DateTime<Utc>) -> DateTime<Utc> {
        let offset = self.offset(connection_id);
        match &self.cadence {
            Cadence::Every(d) => finished + delta(*d) + offset,
            Cadence::Cron(c) => match c.next_after(finished - offset) {
                Some(slot) => slot + offset,
                // Checked on parsing: a pattern that matched once matches
                // again within the 400-year calendar cycle.
                None => {
                    tracing::error!(connection_id, schedule = ?c, "cron expression has no next time: trying again in a day");
                    finished + TimeDelta::days(1)
                }
            },
        }
    }

    /// This connection's fixed offset within the jitter: the same on every
    /// machine, so no worker's clock or random state decides it.
    pub fn offset(&self, connection_id: &str) -> TimeDelta {
        let millis = u64::try_from(self.jitter.as_millis()).unwrap_or(u64::MAX);
        if millis == 0 {
            return TimeDelta::zero();
        }
        let digest = Sha256::digest(connection_id.as_bytes());
        let mut bytes = [0u8; 8];
        for (b, d) in bytes.iter_mut().zip(digest.iter()) {
            *b = *d;
        }
        delta(Duration::from_millis(u64::from_le_bytes(bytes) % millis))
    }

    /// Checks the bounds a stored schedule keeps; the error names the field.
    pub(crate) fn validate(&self) -> Result<()> {
        if let Cadence::Every(every) = self.cadence {
            if every.is_zero() {
                return Err(Error::invalid("schedule.every", "must be more than zero"));
            }
            check_bounds("schedule.every", every)?;
        }
        check_bounds("schedule.jitter", self.jitter)
    }
}

fn check_bounds(field: &str, d: Duration) -> Result<()> {
    if d > MAX_SCHEDULE {
        return Err(Error::invalid(field, "must be under a year"));
    }
    if d.subsec_nanos() != 0 {
        return Err(Error::invalid(field, "must be whole seconds"));
    }
    Ok(())
}

/// The stored form: `{"every_secs": 3600, "jitter_secs": 300}` or
/// `{"cron": "0 2 * * *", "timezone": "Europe/Berlin", "jitter_secs": 3600}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    every_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cron: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timezone: Option<String>,
    #[serde(default)]
    jitter_secs: u64,
}

impl From<Schedule> for ScheduleRepr {
    fn from(s: Schedule) -> Self {
        let jitter_secs = s.jitter.as_secs();
        match s.cadence {
            Cadence::Every(d) => ScheduleRepr {
                every_secs: Some(d.as_secs()),
                cron: None,
                timezone: None,
                jitter_secs,
            },
            Cadence::Cron(c) => ScheduleRepr {
                every_secs: None,
                timezone: (c.tz != Tz::UTC).then(|| c.tz.name().to_string()),
                cron: Some(c.expression.clone()),
                jitter_secs,
            },
        }
    }
}

impl TryFrom<ScheduleRepr> for Schedule {
    type Error = Error;

    fn try_from(r: ScheduleRepr) -> Result<Schedule> {
        let schedule = match (r.every_secs, r.cron) {
            (Some(secs), None) if r.timezone.is_none() => {
                Schedule::every(Duration::from_secs(secs))
            }
            (None, Some(expression)) => Schedule::cron(&expression, r.timezone.as_deref())?,
            _ => {
                return Err(Error::invalid(
                    "schedule",
                    "write either {\"every_secs\": N} or {\"cron\": \"…\"} (with an optional \"timezone\"), not both or neither",
                ))
            }
        };
        Ok(schedule.jitter(Duration::from_secs(r.jitter_secs)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn cron_without_jitter_runs_at_each_named_time() {
        let s = Schedule::cron("0 2 * * *", None).unwrap();
        assert_eq!(
            s.next_after("c", utc(2026, 1, 5, 2, 0)),
            utc(2026, 1, 6, 2, 0)
        );
        assert_eq!(
            s.next_after("c", utc(2026, 1, 5, 1, 59)),
            utc(2026, 1, 5, 2, 0)
        );
    }

    #[test]
    fn cron_in_a_time_zone_follows_daylight_saving() {
        let s = Schedule::cron("0 2 * * *", Some("Europe/Berlin")).unwrap();
        // Winter: 02:00 in Berlin is 01:00 UTC; summer: 00:00 UTC.
        assert_eq!(
            s.next_after("c", utc(2026, 1, 5, 12, 0)),
            utc(2026, 1, 6, 1, 0)
        );
        assert_eq!(
            s.next_after("c", utc(2026, 7, 5, 12, 0)),
            utc(2026, 7, 6, 0, 0)
        );
        // 2026-03-29 02:00 does not exist in Berlin: it runs once, right after the gap.
        let spring = s.next_after("c", utc(2026, 3, 28, 12, 0));
        assert_eq!(spring, utc(2026, 3, 29, 1, 0));
        assert_eq!(s.next_after("c", spring), utc(2026, 3, 30, 0, 0));
    }

    #[test]
    fn invalid_expressions_name_the_field_and_the_fix() {
        for (expr, tz, field) in [
            ("0 25 * * *", None, "schedule.cron"),
            ("", None, "schedule.cron"),
            ("0 0 2 * * *", None, "schedule.cron"),
            ("0 0 30 2 *", None, "schedule.cron"),
            ("nightly", None, "schedule.cron"),
            ("0 2 * * *", Some("Europe/Berln"), "schedule.timezone"),
        ] {
            let err = Schedule::cron(expr, tz).unwrap_err();
            let Error::InvalidConnection { field: f, problem } = &err else {
                panic!("{err}")
            };
            assert_eq!(f, field, "{expr}: {problem}");
            assert!(problem.contains("write"), "{expr}: {problem}");
        }
    }

    #[test]
    fn the_stored_form_round_trips_and_refuses_nonsense() {
        for s in [
            Schedule::every(Duration::from_secs(60)),
            Schedule::cron("*/15 * * * *", None)
                .unwrap()
                .jitter(Duration::from_secs(60)),
            Schedule::cron("@daily", Some("America/New_York")).unwrap(),
        ] {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(
                serde_json::from_str::<Schedule>(&json).unwrap(),
                s,
                "{json}"
            );
        }
        for bad in [
            r#"{"every_secs": 60, "cron": "* * * * *"}"#,
            r#"{"jitter_secs": 60}"#,
            r#"{"every_secs": 60, "timezone": "UTC"}"#,
            r#"{"cron": "* * * *"}"#,
            r#"{"cron": "* * * * *", "every": 5}"#,
        ] {
            assert!(serde_json::from_str::<Schedule>(bad).is_err(), "{bad}");
        }
        let err = serde_json::from_str::<Schedule>(r#"{"cron": "61 * * * *"}"#).unwrap_err();
        assert!(err.to_string().contains("schedule.cron"), "{err}");
    }
}
