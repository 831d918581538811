//! The conformance suite (feature `testing`): one set of checks that every
//! [`DirectoryProvider`] must pass, run against the in-memory directory and
//! against each provider over its simulated organisation.
//!
//! The checks panic with a message naming what differs, like `assert!`; call
//! them from tests.
//!
//! With `http`, one interface over every simulated organisation:
//! [`SimulatedDirectory`] (a running server: a provider on it, its ground
//! truth, request counts, [`Injection`]s of [`Fault`]s, a
//! [`Misconfiguration`], token revocation, a [`Change`] to its directory)
//! and [`SimulatorKind`] (starts one from an [`OrgSpec`]). A provider's
//! testkit implements both, and the cross-provider fault suite
//! (`examples/tests/faults`) and the benchmarks then run against it as they
//! run against Okta's and Entra's.

#[cfg(feature = "http")]
mod change;
#[cfg(feature = "http")]
mod simulator;

#[cfg(feature = "http")]
pub use change::{Change, NewUser, UserUpdate};
#[cfg(feature = "http")]
pub use simulator::{
    Fault, Injection, Misconfiguration, OrgSpec, SimStats, SimulatedDirectory, SimulatorKind,
    Target, Tuning,
};

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};

use crate::provider::{DirectoryProvider, Pages};
use crate::snapshot::{CollectOptions, Snapshot};
use crate::{AppAssignment, AssignedVia, Membership};

/// What a conformance run found, for the caller's own assertions.
#[derive(Debug, Clone, Default)]
pub struct ConformanceReport {
    /// Pages served for the users list.
    pub user_pages: usize,
    /// Pages served for the groups list.
    pub group_pages: usize,
    /// Empty pages seen anywhere.
    pub empty_pages: usize,
}

/// Runs the whole suite: every stream returns exactly `expected`'s contents,
/// in a stable order across two runs, and `Snapshot::collect` equals
/// `expected` and is closed ([`assert_closed`]). Member and assignment
/// streams are compared after the same closing a snapshot does, so they may
/// name users the users stream leaves out (build `expected` with
/// [`Snapshot::from_parts`], which closes it too). `min_user_pages` makes sure paging was exercised (configure
/// the provider's page size small enough).
pub async fn run_conformance<P: DirectoryProvider>(
    provider: &P,
    expected: &Snapshot,
    min_user_pages: usize,
) -> ConformanceReport {
    let mut report = ConformanceReport::default();
    let users = pages_of(
        provider.users(),
        "users",
        &mut report.user_pages,
        &mut report.empty_pages,
    )
    .await;
    assert!(
        report.user_pages >= min_user_pages,
        "{provider}: users came in {} pages, expected at least {min_user_pages}",
        report.user_pages
    );
    let again = pages_of(provider.users(), "users", &mut 0, &mut 0).await;
    let ids = |v: &[crate::DirectoryUser]| v.iter().map(|u| u.id.clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(&users),
        ids(&again),
        "{provider}: users order is not stable across runs"
    );
    let mut sorted = users.clone();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    assert_same("users", provider, &sorted, &expected.users, |u| {
        u.id.clone()
    });

    let mut groups = pages_of(
        provider.groups(),
        "groups",
        &mut report.group_pages,
        &mut report.empty_pages,
    )
    .await;
    groups.sort_by(|a, b| a.id.cmp(&b.id));
    assert_same("groups", provider, &groups, &expected.groups, |g| {
        g.id.clone()
    });

    let mut members: Vec<Membership> = Vec::new();
    for group in &expected.groups {
        let got = pages_of(
            provider.group_members(&group.id),
            "members",
            &mut 0,
            &mut report.empty_pages,
        )
        .await;
        members.extend(got);
    }
    let assignments: Vec<AppAssignment> = pages_of(
        provider.app_assignments(),
        "app assignments",
        &mut 0,
        &mut report.empty_pages,
    )
    .await;
    let streamed = closed_like(expected, members, assignments);
    for group in &expected.groups {
        let of = |ms: &[Membership]| -> Vec<Membership> {
            ms.iter()
                .filter(|m| m.group_id == group.id)
                .cloned()
                .collect()
        };
        assert_eq!(
            of(&streamed.memberships),
            of(&expected.memberships),
            "{provider}: members of group {} differ",
            group.id
        );
    }

    let ids: Vec<String> = expected.groups.iter().map(|g| g.id.clone()).collect();
    if let Some(pages) = provider.memberships(ids) {
        let got = pages_of(pages, "memberships", &mut 0, &mut report.empty_pages).await;
        assert_eq!(
            closed_like(expected, got, Vec::new()).memberships,
            expected.memberships,
            "{provider}: the bulk memberships stream differs from the expected memberships"
        );
    }

    assert_eq!(
        streamed.app_assignments, expected.app_assignments,
        "{provider}: app assignments differ"
    );

    let snapshot = Snapshot::collect(provider, &CollectOptions::default())
        .await
        .unwrap_or_else(|e| fail(format_args!("{provider}: snapshot collection failed: {e}")));
    assert!(
        snapshot.same_directory(expected),
        "{provider}: the collected snapshot differs from the expected directory"
    );
    assert_closed(provider, &snapshot);
    report
}

