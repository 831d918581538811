//! The PostgreSQL store (feature `postgres`): several server processes on
//! one database.
//!
//! Built on sqlx (pure Rust, rustls, tokio) with runtime-checked queries
//! (`sqlx::query`, never the macros), so building needs no database. sqlx
//! rather than tokio-postgres + deadpool: one driver with its own pool, and
//! the one the workspace's PostgreSQL-coordinated runner is planned on.
//!
//! * **Migrations ship in the crate** (`migrations/postgres/NNNN_*.sql`,
//!   compiled in) and [`PgStore::connect`] applies the missing ones in one
//!   transaction under an advisory lock, so processes starting together
//!   apply each once. Applied versions are in `scim_migrations`.
//! * **The database enforces uniqueness.** A unique index on
//!   `(tenant, kind, unique_key)` (lower-cased `userName`, group
//!   `displayName`): under concurrent creates of one name from any number of
//!   processes, exactly one commits; the others get
//!   [`StoreError::Conflict`], a 409 `uniqueness`.
//! * **Lookups by index.** Id, unique key and paging by id use the primary
//!   key and the unique index; the groups of a member use `scim_members`
//!   (kept with each group write: only the members that changed are
//!   deleted or inserted); events use `(tenant, seq)`. [`Store::query`]
//!   turns the indexed part of a SCIM filter into SQL over the primary
//!   key, `unique_key`, `external_id` and `scim_members`, and pages in
//!   creation order on `(tenant, kind, created_seq)`, the total and the
//!   page in one statement.
//! * **No lost update.** A resource is replaced only at the version it was
//!   read at (`UPDATE .. WHERE version = n - 1`); a writer that lost the
//!   race gets [`StoreError::Stale`] and the service redoes the request.
//! * **A tenant is deleted whole.** Its rows in every table go in one
//!   transaction that takes the tenant's commit lock first, so it never
//!   lands between the writes of a commit.
//! * **The change log can be followed by sequence.** A commit takes a
//!   per-tenant transaction advisory lock before it writes, so one tenant's
//!   events commit in `seq` order and a reader following `seq > cursor`
//!   misses nothing.
//! * **A commit is one round trip.** [`Store::commit`] calls `scim_commit`
//!   (migration 6, PL/pgSQL) as a single statement: the tenant's locks, the
//!   writes with their version checks, the membership index and the events
//!   run inside the database, so the tenant's lock is held only while the
//!   database works, never while a busy server waits to send the next
//!   statement of an open transaction.

use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{Postgres, Row, Transaction};

use super::query::{self, external_id, group_display_name, Condition, Dialect, GroupRef};
use super::{
    kind_named, unique_attribute, MemberKinds, ResourcePage, ResourceQuery, Store, StoredResource,
    TenantChange, Write,
};
use crate::errors::StoreError;
use crate::events::{Change, Event, EventCursor};
use crate::schema::ResourceType;
use crate::tenant::{TenantRecord, TenantStatus};

/// The schema migrations, in order: (version, name, SQL).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "members",
        include_str!("../../migrations/postgres/0002_members.sql"),
    ),
    (
        3,
        "tenant_admin",
        include_str!("../../migrations/postgres/0003_tenant_admin.sql"),
    ),
    (
        4,
        "indexed_filters",
        include_str!("../../migrations/postgres/0004_indexed_filters.sql"),
    ),
    (
        5,
        "counts",
        include_str!("../../migrations/postgres/0005_counts.sql"),
    ),
    (
        6,
        "commit_function",
        include_str!("../../migrations/postgres/0006_commit_function.sql"),
    ),
];

const DIALECT: Dialect = Dialect {
    placeholder: '$',
    resources: "scim_resources",
    members: "scim_members",
    counts: Some("scim_counts"),
};

