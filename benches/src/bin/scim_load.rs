//! Two `scim_server` processes on one PostgreSQL database under Okta's and
//! Entra's request mix for 50 tenants; prints throughput and latency per
//! tenant beside issue 16's goals and every correctness finding.
//!
//! `DATABASE_URL='postgres://postgres@localhost/test?host=/var/run/postgresql' cargo run --release -p directory-sync-benches --bin scim-load`
//! (PostgreSQL over its Unix socket, as the README's figures were measured;
//! a `@127.0.0.1:5432` URL measures TCP with TLS; `SCIM_LOAD_SMALL=1` for 4 tenants, `SCIM_LOAD_PACED_ONLY=1` for the
//! paced run alone, as when profiling it). It runs the traffic twice, each on
//! a fresh schema and fresh servers: back to back (what the servers can
//! take at most), then paced at the goal's 25 requests a second per tenant
//! (whether they sustain it, with latencies counted from when each request
//! was due). Exits 1 on any finding (lost or duplicated resource, 5xx, a
//! contended userName without exactly one 201); the goals (at least 25
//! requests a second per tenant, p99 under 100 ms) are printed as met or
//! missed, and mean something in release only.

use std::process::ExitCode;
use std::time::Duration;

use directory_sync_benches::scim_load::{run, LoadConfig, LoadReport};
use directory_sync_benches::table::machine;

const GOAL_RPS: f64 = 25.0;
const GOAL_P99: Duration = Duration::from_millis(100);

fn main() -> ExitCode {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("set DATABASE_URL to a PostgreSQL server (see scim-directory/README.md)");
        return ExitCode::from(2);
    };
    let saturate = match std::env::var("SCIM_LOAD_SMALL").is_ok_and(|v| v == "1") {
        true => LoadConfig::small(url),
        false => LoadConfig::issue(url),
    };
    // The same traffic again, each tenant's clients paced at the goal's
    // rate, on a fresh schema and fresh servers, without the imports.
    let paced = LoadConfig {
        pace: Some(GOAL_RPS),
        import_sizes: Vec::new(),
        ..saturate.clone()
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("scim-load could not start its runtime: {e}");
            return ExitCode::from(2);
        }
    };
    println!("machine: {}", machine());
    let mut clean = true;
    let runs = match std::env::var("SCIM_LOAD_PACED_ONLY").is_ok_and(|v| v == "1") {
        true => vec![paced],
        false => vec![saturate, paced],
    };
    for config in runs {
        let report = match runtime.block_on(run(&config)) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("scim-load could not run: {e}");
                return ExitCode::from(2);
            }
        };
        print(&config, &report);
        clean &= report.problems.is_empty();
    }
    match clean {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

/// How the servers reach PostgreSQL, as `DATABASE_URL` says (never its
/// password): its Unix socket (a `host=/dir` parameter), or TCP.
fn transport(url: &str) -> String {
    let Ok(url) = url::Url::parse(url) else {
        return "DATABASE_URL unreadable".into();
    };
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    match param("host") {
        Some(dir) if dir.starts_with('/') => format!("over its Unix socket in {dir}"),
        _ => format!(
            "over TCP to {}:{}, sslmode={}",
            url.host_str().unwrap_or("localhost"),
            url.port().unwrap_or(5432),
            param("sslmode").unwrap_or_else(|| "prefer".into())
        ),
    }
}

fn print(config: &LoadConfig, r: &LoadReport) {
    let pace = match config.pace {
        Some(rate) => format!(
            "paced: each tenant's clients offer {rate} requests a second together, a latency counts from when its request was due"
        ),
        None => "back to back: each client sends as soon as it has its answer".into(),
    };
    let connections = match config.db_connections {
        Some(n) => format!("{n} connections each"),
        None => "the store's default connections each".into(),
    };
    println!(
        "\n## {} tenants x (Okta + Entra client, {} users and {} groups each, {} contended userNames), 2 servers ({connections}), 1 PostgreSQL ({}); {pace}",
        config.tenants,
        config.users_per_client,
        config.groups_per_client,
        config.contended_per_tenant,
        transport(&config.database_url),
    );
    println!("\n| tenant | requests | req/s | p50 | p99 |\n|---|---:|---:|---:|---:|");
    for t in &r.tenants {
        println!(
            "| {} | {} | {:.1} | {} | {} |",
            t.tenant,
            t.requests,
            t.rps,
            ms(t.p50),
            ms(t.p99)
        );
    }
    let mut rps: Vec<f64> = r.tenants.iter().map(|t| t.rps).collect();
    rps.sort_by(f64::total_cmp);
    let worst_rps = rps.first().copied().unwrap_or_default();
    let worst_p99 = r.tenants.iter().map(|t| t.p99).max().unwrap_or_default();
    println!(
        "\naggregate: {} requests in {:.2} s = {:.0} req/s; p50 {}, p99 {}",
        r.requests,
        r.elapsed.as_secs_f64(),
        r.rps(),
        ms(r.p50),
        ms(r.p99)
    );
    println!(
        "per tenant: slowest {worst_rps:.1} req/s (goal >= {GOAL_RPS}: {}), worst p99 {} (goal < {}: {})",
        met(worst_rps >= GOAL_RPS),
        ms(worst_p99),
        ms(GOAL_P99),
        met(worst_p99 < GOAL_P99)
    );
    let (users, groups, members) = r.verified;
    println!(
        "verified: {users} users, {groups} groups, {members} memberships as the clients were told; \
         contended userNames: {} of {} without exactly one 201",
        r.contended_failures, r.contended
    );
    let mib = |b: Option<u64>| match b {
        Some(b) => format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
        None => "unknown (not Linux)".into(),
    };
    println!(
        "server memory: peak RSS {} after the load",
        mib(r.peak_rss_after_load)
    );
    for i in &r.imports {
        println!(
            "  after importing a {}-user tenant ({} users in 200-user pages, {:.1} s): peak RSS {}",
            i.users,
            i.read,
            i.took.as_secs_f64(),
            mib(i.peak_rss)
        );
    }
    let peaks: Vec<u64> = r.imports.iter().filter_map(|i| i.peak_rss).collect();
    if let (Some(first), Some(last)) = (peaks.first(), peaks.last()) {
        println!(
            "  largest tenant's import vs smallest's: {:.2}x (goal: flat in tenant size, within 1.25x: {})",
            *last as f64 / (*first).max(1) as f64,
            met(*last as f64 <= *first as f64 * 1.25)
        );
    }
    println!("findings: {}", r.problems.len());
    for p in r.problems.iter().take(30) {
        println!("  {p}");
    }
}
