//! What a fleet has done, read from the runner's tables (as a host's
//! dashboard would): progress while it runs and the room its tables take.

use sqlx::PgPool;

/// What the fleet has done so far.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Progress {
    /// Connections with at least one run.
    pub done: i64,
    /// Connections leased now.
    pub running: i64,
    /// Connections with a failed run.
    pub failed: i64,
    /// Plans held for review.
    pub held: i64,
    /// Requests to the IdPs, over every run.
    pub requests: i64,
    /// Operations in applied plans.
    pub applied_ops: i64,
}

/// The fleet's progress, over runs numbered above `after_seq` (0: all).
pub async fn progress(pool: &PgPool, after_seq: i64) -> sqlx::Result<Progress> {
    let row: (i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT \
           (SELECT count(DISTINCT connection_id) FROM runner_runs WHERE seq > $1), \
           (SELECT count(*) FROM runner_connections WHERE lease_expires_at > now()), \
           (SELECT count(DISTINCT connection_id) FROM runner_runs \
              WHERE seq > $1 AND outcome ? 'failed'), \
           (SELECT count(*) FROM runner_held_plans), \
           (SELECT coalesce(sum(requests), 0)::bigint FROM runner_runs WHERE seq > $1), \
           (SELECT coalesce(sum(creates + updates + reactivations + deactivations), 0)::bigint \
              FROM runner_runs WHERE seq > $1 AND outcome ? 'applied')",
    )
    .bind(after_seq)
    .fetch_one(pool)
    .await?;
    Ok(Progress {
        done: row.0,
        running: row.1,
        failed: row.2,
        held: row.3,
        requests: row.4,
        applied_ops: row.5,
    })
}

/// Bytes the runner's tables take in the current schema, with their
/// indexes and TOAST (`pg_total_relation_size`).
pub async fn runner_bytes(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname LIKE 'runner_%'",
    )
    .fetch_one(pool)
    .await
}

/// The average kept snapshot's size (gzip-compressed), in bytes.
pub async fn average_snapshot_bytes(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT coalesce(avg(octet_length(snapshot)), 0)::bigint FROM runner_saved_syncs",
    )
    .fetch_one(pool)
    .await
}
