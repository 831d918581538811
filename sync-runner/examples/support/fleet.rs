//! What a host's worker process holds, shared by the `sync_fleet` example
//! and the multi-process test: the host's records and apply log in
//! PostgreSQL, secrets handed over by name, and a worker process that runs
//! until its stdin closes.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use directory_core::SecretString;
use recipient_reconcile::{HostData, HostLocation, Location, Plan, Recipient};
use sqlx::types::Json;
use sqlx::PgPool;
use sync_runner::{
    ApplyOutcome, Host, HostError, PgStore, Runner, RunnerConfig, SecretError, SecretErrorKind,
    SecretResolver,
};

use super::providers::HostFactory;

/// The host's tables: records per tenant, the plan hashes applied (once per
/// tenant and hash) and a log of every apply call.
pub const HOST_TABLES: &str = "
CREATE TABLE IF NOT EXISTS host_records (tenant_id text PRIMARY KEY, data jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS host_applied (tenant_id text NOT NULL, plan_hash text NOT NULL,
    PRIMARY KEY (tenant_id, plan_hash));
CREATE TABLE IF NOT EXISTS host_apply_log (seq bigserial PRIMARY KEY, tenant_id text NOT NULL,
    plan_hash text NOT NULL, worker_id text NOT NULL, outcome text NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp());
";

/// A tenant's records: one location and these records in it.
pub fn one_location(id: &str, name: &str, records: Vec<Recipient>) -> HostData {
    HostData {
        locations: vec![HostLocation {
            location: Location::new(id, name),
            records,
        }],
        users: vec![],
    }
}

/// The host's records in PostgreSQL: `apply` writes the records, the hash
/// and a log row in one transaction, once per tenant and plan hash.
pub struct PgHost {
    /// The database (the store's pool).
    pub pool: PgPool,
    /// Written into the apply log.
    pub worker_id: String,
}

fn host_error(tenant_id: &str, e: impl std::fmt::Display) -> HostError {
    HostError {
        tenant_id: tenant_id.to_string(),
        message: e.to_string(),
    }
}

impl PgHost {
    /// Sets a tenant's records.
    pub async fn set(pool: &PgPool, tenant_id: &str, data: &HostData) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO host_records (tenant_id, data) VALUES ($1, $2) \
             ON CONFLICT (tenant_id) DO UPDATE SET data = $2",
        )
        .bind(tenant_id)
        .bind(Json(data))
        .execute(pool)
        .await
        .map(drop)
    }
}

#[async_trait]
impl Host for PgHost {
    async fn records(&self, tenant_id: &str) -> Result<HostData, HostError> {
        let data: Option<Json<HostData>> =
            sqlx::query_scalar("SELECT data FROM host_records WHERE tenant_id = $1")
                .bind(tenant_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| host_error(tenant_id, e))?;
        Ok(data.map(|Json(d)| d).unwrap_or_default())
    }

    async fn apply(&self, tenant_id: &str, plan: &Plan) -> Result<ApplyOutcome, HostError> {
        let err = |e: sqlx::Error| host_error(tenant_id, e);
        let mut tx = self.pool.begin().await.map_err(err)?;
        let fresh = sqlx::query(
            "INSERT INTO host_applied (tenant_id, plan_hash) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(tenant_id)
        .bind(&plan.hash)
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected()
            == 1;
        if fresh {
            let found: Option<Json<HostData>> =
                sqlx::query_scalar("SELECT data FROM host_records WHERE tenant_id = $1 FOR UPDATE")
                    .bind(tenant_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(err)?;
            let mut data = found.map(|Json(d)| d).unwrap_or_default();
            recipient_reconcile::apply(&mut data, plan).map_err(|e| host_error(tenant_id, e))?;
            sqlx::query(
                "INSERT INTO host_records (tenant_id, data) VALUES ($1, $2) \
                 ON CONFLICT (tenant_id) DO UPDATE SET data = $2",
            )
            .bind(tenant_id)
            .bind(Json(&data))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        sqlx::query(
            "INSERT INTO host_apply_log (tenant_id, plan_hash, worker_id, outcome) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(tenant_id)
        .bind(&plan.hash)
        .bind(&self.worker_id)
        .bind(if fresh { "applied" } else { "already_applied" })
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(if fresh {
            ApplyOutcome::Applied
        } else {
            ApplyOutcome::AlreadyApplied
        })
    }
}

/// Secrets by name, handed to the worker process in its environment (as a
/// host's secret store would hand them over): never in a database row.
pub struct NamedSecrets(pub BTreeMap<String, String>);

#[async_trait]
impl SecretResolver for NamedSecrets {
    async fn resolve(&self, tenant_id: &str, name: &str) -> Result<SecretString, SecretError> {
        self.0
            .get(name)
            .map(|s| SecretString::new(s.clone()))
            .ok_or_else(|| {
                SecretError::new(
                    SecretErrorKind::NotFound,
                    tenant_id,
                    name,
                    "not handed to this worker: give it to the worker's environment",
                )
            })
    }
}

/// The workers' settings in the fleet runs (the `sync_fleet` example and
/// the fleet bench): `concurrency` syncs at once, a 30 s lease renewed
/// every 5 s, a claim every 250 ms while nothing is due.
pub fn worker_config(concurrency: usize) -> RunnerConfig {
    RunnerConfig {
        concurrency,
        lease: Duration::from_secs(30),
        heartbeat_every: Duration::from_secs(5),
        poll_every: Duration::from_millis(250),
        ..RunnerConfig::default()
    }
}

/// Runs one worker on `store` until this process's stdin closes, then
/// finishes what it holds and returns.
pub async fn run_worker(
    store: PgStore,
    worker_id: &str,
    secrets: BTreeMap<String, String>,
    config: RunnerConfig,
) {
    let host = PgHost {
        pool: store.pool().clone(),
        worker_id: worker_id.to_string(),
    };
    let runner = Runner::new(
        Arc::new(store),
        Arc::new(host),
        Arc::new(HostFactory),
        Arc::new(NamedSecrets(secrets)),
    )
    .with_config(config);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        let _ = stop.send(true);
    });
    runner.worker(worker_id).run(stopped).await;
}
