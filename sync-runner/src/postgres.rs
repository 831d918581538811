//! `PgStore`: the store in PostgreSQL (feature `postgres`), the one
//! coordinator workers on any number of machines share.
//!
//! Built on sqlx (pure Rust, rustls, tokio) with runtime-checked queries
//! (`sqlx::query`, never the macros), so building needs no database: the
//! same driver and form as scim-directory's PostgreSQL store.
//!
//! * **Migrations ship in the crate** (`migrations/postgres/NNNN_*.sql`,
//!   compiled in) and [`PgStore::connect`] applies the missing ones in one
//!   transaction under an advisory lock, so workers starting together apply
//!   each once. Applied versions are in `runner_migrations`.
//! * **Tables.** `runner_connections` (one row per connection: the
//!   [`Connection`] as `jsonb`, its due time, the lease, failures in a row,
//!   the last applied hash), `runner_saved_syncs` (the compressed snapshot
//!   as `bytea` and the sync state as text), `runner_held_plans` and
//!   `runner_runs` (the history). A tenant costs its snapshot (gzip, a few
//!   KB for hundreds of users) plus a few hundred bytes per row.
//! * **Claims.** One transaction selects due, unleased connections whose
//!   org key nobody leases, one per org key, earliest due first, `FOR
//!   UPDATE SKIP LOCKED` (two claimers never wait on each other's rows);
//!   then, per candidate, it takes a transaction-scoped advisory lock on the
//!   org key's hash (`pg_try_advisory_xact_lock`, skipping a key another
//!   claimer is deciding on) and checks again, in a new statement and so a
//!   new snapshot, that no other connection on the key is leased. A claimer
//!   that gets the lock after another committed sees that one's lease, so
//!   two claimers never both lease one org key.
//! * **Fencing.** A claim increments the row's `lease_token`; heartbeats,
//!   releases and completions are `UPDATE … WHERE lease_token = $token AND
//!   worker_id = $worker`, so a worker whose lease was taken over writes
//!   nothing, whatever the clocks say. A completion writes the run, the
//!   saved sync, the held plan, the due time and the release in one
//!   transaction.
//! * **Whose clock.** Lease expiry and due times are judged by the `now`
//!   the caller passes, i.e. the runner's injected [`Clock`](crate::Clock),
//!   as [`MemoryStore`](crate::MemoryStore) does, not by the database's
//!   `now()`: due times are computed from that clock (`next_after`,
//!   backoff), so judging leases by another clock would mix two; and tests
//!   (the conformance suite, a `ManualClock`) move time by hand. A
//!   completion is judged at its run's `finished_at`. What this asks of a
//!   deployment: the workers' clocks agree to well within a lease (NTP
//!   keeps them within milliseconds; leases are minutes). The fencing token
//!   does not depend on clocks at all.
//! * **Precision.** PostgreSQL keeps timestamps to the microsecond: times
//!   read back (leases, runs) are the ones written, rounded to it.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{Postgres, Row, Transaction};

use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::store::{
    Claim, Completion, ConnectionStatus, HeldChange, HeldPlan, Lease, OperationCounts, RunKind,
    RunOutcome, RunRecord, RunnerStore, SavedSync,
};

/// The schema migrations, in order: (version, name, SQL).
const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "init",
    include_str!("../migrations/postgres/0001_init.sql"),
)];

/// The advisory lock key of an org key: its hash, within this schema (so
/// stores in two schemas of one database do not contend).
const ORG_LOCK: &str = "hashtextextended(current_schema() || ':sync-runner:org:' || $1, 0)";

/// A [`RunnerStore`] in PostgreSQL, shared by any number of workers in any
/// number of processes. Cheap to clone (a pool handle).
///
/// Each of a host's machines runs the same:
///
/// ```no_run
/// # use std::sync::Arc;
/// # use sync_runner::{Host, PgStore, ProviderFactory, Runner, SecretResolver};
/// # async fn worker(
/// #     host: Arc<dyn Host>,
/// #     factory: Arc<dyn ProviderFactory>,
/// #     secrets: Arc<dyn SecretResolver>,
/// # ) -> Result<(), sync_runner::Error> {
/// // Applies the missing migrations (once, whoever starts first).
/// let store = PgStore::connect("postgres://runner@db.internal:5432/app").await?;
/// let runner = Runner::new(Arc::new(store), host, factory, secrets);
/// let (_stop, stopped) = tokio::sync::watch::channel(false); // flipped on SIGTERM
/// runner.worker("machine-1").run(stopped).await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PgStore")
    }
}