/// A [`Store`] in PostgreSQL, shared by any number of server processes.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgStore")
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// A unique violation is a conflict on `what`; anything else a failure.
fn write_error(e: sqlx::Error, what: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => {
            StoreError::Conflict(what.to_string())
        }
        _ => backend(e),
    }
}

fn kind_str(rt: ResourceType) -> &'static str {
    rt.name()
}

fn to_i64(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`) with the pool of
    /// [`PgStore::pool_options`] and applies the missing migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(backend)?;
        Self::connect_with(options, Self::pool_options()).await
    }

    /// The pool [`PgStore::connect`] makes: up to 10 connections, and a
    /// connection is pinged before use only after it sat idle for 30
    /// seconds. sqlx pings before every use by default, which is a round
    /// trip more for every query; a connection that broke while in use
    /// fails that one request (the client retries) and is not reused.
    pub fn pool_options() -> PgPoolOptions {
        PgPoolOptions::new()
            .max_connections(10)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= std::time::Duration::from_secs(30) {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
    }

    /// Like [`PgStore::connect`], with the tables in the PostgreSQL schema
    /// `schema` (created if missing): several directories, or test runs, in
    /// one database. `schema` is 1 to 63 of `a-z 0-9 _`.
    pub async fn connect_in_schema(url: &str, schema: &str) -> Result<Self, StoreError> {
        Self::connect_with_url(url, Some(schema), Self::pool_options()).await
    }

    /// [`PgStore::connect`] or, with a schema, [`PgStore::connect_in_schema`],
    /// with a pool of your own: most often [`PgStore::pool_options`] with
    /// another `max_connections`. Every server's pool draws on the same
    /// database, and PostgreSQL does the most with a few busy connections
    /// per core, all servers together: more add context switches, not
    /// throughput (the load bench's two servers on a 2-core machine: with
    /// 10 connections each rather than 4, PostgreSQL spent 10-15% more CPU
    /// per request).
    pub async fn connect_with_url(
        url: &str,
        schema: Option<&str>,
        pool: PgPoolOptions,
    ) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(backend)?;
        let Some(schema) = schema else {
            return Self::connect_with(options, pool).await;
        };
        check_schema_name(schema)?;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(backend)?;
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .execute(&admin)
            .await
            .map_err(backend)?;
        admin.close().await;
        let options = options.options([("search_path", schema)]);
        Self::connect_with(options, pool).await
    }

    /// Connects with the given options and pool settings and applies the
    /// missing migrations.
    pub async fn connect_with(
        options: PgConnectOptions,
        pool: PgPoolOptions,
    ) -> Result<Self, StoreError> {
        let pool = pool.connect_with(options).await.map_err(backend)?;
        migrate(&pool).await?;
        Ok(Self { pool })
    }

    /// The connection pool (to share it, or to close it).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn check_schema_name(schema: &str) -> Result<(), StoreError> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Backend(format!(
            "schema name `{schema}`: use 1 to 63 characters from a-z, 0-9 and `_`"
        )))
    }
}

/// Applies the migrations not yet recorded, in one transaction holding an
/// advisory lock, so concurrent starts apply each exactly once.
async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(backend)?;
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtext('scim-directory:migrate:' || current_schema()))",
    )
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS scim_migrations (version bigint PRIMARY KEY, \
         name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM scim_migrations")
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
    for (version, name, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        apply_migration(&mut tx, *version, name, sql).await?;
    }
    tx.commit().await.map_err(backend)
}

async fn apply_migration(
    tx: &mut Transaction<'_, Postgres>,
    version: i64,
    name: &str,
    sql: &str,
) -> Result<(), StoreError> {
    sqlx::raw_sql(sql)
        .execute(&mut **tx)
        .await
        .map_err(|e| StoreError::Backend(format!("migration {version} ({name}): {e}")))?;
    sqlx::query("INSERT INTO scim_migrations (version, name) VALUES ($1, $2)")
        .bind(version)
        .bind(name)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    Ok(())
}

const TENANT_COLS: &str = "id, name, token_hash, created, token_issued, \
     previous_token_hash, previous_token_expires, status";

fn tenant_row(row: &PgRow) -> Result<TenantRecord, sqlx::Error> {
    Ok(TenantRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        token_hash: row.try_get("token_hash")?,
        created: row.try_get("created")?,
        token_issued: row.try_get("token_issued")?,
        previous_token_hash: row.try_get("previous_token_hash")?,
        previous_token_expires: row.try_get("previous_token_expires")?,
        status: TenantStatus::from_stored(row.try_get("status")?),
    })
}

/// The SQL expression that takes the commit lock of the tenant whose id
/// `$id` (an SQL expression) gives: one key for every statement that takes
/// it, in this release and the ones before. `scim_commit` (migration 6)
/// takes it as `tenant_lock!("id")`; a test holds the two together.
macro_rules! tenant_lock {
    ($id:literal) => {
        concat!(
            "pg_advisory_xact_lock(hashtext('scim-directory:events:' || ",
            $id,
            "))"
        )
    };
}

/// Takes the tenant's lock in `tx`: one tenant's commits, and its deletion,
/// run in turn.
async fn lock_tenant(tx: &mut Transaction<'_, Postgres>, tenant: &str) -> Result<(), StoreError> {
    sqlx::query(concat!("SELECT ", tenant_lock!("$1")))
        .bind(tenant)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    Ok(())
}

const RESOURCE_COLS: &str = "kind, id, body, created, last_modified, version";

fn resource_row(row: &PgRow) -> Result<StoredResource, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    let Json(body): Json<Value> = row.try_get("body")?;
    Ok(StoredResource {
        resource_type: kind_named(&kind),
        id: row.try_get("id")?,
        body,
        created: row.try_get("created")?,
        last_modified: row.try_get("last_modified")?,
        version: row.try_get::<i64, _>("version")?.try_into().unwrap_or(0),
    })
}

fn event_row(row: &PgRow) -> Result<Event, sqlx::Error> {
    let Json(change): Json<Change> = row.try_get("change")?;
    Ok(Event {
        seq: row.try_get::<i64, _>("seq")?.try_into().unwrap_or(0),
        tenant: row.try_get("tenant")?,
        at: row.try_get::<DateTime<Utc>, _>("at")?,
        change,
    })
}

/// The `p_writes` argument of `scim_commit` (migration 6): each write as
/// the function reads it, timestamps to the microsecond PostgreSQL keeps
/// (truncated, as a bound `timestamptz` is).
fn writes_json(writes: &[Write]) -> Value {
    let ts = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Micros, true);
    let writes = writes.iter().map(|w| match w {
        Write::Put(r) => json!({
            "op": "put",
            "kind": kind_str(r.resource_type),
            "id": r.id,
            "unique_key": r.unique_key(),
            "body": r.body,
            "created": ts(&r.created),
            "last_modified": ts(&r.last_modified),
            "version": to_i64(r.version),
            "external_id": external_id(r),
            "display_name": group_display_name(r),
        }),
        Write::Delete(rt, id) => json!({"op": "delete", "kind": kind_str(*rt), "id": id}),
    });
    Value::Array(writes.collect())
}

/// The SQLSTATE `scim_commit` raises for a put not based on the stored
/// version.
const STALE_STATE: &str = "SCIM1";

/// What a failed `scim_commit` means: a stale put, a taken unique key (of
/// the first put's kind: the only put of a commit that can take a key, a
/// create or an update, comes first), or a failure.
fn commit_error(e: sqlx::Error, writes: &[Write]) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.code().as_deref() == Some(STALE_STATE) {
            return StoreError::Stale(db.message().to_string());
        }
    }
    let kind = writes.iter().find_map(|w| match w {
        Write::Put(r) => Some(r.resource_type),
        Write::Delete(..) => None,
    });
    write_error(e, unique_attribute(kind.unwrap_or(ResourceType::User)))
}

#[async_trait]
impl Store for PgStore {
    /// Awaits the database over the network; never blocks its thread.
    fn blocks(&self) -> bool {
        false
    }

    async fn insert_tenant(&self, t: &TenantRecord) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO scim_tenants ({TENANT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        );
        sqlx::query(&sql)
            .bind(&t.id)
            .bind(&t.name)
            .bind(&t.token_hash)
            .bind(t.created)
            .bind(t.token_issued)
            .bind(&t.previous_token_hash)
            .bind(t.previous_token_expires)
            .bind(t.status.as_str())
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, &format!("tenant id {}", t.id)))?;
        Ok(())
    }

    async fn modify_tenant(
        &self,
        id: &str,
        change: &TenantChange<'_>,
    ) -> Result<Option<TenantRecord>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // The row stays locked from the read to the commit: a concurrent
        // change (another server's too) waits and then reads this one's.
        let sql = format!("SELECT {TENANT_COLS} FROM scim_tenants WHERE id = $1 FOR UPDATE");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let Some(mut t) = row.as_ref().map(tenant_row).transpose().map_err(backend)? else {
            return Ok(None);
        };
        change(&mut t);
        let sql = format!(
            "UPDATE scim_tenants SET name = $2, token_hash = $3, token_issued = $4,
                 previous_token_hash = $5, previous_token_expires = $6, status = $7
             WHERE id = $1 RETURNING {TENANT_COLS}"
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .bind(&t.name)
            .bind(&t.token_hash)
            .bind(t.token_issued)
            .bind(&t.previous_token_hash)
            .bind(t.previous_token_expires)
            .bind(t.status.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        let stored = tenant_row(&row).map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(Some(stored))
    }

    async fn delete_tenant(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // After any commit of this tenant in progress, never between its rows.
        lock_tenant(&mut tx, id).await?;
        let existed = sqlx::query("DELETE FROM scim_tenants WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        for table in [
            "scim_resources",
            "scim_members",
            "scim_events",
            "scim_counts",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE tenant = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(existed == 1)
    }

    async fn tenant(&self, id: &str) -> Result<Option<TenantRecord>, StoreError> {
        let sql = format!("SELECT {TENANT_COLS} FROM scim_tenants WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(tenant_row).transpose().map_err(backend)
    }

    async fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        let sql = format!("SELECT {TENANT_COLS} FROM scim_tenants ORDER BY id");
        let rows = sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter()
            .map(tenant_row)
            .collect::<Result<_, _>>()
            .map_err(backend)
    }

    async fn get(
        &self,
        tenant: &str,
        rt: ResourceType,
        id: &str,
    ) -> Result<Option<StoredResource>, StoreError> {
        one_by(&self.pool, tenant, rt, "id", id).await
    }

    async fn find_by_key(
        &self,
        tenant: &str,
        rt: ResourceType,
        key: &str,
    ) -> Result<Option<StoredResource>, StoreError> {
        one_by(&self.pool, tenant, rt, "unique_key", key).await
    }

    async fn existing(
        &self,
        tenant: &str,
        rt: ResourceType,
        ids: &[String],
    ) -> Result<std::collections::BTreeSet<String>, StoreError> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let found: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM scim_resources WHERE tenant = $1 AND kind = $2 AND id = ANY($3)",
        )
        .bind(tenant)
        .bind(kind_str(rt))
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(found.into_iter().collect())
    }

    /// The group and its candidates in one query: the group's row, then
    /// a row (without a body) for each candidate stored as a user or
    /// another group.
    async fn group_and_kinds(
        &self,
        tenant: &str,
        group_id: &str,
        candidates: &[String],
    ) -> Result<Option<(StoredResource, MemberKinds)>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT true AS target, kind, id, body, created, last_modified, version ",
            "FROM scim_resources WHERE tenant = $1 AND kind = 'Group' AND id = $2 ",
            "UNION ALL ",
            "SELECT false, kind, id, NULL, NULL, NULL, NULL FROM scim_resources ",
            "WHERE tenant = $1 AND kind IN ('User', 'Group') AND id = ANY($3) ",
            "AND NOT (kind = 'Group' AND id = $2)"
        ))
        .bind(tenant)
        .bind(group_id)
        .bind(candidates)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let mut group = None;
        let mut kinds = MemberKinds::new();
        for row in &rows {
            if row.try_get::<bool, _>("target").map_err(backend)? {
                group = Some(resource_row(row).map_err(backend)?);
                continue;
            }
            let kind = kind_named(&row.try_get::<String, _>("kind").map_err(backend)?);
            let id: String = row.try_get("id").map_err(backend)?;
            // A user's id wins over a group's, as `kinds_of` asks users first.
            if kind == ResourceType::User || !kinds.contains_key(&id) {
                kinds.insert(id, kind);
            }
        }
        Ok(group.map(|g| (g, kinds)))
    }

    async fn groups_with_member(
        &self,
        tenant: &str,
        member_id: &str,
    ) -> Result<Vec<StoredResource>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.kind, r.id, r.body, r.created, r.last_modified, r.version
             FROM scim_members m JOIN scim_resources r
               ON r.tenant = m.tenant AND r.kind = 'Group' AND r.id = m.group_id
             WHERE m.tenant = $1 AND m.member_id = $2 ORDER BY r.id",
        )
        .bind(tenant)
        .bind(member_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(resource_row)
            .collect::<Result<_, _>>()
            .map_err(backend)
    }

    async fn group_refs(
        &self,
        tenant: &str,
        member_ids: &[String],
    ) -> Result<Vec<GroupRef>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.member_id, r.id, r.display_name
             FROM scim_members m JOIN scim_resources r
               ON r.tenant = m.tenant AND r.kind = 'Group' AND r.id = m.group_id
             WHERE m.tenant = $1 AND m.member_id = ANY($2) ORDER BY m.member_id, r.id",
        )
        .bind(tenant)
        .bind(member_ids)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                Ok(GroupRef {
                    member_id: row.try_get(0)?,
                    group_id: row.try_get(1)?,
                    display_name: row.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(backend)
    }

    async fn query(
        &self,
        tenant: &str,
        rt: ResourceType,
        q: &ResourceQuery<'_>,
    ) -> Result<ResourcePage, StoreError> {
        let cond = Condition::new(&DIALECT, q.filter, 5);
        let sql = query::page_sql(&DIALECT, RESOURCE_COLS, &cond, q.filter.is_some());
        let mut query = sqlx::query(&sql)
            .bind(tenant)
            .bind(kind_str(rt))
            .bind(to_i64(q.limit))
            .bind(to_i64(q.offset));
        for p in &cond.params {
            query = query.bind(p);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(backend)?;
        let mut page = ResourcePage {
            total: 0,
            resources: Vec::with_capacity(rows.len()),
        };
        for row in &rows {
            let total: i64 = row.try_get("total").map_err(backend)?;
            page.total = usize::try_from(total).unwrap_or(0);
            if row
                .try_get::<Option<String>, _>("id")
                .map_err(backend)?
                .is_some()
            {
                page.resources.push(resource_row(row).map_err(backend)?);
            }
        }
        Ok(page)
    }

    async fn page(
        &self,
        tenant: &str,
        rt: ResourceType,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredResource>, StoreError> {
        let sql = format!(
            "SELECT {RESOURCE_COLS} FROM scim_resources WHERE tenant = $1 AND kind = $2 AND id > $3 \
             ORDER BY id LIMIT $4"
        );
        let rows = sqlx::query(&sql)
            .bind(tenant)
            .bind(kind_str(rt))
            .bind(after.unwrap_or(""))
            .bind(to_i64(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter()
            .map(resource_row)
            .collect::<Result<_, _>>()
            .map_err(backend)
    }

    async fn commit(
        &self,
        tenant: &str,
        writes: Vec<Write>,
        changes: Vec<Change>,
    ) -> Result<(), StoreError> {
        // One statement, one round trip: the tenant's locks, the writes, the
        // membership index and the events, all or nothing (migration 6).
        let live: bool = sqlx::query_scalar("SELECT scim_commit($1, $2, $3, $4)")
            .bind(tenant)
            .bind(Json(writes_json(&writes)))
            .bind(Json(&changes))
            .bind(Utc::now())
            .fetch_one(&self.pool)
            .await
            .map_err(|e| commit_error(e, &writes))?;
        match live {
            true => Ok(()),
            false => Err(StoreError::NoTenant(tenant.to_string())),
        }
    }

    async fn events(
        &self,
        tenant: &str,
        after: EventCursor,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, tenant, at, change FROM scim_events WHERE tenant = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3",
        )
        .bind(tenant)
        .bind(to_i64(after.0))
        .bind(to_i64(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(event_row)
            .collect::<Result<_, _>>()
            .map_err(backend)
    }

    async fn last_event(&self, tenant: &str) -> Result<Option<Event>, StoreError> {
        let row = sqlx::query(
            "SELECT seq, tenant, at, change FROM scim_events WHERE tenant = $1 \
             ORDER BY seq DESC LIMIT 1",
        )
        .bind(tenant)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(event_row).transpose().map_err(backend)
    }
}

/// One resource of a tenant by an indexed column (`id` or `unique_key`).
async fn one_by(
    pool: &sqlx::PgPool,
    tenant: &str,
    rt: ResourceType,
    column: &'static str,
    value: &str,
) -> Result<Option<StoredResource>, StoreError> {
    let sql = format!(
        "SELECT {RESOURCE_COLS} FROM scim_resources WHERE tenant = $1 AND kind = $2 AND {column} = $3"
    );
    let row = sqlx::query(&sql)
        .bind(tenant)
        .bind(kind_str(rt))
        .bind(value)
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    row.as_ref().map(resource_row).transpose().map_err(backend)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Commits (in `scim_commit`) and `delete_tenant` (through
    /// `lock_tenant`) must take one lock, or a commit could land between
    /// the rows of a tenant's deletion.
    #[test]
    fn the_commit_function_takes_the_tenant_lock_delete_tenant_takes() {
        let commit = MIGRATIONS
            .iter()
            .find(|(_, name, _)| *name == "commit_function")
            .map(|(_, _, sql)| *sql)
            .unwrap_or_default();
        let expected = concat!(
            "PERFORM ",
            tenant_lock!("id"),
            " FROM scim_tenants WHERE id = p_tenant FOR NO KEY UPDATE;"
        );
        assert!(
            commit.contains(expected),
            "scim_commit must run: {expected}"
        );
    }

    #[test]
    fn timestamps_are_sent_to_the_microsecond_postgresql_keeps() {
        let at = DateTime::parse_from_rfc3339("2026-12-04T10:00:00.123456789Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let r = StoredResource {
            resource_type: ResourceType::Group,
            id: "g1".into(),
            body: json!({"displayName": "Ops", "externalId": "e1", "members": []}),
            created: at,
            last_modified: at,
            version: 3,
        };
        let sent = writes_json(&[
            Write::Put(r),
            Write::Delete(ResourceType::User, "u1".into()),
        ]);
        assert_eq!(
            sent,
            json!([
                {"op": "put", "kind": "Group", "id": "g1", "unique_key": "ops",
                 "body": {"displayName": "Ops", "externalId": "e1", "members": []},
                 "created": "2026-12-04T10:00:00.123456Z",
                 "last_modified": "2026-12-04T10:00:00.123456Z",
                 "version": 3, "external_id": "e1", "display_name": "Ops"},
                {"op": "delete", "kind": "User", "id": "u1"}
            ])
        );
    }
}