/// The streamed memberships and assignments closed against `expected`'s
/// users and groups, as [`Snapshot::collect`] closes them: a provider's raw
/// streams may name users its user list leaves out (Okta's group members
/// include deactivated users), which no snapshot holds.
fn closed_like(
    expected: &Snapshot,
    memberships: Vec<Membership>,
    assignments: Vec<AppAssignment>,
) -> Snapshot {
    Snapshot::from_parts(
        expected.provider.clone(),
        expected.users.clone(),
        expected.groups.clone(),
        memberships,
        assignments,
    )
}

/// Asserts that `snapshot` holds the invariants every snapshot must: users
/// and groups sorted by id with no id twice, memberships and assignments
/// sorted without duplicates, and closed (every membership and assignment
/// refers to a listed user, and to a listed group where it names one).
/// Names the first item that breaks them.
pub fn assert_closed(provider: &dyn std::fmt::Display, snapshot: &Snapshot) {
    for m in &snapshot.memberships {
        assert!(
            snapshot.user(&m.user_id).is_some(),
            "{provider}: membership {m:?} names a user the snapshot does not list"
        );
        assert!(
            snapshot.group(&m.group_id).is_some(),
            "{provider}: membership {m:?} names a group the snapshot does not list"
        );
    }
    for a in &snapshot.app_assignments {
        assert!(
            snapshot.user(&a.user_id).is_some(),
            "{provider}: app assignment {a:?} names a user the snapshot does not list"
        );
        if let AssignedVia::Group { group_id: Some(g) } = &a.via {
            assert!(
                snapshot.group(g).is_some(),
                "{provider}: app assignment {a:?} names a group the snapshot does not list"
            );
        }
    }
    assert!(
        snapshot.is_normalized(),
        "{provider}: the snapshot's lists are not sorted and free of duplicates"
    );
}

/// Asserts that collecting a snapshot from `provider` (set up to fail on some
/// page) returns an error and no snapshot, and that the failing stream ends
/// after its error.
pub async fn assert_failure_aborts<P: DirectoryProvider>(provider: &P) -> crate::Error {
    match Snapshot::collect(provider, &CollectOptions::default()).await {
        Ok(s) => fail(format_args!(
            "{provider}: a failure was injected but a snapshot of {} users was made",
            s.users.len()
        )),
        Err(e) => e,
    }
}

/// Asserts a page stream ends after its first error (no items after it).
pub async fn assert_stream_ends_after_error<T: Send + 'static>(mut pages: Pages<T>) {
    let mut seen_error = false;
    while let Some(page) = pages.next().await {
        assert!(!seen_error, "a page stream yielded more after an error");
        seen_error = page.is_err();
    }
    assert!(seen_error, "the page stream was expected to fail");
}

