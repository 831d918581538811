//! The store conformance suite against `MemoryStore`.

#[tokio::test]
async fn memory_store_keeps_every_store_guarantee() {
    sync_runner::testing::store_conformance(|| async { sync_runner::MemoryStore::new() }).await;
}
