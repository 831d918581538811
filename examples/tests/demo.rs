//! The demo's flow, run for real against both simulated organisations.

use directory_sync_examples::demo::{run_demo, DemoSize};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_syncs_both_orgs_then_finds_nothing_to_do() {
    let out = tempfile::tempdir().unwrap();
    let size = DemoSize {
        users: 300,
        groups: 12,
        app_users: 40,
    };
    let runs = run_demo(size, out.path()).await.unwrap();
    assert_eq!(runs.len(), 2);
    for run in &runs {
        assert_eq!(run.users, 300, "{}", run.provider);
        let c = &run.first.counts;
        assert!(c.creates > 0, "{}: {c:?}", run.provider);
        // Two stale directory records per location are deactivated; the CSV
        // and hand-made records are never touched by a directory sync.
        assert_eq!(c.deactivations, 6, "{}: {c:?}", run.provider);
        assert_eq!(
            c.conflicts, 3,
            "{}: one unadoptable CSV record per location",
            run.provider
        );
        assert!(run.first.verify());
        assert!(
            run.second.is_empty(),
            "{}: second plan {:?}",
            run.provider,
            run.second.counts
        );
        let file = std::fs::read_dir(out.path())
            .unwrap()
            .filter_map(Result::ok)
            .find(|e| e.file_name().to_string_lossy().contains(&run.provider[..4]))
            .expect("plan file written");
        let plan =
            recipient_reconcile::Plan::from_json(&std::fs::read_to_string(file.path()).unwrap())
                .unwrap();
        assert_eq!(plan, run.first);
    }
}
