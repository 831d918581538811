//! The figures table: each measurement beside its floor, as a ratio, with
//! the goal and whether it was met.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// What was measured.
    pub figure: String,
    /// The measurement, formatted.
    pub measured: String,
    /// The floor, formatted.
    pub floor: String,
    /// measured / floor (or floor / measured for rates), formatted.
    pub ratio: String,
    /// The goal.
    pub goal: String,
    /// Whether the goal was met (`None`: informational).
    pub met: Option<bool>,
}

/// Renders rows as a Markdown table.
pub fn render(rows: &[Row]) -> String {
    let mut out = String::from(
        "| figure | measured | floor | ratio | goal | met |\n|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            r.figure, r.measured, r.floor, r.ratio, r.goal, met
        );
    }
    out
}

/// The shortest of `runs` timings of `f` (the least disturbed run).
pub fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let out = f();
        best = best.min(start.elapsed());
        last = Some(out);
    }
    match last {
        Some(out) => (best, out),
        None => unreachable!("runs.max(1) >= 1"),
    }
}

/// `1.23 s` / `45.6 ms`.
pub fn secs(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    }
}

/// `3.4 M/s`.
pub fn rate(items: usize, d: Duration) -> String {
    format!("{:.2} M/s", items as f64 / d.as_secs_f64() / 1e6)
}

/// `123.4 MiB`.
pub fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// What machine this is: CPU model, cores, memory.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or_else(String::new, |kb| {
            format!(", {:.0} GiB", kb as f64 / 1048576.0)
        });
    format!("{model}, {cores} cores{mem}")
}

/// CPU time this process has used (user + system, every thread: the client
/// and the simulated organisation alike), from `/proc/self/stat` at Linux's
/// 100 ticks a second; `None` where that cannot be read. Unlike wall time,
/// it does not grow when other processes share the cores.
pub fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces: fields are counted after its ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}