async fn pages_of<T: Send + 'static>(
    pages: Pages<T>,
    what: &str,
    count: &mut usize,
    empty: &mut usize,
) -> Vec<T> {
    let pages: Vec<Vec<T>> = pages
        .try_collect()
        .await
        .unwrap_or_else(|e| fail(format_args!("listing {what} failed: {e}")));
    *count += pages.len();
    *empty += pages.iter().filter(|p| p.is_empty()).count();
    pages.into_iter().flatten().collect()
}

/// Fails the calling test with `message`.
#[allow(clippy::panic)] // the suite reports a failed check by panicking, as `assert!` does
fn fail(message: std::fmt::Arguments<'_>) -> ! {
    panic!("{message}")
}

fn assert_same<T: PartialEq + std::fmt::Debug>(
    what: &str,
    provider: &dyn std::fmt::Display,
    got: &[T],
    want: &[T],
    id: impl Fn(&T) -> String,
) {
    let got_map: BTreeMap<String, &T> = got.iter().map(|t| (id(t), t)).collect();
    let want_map: BTreeMap<String, &T> = want.iter().map(|t| (id(t), t)).collect();
    assert_eq!(got.len(), got_map.len(), "{provider}: duplicate {what} ids");
    let missing: Vec<&String> = want_map
        .keys()
        .filter(|k| !got_map.contains_key(*k))
        .collect();
    let extra: Vec<&String> = got_map
        .keys()
        .filter(|k| !want_map.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{provider}: {what} missing {missing:?}, unexpected {extra:?}"
    );
    for (k, w) in &want_map {
        assert_eq!(got_map.get(k), Some(w), "{provider}: {what} {k} differs");
    }
}

/// Waits `latency` as a network would: to within the OS timer's precision.
///
/// For simulated servers that add latency to every request. Tokio's timer
/// wheel rounds every sleep up to the next millisecond tick, which turns
/// 20 ms into 21.3 ms on average and would be charged to the client under
/// test; a blocking-pool thread's sleep overshoots by about 0.2 ms.
#[cfg(feature = "http")]
pub async fn network_delay(latency: std::time::Duration) {
    if latency.is_zero() {
        return;
    }
    if tokio::task::spawn_blocking(move || std::thread::sleep(latency))
        .await
        .is_err()
    {
        // The blocking pool is shutting down: fall back to the timer wheel.
        tokio::time::sleep(latency).await;
    }
}

/// Everything a `tracing_subscriber::fmt` subscriber writes, kept in memory:
/// for tests that search the logs (for a secret that must not be there, for
/// the span an event ran in).
///
/// ```
/// use directory_core::testing::CapturedLogs;
/// let logs = CapturedLogs::default();
/// let subscriber = tracing_subscriber::fmt()
///     .with_writer(logs.clone())
///     .with_ansi(false)
///     .finish();
/// tracing::subscriber::with_default(subscriber, || tracing::info!("hello"));
/// assert!(logs.text().contains("hello"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// What was written so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;

    fn make_writer(&'a self) -> CapturedLogs {
        self.clone()
    }
}

/// The retry decisions [`crate::http::HttpClient`] logs, captured on the
/// current thread while this value lives: for tests that check how long the
/// client chose to wait without reading a clock.
///
/// Requests over real sockets cannot run on tokio's paused clock (it jumps
/// past the client's timeouts while a response is on its way), and a test
/// that measures wall time flakes on a loaded machine. The client's own
/// account of each wait does neither: it says the wait that was started
/// and whether it was the server's hint. Run the test on tokio's
/// current-thread runtime (`#[tokio::test]`'s default) so every task of the
/// request logs on this thread.
///
/// ```
/// use directory_core::testing::RetryLog;
/// let log = RetryLog::capture();
/// assert!(log.waits().is_empty());
/// assert!(log.give_ups().is_empty());
/// ```
#[cfg(feature = "http")]
#[derive(Debug)]
pub struct RetryLog {
    logs: CapturedLogs,
    _guard: tracing::subscriber::DefaultGuard,
}

