//! The fetch rows of the figures table.

use peak_alloc::PeakAlloc;

use crate::fetch::{self, FetchFigures, OrgSize};
use crate::incremental::{self, RoundFigures, Scenario, HANDFUL};
use crate::table::{mib, secs, Row};

/// Requests in flight the providers are given in the benchmark (the Okta
/// org's concurrency limit is 75 with 20% kept free; Graph's guidance is a
/// handful of requests in flight per app).
pub const CONCURRENCY: usize = 8;

/// Requests in flight for this run: [`CONCURRENCY`], or `BENCH_CONCURRENCY`.
pub fn concurrency() -> usize {
    std::env::var("BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CONCURRENCY)
}

/// Both providers at `size`, with their second syncs (incremental).
pub async fn rows(size: OrgSize, peak: &PeakAlloc) -> Vec<Row> {
    let mut rows = Vec::new();
    let concurrency = concurrency();
    eprintln!(
        "fetch: okta, {} users at {:?} per request...",
        size.users, size.latency
    );
    let okta = fetch::okta(size, concurrency, peak).await;
    rows.extend(provider_rows(&okta));
    eprintln!(
        "fetch: azure, {} users at {:?} per request...",
        size.users, size.latency
    );
    let (azure, rounds) = fetch::azure(size, concurrency, peak).await;
    rows.extend(provider_rows(&azure));
    if let Some(delta) = rounds.iter().find(|r| r.scenario == Scenario::Unchanged) {
        rows.push(Row {
            figure: "azure second sync of an unchanged tenant by delta".into(),
            measured: format!(
                "{} requests, {}{}",
                delta.requests,
                secs(delta.wall),
                cpu(delta)
            ),
            floor: format!(
                "{} requests (users/delta, groups/delta, the app's assignments in full)",
                delta.floor.requests()
            ),
            ratio: format!(
                "{:.2}x",
                delta.requests as f64 / delta.floor.requests() as f64
            ),
            goal: "a handful of requests, well under 1 s + latency".into(),
            met: Some(
                delta.full_reason.is_none()
                    && delta.changes.is_empty()
                    && delta.requests <= 6
                    && delta.wall.as_secs_f64() < 1.0 + 6.0 * size.latency.as_secs_f64(),
            ),
        });
    }
    rows.extend(
        rounds
            .iter()
            .filter(|r| r.scenario == Scenario::OnePercent)
            .map(round_row),
    );
    eprintln!(
        "fetch: okta second syncs, {} users at {:?} per request...",
        size.users, size.latency
    );
    rows.extend(
        incremental::okta(size, concurrency)
            .await
            .iter()
            .map(round_row),
    );
    for r in &rows {
        eprintln!(
            "  {}: {} (floor {}, {})",
            r.figure, r.measured, r.floor, r.ratio
        );
    }
    rows
}

fn provider_rows(f: &FetchFigures) -> Vec<Row> {
    let req_ratio = f.requests as f64 / f.min_requests as f64;
    let time_ratio = f.wall.as_secs_f64() / f.floor.as_secs_f64();
    let mem_ratio = f.peak_bytes as f64 / f.json_bytes as f64;
    vec![
        Row {
            figure: format!(
                "{} fetch {} users: requests (token aside)",
                f.provider, f.users
            ),
            measured: f.requests.to_string(),
            floor: format!("{} (largest pages)", f.min_requests),
            ratio: format!("{req_ratio:.2}x"),
            goal: "equal".into(),
            met: Some(f.requests == f.min_requests),
        },
        Row {
            figure: format!(
                "{} fetch: wall time, {} in flight",
                f.provider, f.concurrency
            ),
            measured: format!("{} ({} 429s served)", secs(f.wall), f.throttled),
            floor: format!("{} (chain {} requests)", secs(f.floor), f.chain),
            ratio: format!("{time_ratio:.2}x"),
            goal: "<= 1.2x, no 429".into(),
            met: Some(time_ratio <= 1.2 && f.throttled == 0),
        },
        Row {
            figure: format!("{} fetch: peak heap while collecting", f.provider),
            measured: format!(
                "{} (the snapshot itself: {})",
                mib(f.peak_bytes),
                mib(f.retained_bytes)
            ),
            floor: format!("{} snapshot JSON", mib(f.json_bytes)),
            ratio: format!("{mem_ratio:.2}x"),
            goal: "< 2x".into(),
            met: Some(mem_ratio < 2.0),
        },
    ]
}

/// A second sync: requests and wall time against their floors.
fn round_row(r: &RoundFigures) -> Row {
    let what = match (r.provider, r.scenario) {
        ("okta", Scenario::Unchanged) => "okta second sync of an unchanged org".to_string(),
        (p, Scenario::Unchanged) => format!("{p} second sync of an unchanged tenant"),
        (p, Scenario::OnePercent) => format!("{p} second sync with 1% of users changed"),
    };
    let how = match (r.provider, r.mode) {
        ("okta", Some(mode)) => format!("incremental, {mode}"),
        ("okta", None) => "incremental".to_string(),
        _ => "delta".to_string(),
    };
    let round = match &r.full_reason {
        None => String::new(),
        Some(reason) => format!(", FULL: {reason}"),
    };
    let c = r.changes;
    let goal = match r.scenario {
        Scenario::Unchanged => format!(
            "a handful + the app's pages: <= {HANDFUL} + {} requests",
            r.floor.app_pages
        ),
        Scenario::OnePercent => format!("<= 2x floor: {} requests", r.request_bound()),
    };
    Row {
        figure: format!("{what} ({how})"),
        measured: format!(
            "{} requests, {}{} ({} users changed or added, {} memberships{round})",
            r.requests,
            secs(r.wall),
            cpu(r),
            c.users_changed + c.users_added,
            c.memberships_added + c.memberships_removed,
        ),
        floor: format!(
            "{} requests ({}); {} (chain {})",
            r.floor.requests(),
            r.floor.describe(),
            secs(r.wall_floor),
            r.floor.chain
        ),
        ratio: format!(
            "{:.2}x requests, {:.2}x time",
            r.requests as f64 / r.floor.requests() as f64,
            r.wall.as_secs_f64() / r.wall_floor.as_secs_f64()
        ),
        goal,
        met: Some(r.requests_met()),
    }
}

/// ` (0.31 s CPU)`, or nothing where CPU time cannot be read.
fn cpu(r: &RoundFigures) -> String {
    r.cpu
        .map(|c| format!(" ({} CPU)", secs(c)))
        .unwrap_or_default()
}
