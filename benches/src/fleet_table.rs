//! The fleet rows of the figures table (`fleet-bench`): each pass's
//! tenants a minute and users a second against the floor, worker memory,
//! the runner's database bytes per tenant and the second pass's requests.

use std::time::Duration;

use crate::fleet::{FleetFigures, PassFigures};
use crate::table::{mib, secs, Row};

/// Every row of the fleet bench.
pub fn rows(f: &FleetFigures) -> Vec<Row> {
    let s = &f.size;
    let shape = format!(
        "{} tenants ({}-{} users, {} in all), {} workers x {}",
        s.tenants, s.min_users, s.max_users, f.users, s.workers, s.concurrency
    );
    let tenants = s.tenants as i64;
    let first_ok = f.first.tenants == tenants && f.first.runs == tenants && f.first.failed == 0;
    let second_ok = f.second.tenants == tenants
        && f.second.runs == tenants
        && f.second.failed == 0
        && f.second.incremental == tenants;
    vec![
        pass_row(
            format!("fleet first pass (full), {shape}: tenants/minute"),
            &f.first,
            s.tenants,
            "every tenant once, none failed",
            first_ok,
        ),
        users_row(f),
        memory_row(f),
        db_row(f),
        pass_row(
            "fleet second pass (incremental, ~1% of users changed): tenants/minute".into(),
            &f.second,
            s.tenants,
            "every tenant once, incremental, none failed",
            second_ok,
        ),
        requests_row(&f.second),
    ]
}

fn per_minute(n: usize, d: Duration) -> f64 {
    n as f64 * 60.0 / d.as_secs_f64().max(f64::EPSILON)
}

fn cpu(p: &PassFigures) -> String {
    format!(
        "CPU: workers {}, simulated orgs {}",
        secs(p.worker_cpu),
        secs(p.orgs_cpu)
    )
}

fn pass_row(figure: String, p: &PassFigures, tenants: usize, goal: &str, met: bool) -> Row {
    Row {
        figure,
        measured: format!(
            "{:.0}/min ({} for {} runs, {} full, {} incremental; {})",
            per_minute(tenants, p.wall),
            secs(p.wall),
            p.runs,
            p.full,
            p.incremental,
            cpu(p)
        ),
        floor: format!(
            "{:.0}/min ({}: the tenants' floors over the slots)",
            per_minute(tenants, p.floor),
            secs(p.floor)
        ),
        ratio: format!(
            "{:.2}x time",
            p.wall.as_secs_f64() / p.floor.as_secs_f64().max(f64::EPSILON)
        ),
        goal: goal.into(),
        met: Some(met),
    }
}

fn users_row(f: &FleetFigures) -> Row {
    let rate = |d: Duration| f.users as f64 / d.as_secs_f64().max(f64::EPSILON);
    Row {
        figure: "fleet first pass: users/second".into(),
        measured: format!("{:.0}/s", rate(f.first.wall)),
        floor: format!("{:.0}/s", rate(f.first.floor)),
        ratio: format!(
            "{:.2}x time",
            f.first.wall.as_secs_f64() / f.first.floor.as_secs_f64().max(f64::EPSILON)
        ),
        goal: "-".into(),
        met: None,
    }
}

fn memory_row(f: &FleetFigures) -> Row {
    let peak = f.peak.iter().copied().max().unwrap_or(0);
    let idle = f.idle_rss.iter().copied().max().unwrap_or(0);
    let floor = f.size.concurrency * f.largest_snapshot_json;
    let above = peak.saturating_sub(idle) as f64;
    let each: Vec<String> = f.peak.iter().map(|b| mib(*b as usize)).collect();
    let after_first: Vec<String> = f
        .peak_after_first
        .iter()
        .map(|b| mib(*b as usize))
        .collect();
    let ratio = above / floor.max(1) as f64;
    Row {
        figure: "fleet worker peak memory (VmHWM) above idle".into(),
        measured: format!(
            "{} (peak {}, idle {}; workers {} after the first pass, {} at the end)",
            mib(above as usize),
            mib(peak as usize),
            mib(idle as usize),
            after_first.join(" / "),
            each.join(" / ")
        ),
        floor: format!(
            "{} x the largest tenant's snapshot JSON ({} users: {}) = {}",
            f.size.concurrency,
            f.largest_users,
            mib(f.largest_snapshot_json),
            mib(floor)
        ),
        ratio: format!("{ratio:.2}x"),
        goal: "<= 3x (concurrency x largest tenant, not the tenant count)".into(),
        met: Some(ratio <= 3.0),
    }
}

fn db_row(f: &FleetFigures) -> Row {
    let tenants = f.size.tenants.max(1) as i64;
    let per = f.db_bytes_first / tenants;
    Row {
        figure: "fleet database bytes per tenant (the runner's tables, indexes included)".into(),
        measured: format!(
            "{per} after the first pass ({} after the second)",
            f.db_bytes / tenants
        ),
        floor: format!("{} (the kept snapshot, gzip, on average)", f.snapshot_gz),
        ratio: format!("{:.2}x", per as f64 / f.snapshot_gz.max(1) as f64),
        goal: "-".into(),
        met: None,
    }
}

fn requests_row(p: &PassFigures) -> Row {
    Row {
        figure: "fleet second pass: requests".into(),
        measured: format!(
            "{} ({} served by the orgs, check() probes included; tokens aside)",
            p.requests, p.served
        ),
        floor: format!("{} (each tenant's second-sync floor)", p.floor_requests),
        ratio: format!("{:.2}x", p.requests as f64 / p.floor_requests.max(1) as f64),
        goal: "<= 2x floor".into(),
        met: Some(p.requests as u64 <= 2 * p.floor_requests),
    }
}