fn db(e: impl fmt::Display) -> Error {
    Error::Store(e.to_string())
}

fn corrupt(connection_id: &str, what: &str, e: impl fmt::Display) -> Error {
    Error::Corrupt {
        connection_id: connection_id.to_string(),
        problem: format!("{what}: {e}"),
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn token_param(lease: &Lease) -> Result<i64> {
    i64::try_from(lease.token).map_err(|_| Error::LeaseLost(lease.connection_id.clone()))
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`) with a pool of up
    /// to 10 connections and applies the missing migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url).map_err(db)?;
        Self::connect_with(options, PgPoolOptions::new().max_connections(10)).await
    }

    /// Like [`PgStore::connect`], with the tables in the PostgreSQL schema
    /// `schema` (created if missing): several runners, or test runs, in one
    /// database. `schema` is 1 to 63 of `a-z 0-9 _`.
    pub async fn connect_in_schema(url: &str, schema: &str) -> Result<Self> {
        check_schema_name(schema)?;
        let options = PgConnectOptions::from_str(url).map_err(db)?;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(db)?;
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .execute(&admin)
            .await
            .map_err(db)?;
        admin.close().await;
        let options = options.options([("search_path", schema)]);
        Self::connect_with(options, PgPoolOptions::new().max_connections(10)).await
    }

    /// Connects with the given options and pool settings and applies the
    /// missing migrations.
    pub async fn connect_with(options: PgConnectOptions, pool: PgPoolOptions) -> Result<Self> {
        let pool = pool.connect_with(options).await.map_err(db)?;
        migrate(&pool).await?;
        Ok(Self { pool })
    }

    /// The connection pool (to share it, or to close it).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn check_schema_name(schema: &str) -> Result<()> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::Store(format!(
            "schema name `{schema}`: use 1 to 63 characters from a-z, 0-9 and `_`"
        )))
    }
}

/// Applies the migrations not yet recorded, in one transaction holding an
/// advisory lock, so concurrent starts apply each exactly once.
async fn migrate(pool: &PgPool) -> Result<()> {
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtext('sync-runner:migrate:' || current_schema()))",
    )
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS runner_migrations (version bigint PRIMARY KEY, \
         name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM runner_migrations")
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    for (version, name, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        sqlx::raw_sql(sql)
            .execute(&mut *tx)
            .await
            .map_err(|e| Error::Store(format!("migration {version} ({name}): {e}")))?;
        sqlx::query("INSERT INTO runner_migrations (version, name) VALUES ($1, $2)")
            .bind(version)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    tx.commit().await.map_err(db)
}

/// Whether a connection other than `except` on `org_key` is leased at
/// `now`. Run after the org key's advisory lock is held: a statement of
/// its own, so it sees every claim committed before the lock was granted.
async fn org_key_leased(
    tx: &mut Transaction<'_, Postgres>,
    org_key: &str,
    except: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM runner_connections \
         WHERE org_key = $1 AND lease_expires_at > $2 AND id <> $3)",
    )
    .bind(org_key)
    .bind(now)
    .bind(except)
    .fetch_one(&mut **tx)
    .await
    .map_err(db)
}

/// Leases a row this transaction has locked and found free; `None` if it
/// turned out leased after all.
async fn take_lease(
    tx: &mut Transaction<'_, Postgres>,
    id: &str,
    worker_id: &str,
    now: DateTime<Utc>,
    lease_for: TimeDelta,
) -> Result<Option<Claim>> {
    let row = sqlx::query(
        "UPDATE runner_connections \
         SET worker_id = $2, lease_token = lease_token + 1, lease_expires_at = $3 \
         WHERE id = $1 AND (lease_expires_at IS NULL OR lease_expires_at <= $4) \
         RETURNING connection, lease_token, lease_expires_at, consecutive_failures",
    )
    .bind(id)
    .bind(worker_id)
    .bind(now + lease_for)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let Json(connection): Json<Connection> = row
        .try_get("connection")
        .map_err(|e| corrupt(id, "the connection", e))?;
    let token: i64 = row.try_get("lease_token").map_err(db)?;
    let failures: i32 = row.try_get("consecutive_failures").map_err(db)?;
    Ok(Some(Claim {
        connection,
        lease: Lease {
            connection_id: id.to_string(),
            worker_id: worker_id.to_string(),
            token: to_u64(token),
            expires_at: row.try_get("lease_expires_at").map_err(db)?,
        },
        consecutive_failures: u32::try_from(failures).unwrap_or(0),
    }))
}

fn held_row(row: &PgRow) -> Result<HeldPlan> {
    let connection_id: String = row.try_get("connection_id").map_err(db)?;
    let plan = row
        .try_get::<Json<recipient_reconcile::Plan>, _>("plan")
        .map_err(|e| corrupt(&connection_id, "the held plan", e))?
        .0;
    Ok(HeldPlan {
        plan,
        safety: row.try_get("safety").map_err(db)?,
        held_at: row.try_get("held_at").map_err(db)?,
        connection_id,
    })
}

fn run_row(row: &PgRow) -> Result<RunRecord> {
    let connection_id: String = row.try_get("connection_id").map_err(db)?;
    let Json(kind): Json<RunKind> = row
        .try_get("kind")
        .map_err(|e| corrupt(&connection_id, "a run's kind", e))?;
    let Json(outcome): Json<RunOutcome> = row
        .try_get("outcome")
        .map_err(|e| corrupt(&connection_id, "a run's outcome", e))?;
    let count = |name: &str| row.try_get::<i64, _>(name).map(to_u64).map_err(db);
    Ok(RunRecord {
        worker_id: row.try_get("worker_id").map_err(db)?,
        started_at: row.try_get("started_at").map_err(db)?,
        finished_at: row.try_get("finished_at").map_err(db)?,
        kind,
        requests: row
            .try_get::<Option<i64>, _>("requests")
            .map_err(db)?
            .map(to_u64),
        counts: OperationCounts {
            creates: count("creates")?,
            updates: count("updates")?,
            reactivations: count("reactivations")?,
            deactivations: count("deactivations")?,
        },
        outcome,
        connection_id,
    })
}

/// Writes what a completion keeps besides the connection row.
async fn write_completion(
    tx: &mut Transaction<'_, Postgres>,
    id: &str,
    completion: Completion,
) -> Result<()> {
    if let Some(saved) = &completion.saved {
        sqlx::query(
            "INSERT INTO runner_saved_syncs (connection_id, snapshot, state) VALUES ($1, $2, $3) \
             ON CONFLICT (connection_id) DO UPDATE SET snapshot = $2, state = $3",
        )
        .bind(id)
        .bind(&saved.snapshot)
        .bind(&saved.state)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    }
    match &completion.held {
        HeldChange::Keep => {}
        HeldChange::Hold(held) => {
            sqlx::query(
                "INSERT INTO runner_held_plans (connection_id, plan, safety, held_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (connection_id) \
                 DO UPDATE SET plan = $2, safety = $3, held_at = $4",
            )
            .bind(id)
            .bind(Json(&held.plan))
            .bind(&held.safety)
            .bind(held.held_at)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
        }
        HeldChange::Clear => {
            sqlx::query("DELETE FROM runner_held_plans WHERE connection_id = $1")
                .bind(id)
                .execute(&mut **tx)
                .await
                .map_err(db)?;
        }
    }
    let run = &completion.run;
    sqlx::query(
        "INSERT INTO runner_runs (connection_id, worker_id, started_at, finished_at, kind, \
         requests, creates, updates, reactivations, deactivations, outcome) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id)
    .bind(&run.worker_id)
    .bind(run.started_at)
    .bind(run.finished_at)
    .bind(Json(&run.kind))
    .bind(run.requests.map(to_i64))
    .bind(to_i64(run.counts.creates))
    .bind(to_i64(run.counts.updates))
    .bind(to_i64(run.counts.reactivations))
    .bind(to_i64(run.counts.deactivations))
    .bind(Json(&run.outcome))
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

#[async_trait]
impl RunnerStore for PgStore {
    async fn put_connection(&self, connection: Connection, now: DateTime<Utc>) -> Result<()> {
        connection.validate()?;
        sqlx::query(
            "INSERT INTO runner_connections (id, org_key, enabled, connection, due_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE \
             SET org_key = $2, enabled = $3, connection = $4",
        )
        .bind(&connection.id)
        .bind(&connection.idp_org_key)
        .bind(connection.enabled)
        .bind(Json(&connection))
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn connection(&self, id: &str) -> Result<Option<Connection>> {
        let found: Option<Json<Connection>> =
            sqlx::query_scalar("SELECT connection FROM runner_connections WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| match e {
                    sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                        corrupt(id, "the connection", e)
                    }
                    e => db(e),
                })?;
        Ok(found.map(|Json(c)| c))
    }

    async fn status(&self, id: &str, now: DateTime<Utc>) -> Result<Option<ConnectionStatus>> {
        let row = sqlx::query(
            "SELECT c.due_at, c.worker_id, c.lease_token, c.lease_expires_at, \
             c.consecutive_failures, c.last_applied_hash, \
             EXISTS (SELECT 1 FROM runner_held_plans h WHERE h.connection_id = c.id) AS held \
             FROM runner_connections c WHERE c.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let worker: Option<String> = row.try_get("worker_id").map_err(db)?;
        let expires: Option<DateTime<Utc>> = row.try_get("lease_expires_at").map_err(db)?;
        let token: i64 = row.try_get("lease_token").map_err(db)?;
        let lease = match (worker, expires) {
            (Some(worker_id), Some(expires_at)) if expires_at > now => Some(Lease {
                connection_id: id.to_string(),
                worker_id,
                token: to_u64(token),
                expires_at,
            }),
            _ => None,
        };
        let failures: i32 = row.try_get("consecutive_failures").map_err(db)?;
        Ok(Some(ConnectionStatus {
            due_at: row.try_get("due_at").map_err(db)?,
            lease,
            consecutive_failures: u32::try_from(failures).unwrap_or(0),
            last_applied_hash: row.try_get("last_applied_hash").map_err(db)?,
            held: row.try_get("held").map_err(db)?,
        }))
    }

    async fn connection_ids(&self) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT id FROM runner_connections ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(db)
    }

    async fn remove_connection(&self, id: &str) -> Result<bool> {
        // The saved sync, held plan and runs go with it (ON DELETE CASCADE).
        let done = sqlx::query("DELETE FROM runner_connections WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn claim_due(
        &self,
        worker_id: &str,
        now: DateTime<Utc>,
        lease_for: TimeDelta,
        limit: usize,
    ) -> Result<Vec<Claim>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin().await.map_err(db)?;
        // One candidate per free org key (its earliest due connection), then
        // the earliest of those, skipping rows another claimer has locked.
        // The outer conditions are checked again on the latest row version
        // when the row is locked.
        let candidates: Vec<(String, String)> = sqlx::query_as(
            "SELECT r.id, r.org_key FROM runner_connections r \
             WHERE r.id IN ( \
                 SELECT DISTINCT ON (c.org_key) c.id FROM runner_connections c \
                 WHERE c.enabled AND c.due_at <= $1 \
                   AND (c.lease_expires_at IS NULL OR c.lease_expires_at <= $1) \
                   AND NOT EXISTS (SELECT 1 FROM runner_connections o \
                                   WHERE o.org_key = c.org_key AND o.lease_expires_at > $1) \
                 ORDER BY c.org_key, c.due_at, c.id) \
               AND r.enabled AND r.due_at <= $1 \
               AND (r.lease_expires_at IS NULL OR r.lease_expires_at <= $1) \
             ORDER BY r.due_at, r.id \
             LIMIT $2 \
             FOR UPDATE OF r SKIP LOCKED",
        )
        .bind(now)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut taken: BTreeSet<String> = BTreeSet::new();
        let mut claims = Vec::new();
        for (id, org_key) in candidates {
            if taken.contains(&org_key) {
                continue;
            }
            // Another claimer deciding on this key now: leave it to them.
            let locked: bool =
                sqlx::query_scalar(&format!("SELECT pg_try_advisory_xact_lock({ORG_LOCK})"))
                    .bind(&org_key)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?;
            if !locked || org_key_leased(&mut tx, &org_key, &id, now).await? {
                continue;
            }
            if let Some(claim) = take_lease(&mut tx, &id, worker_id, now, lease_for).await? {
                taken.insert(org_key);
                claims.push(claim);
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(claims)
    }

    async fn claim(
        &self,
        connection_id: &str,
        worker_id: &str,
        now: DateTime<Utc>,
        lease_for: TimeDelta,
    ) -> Result<Claim> {
        let busy = || Error::Busy(connection_id.to_string());
        let mut tx = self.pool.begin().await.map_err(db)?;
        let row: Option<(String, Option<DateTime<Utc>>)> = sqlx::query_as(
            "SELECT org_key, lease_expires_at FROM runner_connections WHERE id = $1 FOR UPDATE",
        )
        .bind(connection_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some((org_key, expires)) = row else {
            return Err(Error::UnknownConnection(connection_id.to_string()));
        };
        if expires.is_some_and(|e| e > now) {
            return Err(busy());
        }
        // Waits for a claimer deciding on this key; then sees its lease.
        sqlx::query(&format!("SELECT pg_advisory_xact_lock({ORG_LOCK})"))
            .bind(&org_key)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if org_key_leased(&mut tx, &org_key, connection_id, now).await? {
            return Err(busy());
        }
        let claim = take_lease(&mut tx, connection_id, worker_id, now, lease_for)
            .await?
            .ok_or_else(busy)?;
        tx.commit().await.map_err(db)?;
        Ok(claim)
    }

    async fn heartbeat(
        &self,
        lease: &Lease,
        now: DateTime<Utc>,
        lease_for: TimeDelta,
    ) -> Result<Lease> {
        let expires_at: Option<DateTime<Utc>> = sqlx::query_scalar(
            "UPDATE runner_connections SET lease_expires_at = $4 \
             WHERE id = $1 AND lease_token = $2 AND worker_id = $3 AND lease_expires_at > $5 \
             RETURNING lease_expires_at",
        )
        .bind(&lease.connection_id)
        .bind(token_param(lease)?)
        .bind(&lease.worker_id)
        .bind(now + lease_for)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        let expires_at = expires_at.ok_or_else(|| Error::LeaseLost(lease.connection_id.clone()))?;
        Ok(Lease {
            expires_at,
            ..lease.clone()
        })
    }

    async fn release(&self, lease: &Lease) -> Result<()> {
        sqlx::query(
            "UPDATE runner_connections SET worker_id = NULL, lease_expires_at = NULL \
             WHERE id = $1 AND lease_token = $2",
        )
        .bind(&lease.connection_id)
        .bind(token_param(lease)?)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn complete(&self, lease: &Lease, completion: Completion) -> Result<()> {
        let id = lease.connection_id.as_str();
        let mut tx = self.pool.begin().await.map_err(db)?;
        let released = sqlx::query(
            "UPDATE runner_connections SET worker_id = NULL, lease_expires_at = NULL, \
             due_at = COALESCE($4, due_at), \
             consecutive_failures = COALESCE($5, consecutive_failures), \
             last_applied_hash = COALESCE($6, last_applied_hash) \
             WHERE id = $1 AND lease_token = $2 AND worker_id = $3 AND lease_expires_at > $7",
        )
        .bind(id)
        .bind(token_param(lease)?)
        .bind(&lease.worker_id)
        .bind(completion.next_due)
        .bind(
            completion
                .consecutive_failures
                .map(|n| i32::try_from(n).unwrap_or(i32::MAX)),
        )
        .bind(&completion.applied_hash)
        .bind(completion.run.finished_at)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if released.rows_affected() != 1 {
            // Dropping the transaction rolls it back: nothing is written.
            return Err(Error::LeaseLost(id.to_string()));
        }
        write_completion(&mut tx, id, completion).await?;
        tx.commit().await.map_err(db)
    }

    async fn saved_sync(&self, connection_id: &str) -> Result<Option<SavedSync>> {
        let row: Option<(Vec<u8>, String)> = sqlx::query_as(
            "SELECT snapshot, state FROM runner_saved_syncs WHERE connection_id = $1",
        )
        .bind(connection_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(row.map(|(snapshot, state)| SavedSync { snapshot, state }))
    }

    async fn held_plan(&self, connection_id: &str) -> Result<Option<HeldPlan>> {
        let row = sqlx::query(
            "SELECT connection_id, plan, safety, held_at FROM runner_held_plans \
             WHERE connection_id = $1",
        )
        .bind(connection_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(held_row).transpose()
    }

    async fn held_plans(&self) -> Result<Vec<HeldPlan>> {
        let rows = sqlx::query(
            "SELECT connection_id, plan, safety, held_at FROM runner_held_plans \
             ORDER BY connection_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(held_row).collect()
    }

    async fn runs(&self, connection_id: &str) -> Result<Vec<RunRecord>> {
        let rows = sqlx::query(
            "SELECT connection_id, worker_id, started_at, finished_at, kind, requests, creates, \
             updates, reactivations, deactivations, outcome FROM runner_runs \
             WHERE connection_id = $1 ORDER BY seq",
        )
        .bind(connection_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(run_row).collect()
    }
}
