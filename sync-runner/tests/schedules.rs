//! Cron schedules through the runner: due times come from the injected
//! clock, each connection runs at its own jittered slot, a late run does not
//! skip or repeat a slot, and a thousand nightly connections spread out.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use common::*;
use sync_runner::{
    Clock, ManualClock, MemoryFactory, MemoryHost, MemorySecrets, MemoryStore, Runner, RunnerStore,
    Schedule,
};

fn utc(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, d, h, m, 0).unwrap()
}

fn nightly() -> Schedule {
    Schedule::cron("0 2 * * *", None)
        .unwrap()
        .jitter(Duration::from_secs(3600))
}

struct Sim {
    store: Arc<MemoryStore>,
    clock: ManualClock,
    runner: Runner,
}

/// A runner over memory parts on a manual clock standing at `start`.
fn sim(start: DateTime<Utc>, ids: &[&str]) -> Sim {
    let store = Arc::new(MemoryStore::new());
    let host = MemoryHost::new();
    let factory = MemoryFactory::new();
    factory.register("d", directory("d", 3), None);
    let clock = ManualClock::new(start);
    for id in ids {
        host.set(&format!("tenant-{id}"), host_data(vec![]));
    }
    let runner = Runner::new(
        store.clone(),
        Arc::new(host),
        Arc::new(factory),
        Arc::new(MemorySecrets::default()),
    )
    .with_clock(Arc::new(clock.clone()))
    .with_config(config());
    Sim {
        store,
        clock,
        runner,
    }
}

async fn due_at(store: &MemoryStore, id: &str) -> DateTime<Utc> {
    store
        .status(id, utc(1, 0, 0))
        .await
        .unwrap()
        .unwrap()
        .due_at
}

#[tokio::test]
async fn a_cron_connection_runs_at_its_slot_each_night_by_the_injected_clock() {
    let s = sim(utc(5, 12, 0), &["c"]);
    let c = sync_runner::Connection {
        schedule: nightly(),
        ..connection("c", "org", "d")
    };
    let offset = c.schedule.offset("c");
    assert!(offset > TimeDelta::zero() && offset < TimeDelta::hours(1));
    s.store.put_connection(c, s.clock.now()).await.unwrap();
    let worker = s.runner.worker("w");

    // A new connection runs at once; then at tomorrow's 02:00 plus its offset.
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let slot = utc(6, 2, 0) + offset;
    assert_eq!(due_at(&s.store, "c").await, slot);

    s.clock
        .advance(slot - s.clock.now() - TimeDelta::seconds(1));
    assert_eq!(
        worker.run_once().await.unwrap(),
        0,
        "not due a second early"
    );
    s.clock.advance(TimeDelta::seconds(1));
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(due_at(&s.store, "c").await, utc(7, 2, 0) + offset);
    assert_eq!(s.store.runs("c").await.unwrap().len(), 2);
}

#[test]
fn a_late_run_neither_skips_nor_repeats_a_slot() {
    let s = nightly();
    let offset = s.offset("c");
    let slot = |d| utc(d, 2, 0) + offset;
    // Finished at its slot: the next night's slot.
    assert_eq!(s.next_after("c", slot(5)), slot(6));
    // Finished a day late (a retry after failures), before tonight's slot: tonight.
    assert_eq!(s.next_after("c", utc(6, 1, 0)), slot(6));
    // Finished just after tonight's slot: tomorrow, not again tonight.
    assert_eq!(s.next_after("c", slot(6) + TimeDelta::seconds(1)), slot(7));
}

#[test]
fn a_thousand_nightly_connections_spread_over_the_jitter_window() {
    let s = nightly();
    let finished = utc(5, 3, 30);
    let mut per_minute: BTreeMap<i64, u32> = BTreeMap::new();
    for i in 0..1000 {
        let due = s.next_after(&format!("tenant-{i:04}"), finished);
        assert!(
            due >= utc(6, 2, 0) && due < utc(6, 3, 0),
            "{due} outside tomorrow's 02:00-03:00"
        );
        *per_minute
            .entry((due - utc(6, 2, 0)).num_minutes())
            .or_default() += 1;
    }
    // About 17 a minute: every minute of the hour is used and none takes a crowd.
    assert_eq!(per_minute.len(), 60, "{per_minute:?}");
    assert!(
        per_minute.values().all(|n| *n <= 40),
        "runs bunch together: {per_minute:?}"
    );
}

#[tokio::test]
async fn a_cron_schedule_is_stored_in_its_readable_form_and_checked() {
    let store = MemoryStore::new();
    let c = sync_runner::Connection {
        schedule: Schedule::cron("30 1 * * MON-FRI", Some("America/New_York"))
            .unwrap()
            .jitter(Duration::from_secs(900)),
        ..connection("c", "org", "d")
    };
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(
        json["schedule"],
        serde_json::json!({ "cron": "30 1 * * MON-FRI", "timezone": "America/New_York", "jitter_secs": 900 })
    );
    let back: sync_runner::Connection = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, c);
    store.put_connection(back, t0()).await.unwrap();

    let mut bad = json;
    bad["schedule"] = serde_json::json!({ "cron": "30 1 * * FUNDAY" });
    let err = serde_json::from_value::<sync_runner::Connection>(bad)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("schedule.cron") && err.contains("five fields"),
        "{err}"
    );

    let too_long = sync_runner::Connection {
        schedule: nightly().jitter(Duration::from_secs(400 * 86_400)),
        ..connection("c", "org", "d")
    };
    let err = store.put_connection(too_long, t0()).await.unwrap_err();
    assert!(
        matches!(&err, sync_runner::Error::InvalidConnection { field, .. } if field == "schedule.jitter"),
        "{err}"
    );
}