/// One wait [`RetryLog`] saw the client start before a retry.
#[cfg(feature = "http")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryWait {
    /// The attempt that came before the wait (the first is 1).
    pub attempt: u32,
    /// How long the client waited, to the millisecond.
    pub wait: std::time::Duration,
    /// Whether the wait was the server's hint (`Retry-After`, a rate-limit
    /// reset) rather than the policy's own backoff.
    pub server_hint: bool,
}

#[cfg(feature = "http")]
impl RetryLog {
    /// Starts capturing the current thread's events (INFO and above).
    pub fn capture() -> Self {
        let logs = CapturedLogs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_writer(logs.clone())
            .with_ansi(false)
            .finish();
        Self {
            _guard: tracing::subscriber::set_default(subscriber),
            logs,
        }
    }

    /// The lines of the events whose text contains `message`, in order.
    pub fn events(&self, message: &str) -> Vec<String> {
        self.logs
            .text()
            .lines()
            .filter(|l| l.contains(message))
            .map(str::to_string)
            .collect()
    }

    /// The value of `name=value` in a captured line, if it has that field.
    pub fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
        let key = format!(" {name}=");
        let start = line.find(&key)?.checked_add(key.len())?;
        line.get(start..)?.split(' ').next()
    }

    /// Every wait started before a retry, in order.
    pub fn waits(&self) -> Vec<RetryWait> {
        self.events("waiting before retry")
            .iter()
            .map(|l| {
                let number = |name| {
                    Self::field(l, name)
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or_else(|| fail(format_args!("no {name} in {l}")))
                };
                RetryWait {
                    attempt: u32::try_from(number("attempt")).unwrap_or(u32::MAX),
                    wait: std::time::Duration::from_millis(number("wait_ms")),
                    server_hint: Self::field(l, "server_hint") == Some("true"),
                }
            })
            .collect()
    }

    /// For each request that gave up with retries left or used up, whether
    /// it was for lack of time (the next wait would have crossed the
    /// policy's deadline).
    pub fn give_ups(&self) -> Vec<bool> {
        self.events("giving up after retries")
            .iter()
            .map(|l| Self::field(l, "out_of_time") == Some("true"))
            .collect()
    }
}

/// Builds a workspace example with cargo and returns its executable, for
/// tests and benches that run it as a real process (a server to SIGKILL, a
/// second server on one database).
///
/// The build asks for the whole workspace with every feature, in the
/// profile of the running binary, so after `cargo test --workspace
/// --all-features` (which builds examples too) it is a no-op; asking for
/// one package's features instead would resolve shared dependencies'
/// features differently and rebuild half the tree. Cargo names the
/// executable in its JSON messages, so `CARGO_TARGET_DIR` is honoured.
/// What cargo set for the running test (`CARGO_MANIFEST_DIR`, `OUT_DIR`,
/// ...) is removed first: a build script watching one of them would see a
/// change and rebuild.
pub fn example_binary(example: &str) -> Result<std::path::PathBuf, String> {
    use std::process::{Command, Stdio};
    let release = std::env::current_exe()
        .map_err(|e| format!("no current executable: {e}"))?
        .ancestors()
        .any(|p| p.ends_with("release"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "--message-format=json"])
        .args(["--workspace", "--all-features", "--example", example])
        .stderr(Stdio::inherit());
    let per_target = [
        "CARGO_PKG_",
        "CARGO_BIN_",
        "CARGO_MANIFEST_",
        "CARGO_CRATE_",
    ];
    let single = ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"];
    for (var, _) in std::env::vars_os() {
        let name = var.to_string_lossy();
        if per_target.iter().any(|p| name.starts_with(p)) || single.contains(&&*name) {
            cmd.env_remove(&var);
        }
    }
    if release {
        cmd.arg("--release");
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cargo did not start: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo build of example {example} exited {}",
            out.status
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m.pointer("/target/name").and_then(|n| n.as_str()) == Some(example))
        .find_map(|m| {
            let exe = m.get("executable")?.as_str()?;
            Some(std::path::PathBuf::from(exe))
        })
        .ok_or_else(|| format!("cargo named no executable for example {example}"))
}
