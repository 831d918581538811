//! The decode rows of the figures table.

use crate::decode::{graph_typed, okta_typed, value_floor, Pages};
use crate::table::{best_of, Row};

/// Okta and Graph users pages per second, typed vs `serde_json::Value`.
pub async fn rows() -> Vec<Row> {
    let pages = Pages::generate(20).await;
    let mut rows = Vec::new();
    for (name, bodies, bytes, typed) in [
        (
            "Okta users pages (200 users)",
            &pages.okta,
            pages.okta_bytes(),
            okta_typed as fn(&[Vec<u8>]) -> usize,
        ),
        (
            "Graph users pages (999 users)",
            &pages.graph,
            pages.graph_bytes(),
            graph_typed,
        ),
    ] {
        let (t, users) = best_of(5, || typed(bodies));
        let (f, values) = best_of(5, || value_floor(bodies));
        assert_eq!(users, values, "{name}: typed decode lost users");
        let per_sec = |d: std::time::Duration| bodies.len() as f64 / d.as_secs_f64();
        let ratio = t.as_secs_f64() / f.as_secs_f64();
        rows.push(Row {
            figure: format!(
                "decode {name}: pages/s ({:.0} MB/s)",
                bytes as f64 / t.as_secs_f64() / 1e6
            ),
            measured: format!("{:.0}", per_sec(t)),
            floor: format!("{:.0} (serde_json::Value)", per_sec(f)),
            ratio: format!("{ratio:.2}x floor time"),
            goal: "<= 1x (meet or beat)".into(),
            met: Some(ratio <= 1.0),
        });
    }
    for r in &rows {
        eprintln!(
            "  {}: {} (floor {}, {})",
            r.figure, r.measured, r.floor, r.ratio
        );
    }
    rows
}
