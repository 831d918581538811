//! The SQLite store: nothing a provisioning client pushed is lost on restart.
//!
//! One connection behind a mutex, WAL journal, `synchronous=FULL`. A commit is
//! one transaction holding the resource writes and their events, so the log
//! and the directory never disagree after a crash. A unique index on
//! `(tenant, kind, unique_key)` enforces `userName` and group `displayName`
//! uniqueness. A database from before groups had a key gets their keys
//! filled in on open (a group whose name another group already holds keeps
//! none, and so blocks no one).
//!
//! [`Store::query`] is SQL on indexes, as in PostgreSQL: `id`, `unique_key`,
//! `external_id` and the `members` table, paged in creation order on
//! `(tenant, kind, created_seq)`. A database from before those columns gets
//! them on open, numbered by (created, id).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::query::{self, external_id, group_display_name, Condition, Dialect, GroupRef};
use super::{kind_named, ResourcePage, ResourceQuery, Store, StoredResource, TenantChange, Write};
use crate::errors::StoreError;
use crate::events::{Change, Event, EventCursor};
use crate::schema::ResourceType;
use crate::tenant::{TenantRecord, TenantStatus};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tenants (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, token_hash TEXT NOT NULL,
    created TEXT NOT NULL, token_issued TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS resources (
    tenant TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, unique_key TEXT,
    body TEXT NOT NULL, created TEXT NOT NULL, last_modified TEXT NOT NULL,
    version INTEGER NOT NULL, PRIMARY KEY (tenant, kind, id));
CREATE UNIQUE INDEX IF NOT EXISTS resources_unique ON resources (tenant, kind, unique_key);
CREATE TABLE IF NOT EXISTS members (
    tenant TEXT NOT NULL, group_id TEXT NOT NULL, member_id TEXT NOT NULL,
    PRIMARY KEY (tenant, group_id, member_id));
CREATE INDEX IF NOT EXISTS members_by_member ON members (tenant, member_id);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, tenant TEXT NOT NULL,
    at TEXT NOT NULL, change TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_tenant ON events (tenant, seq);
";

const DIALECT: Dialect = Dialect {
    placeholder: '?',
    resources: "resources",
    members: "members",
    counts: None,
};

/// A [`Store`] in a SQLite database file.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn write_error(e: rusqlite::Error, what: &str) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Conflict(what.to_string()),
        _ => backend(e),
    }
}

fn kind_str(rt: ResourceType) -> &'static str {
    rt.name()
}

fn parse_time(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
}

fn json_col<T: serde::de::DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_str(s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

impl SqliteStore {
    /// Opens (or creates) the database at `path`. A new file is created
    /// readable by its owner alone (mode 0600 on Unix; SQLite gives its
    /// `-wal` and `-shm` files the same mode): it holds token hashes and
    /// people's data. An existing file's mode is left as it is.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        create_private(path.as_ref())?;
        Self::init(Connection::open(path).map_err(backend)?)
    }

    /// A private in-memory database (for tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(backend)?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        conn.execute_batch(SCHEMA).map_err(backend)?;
        fill_group_keys(&conn)?;
        fill_members(&conn)?;
        tenant_admin(&conn)?;
        add_index_columns(&conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Creates `path` empty with mode 0600 unless it exists (or is SQLite's
/// `:memory:` or a `file:` URI), so SQLite never creates it world-readable.
fn create_private(path: &Path) -> Result<(), StoreError> {
    let special = path
        .to_str()
        .is_some_and(|p| p == ":memory:" || p.starts_with("file:"));
    if special {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Backend(format!(
            "cannot create the SQLite database {}: {e}",
            path.display()
        ))),
    }
}

/// Gives every group stored without a unique key (before group names were
/// unique) its key, skipping a name another group already holds.
fn fill_group_keys(conn: &Connection) -> Result<(), StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT tenant, id, body FROM resources WHERE kind = 'Group' AND unique_key IS NULL",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    for (tenant, id, body) in rows {
        let body: serde_json::Value = serde_json::from_str(&body).map_err(backend)?;
        let Some(name) = body.get("displayName").and_then(|v| v.as_str()) else {
            continue;
        };
        conn.execute(
            "UPDATE OR IGNORE resources SET unique_key = ?3 WHERE tenant = ?1 AND kind = 'Group' AND id = ?2",
            params![tenant, id, name.to_lowercase()],
        )
        .map_err(backend)?;
    }
    Ok(())
}

/// Adds `external_id`, `display_name` and `created_seq` (see the
/// PostgreSQL migration 4) to a database without them, fills them in and
/// indexes them.
fn add_index_columns(conn: &Connection) -> Result<(), StoreError> {
    let has: i64 = conn
        .query_row(
            "SELECT count(*) FROM pragma_table_info('resources') WHERE name = 'created_seq'",
            [],
            |r| r.get(0),
        )
        .map_err(backend)?;
    if has == 0 {
        conn.execute_batch(
            "BEGIN;
             ALTER TABLE resources ADD COLUMN external_id TEXT;
             ALTER TABLE resources ADD COLUMN display_name TEXT;
             ALTER TABLE resources ADD COLUMN created_seq INTEGER;
             UPDATE resources SET
                 external_id = CASE WHEN json_type(body, '$.externalId') = 'text'
                                    THEN json_extract(body, '$.externalId') END,
                 display_name = CASE WHEN kind = 'Group' AND json_type(body, '$.displayName') = 'text'
                                     THEN json_extract(body, '$.displayName') END;
             UPDATE resources SET created_seq = o.n FROM
                 (SELECT rowid AS rid, row_number() OVER
                      (PARTITION BY tenant, kind ORDER BY created, id) AS n FROM resources) AS o
                 WHERE resources.rowid = o.rid;
             COMMIT;",
        )
        .map_err(backend)?;
    }
    conn.execute_batch(
        "CREATE UNIQUE INDEX IF NOT EXISTS resources_by_created ON resources (tenant, kind, created_seq);
         CREATE INDEX IF NOT EXISTS resources_by_external_id ON resources (tenant, kind, external_id);",
    )
    .map_err(backend)
}

/// Indexes the members of every group once, for a database from before the
/// `members` table (`user_version` 0).
fn fill_members(conn: &Connection) -> Result<(), StoreError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)?;
    if version >= 1 {
        return Ok(());
    }
    let mut stmt = conn
        .prepare(&format!(
            "SELECT tenant, {RESOURCE_COLS} FROM resources WHERE kind = 'Group'"
        ))
        .map_err(backend)?;
    let groups = stmt
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, resource_row_at(row, 1)?))
        })
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    for (tenant, g) in groups {
        index_members(conn, &tenant, &g)?;
    }
    conn.pragma_update(None, "user_version", 1).map_err(backend)
}

/// Version 3 of the schema (`user_version`): tenant administration. The
/// token hash may be NULL (revoked); the previous token's hash and expiry
/// and the status are kept. SQLite cannot drop a NOT NULL, so the table is
/// rebuilt, in one transaction.
fn tenant_admin(conn: &Connection) -> Result<(), StoreError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)?;
    if version >= 3 {
        return Ok(());
    }
    conn.execute_batch(
        "BEGIN;
         CREATE TABLE tenants_v3 (
             id TEXT PRIMARY KEY, name TEXT NOT NULL, token_hash TEXT,
             created TEXT NOT NULL, token_issued TEXT NOT NULL,
             previous_token_hash TEXT, previous_token_expires TEXT,
             status TEXT NOT NULL DEFAULT 'active');
         INSERT INTO tenants_v3 (id, name, token_hash, created, token_issued)
             SELECT id, name, token_hash, created, token_issued FROM tenants;
         DROP TABLE tenants;
         ALTER TABLE tenants_v3 RENAME TO tenants;
         PRAGMA user_version = 3;
         COMMIT;",
    )
    .map_err(backend)
}

/// Brings the `members` rows of a group to what its body lists, deleting
/// and inserting only the difference.
fn index_members(conn: &Connection, tenant: &str, g: &StoredResource) -> Result<(), StoreError> {
    let current: BTreeSet<String> = conn
        .prepare_cached("SELECT member_id FROM members WHERE tenant = ?1 AND group_id = ?2")
        .map_err(backend)?
        .query_map(params![tenant, g.id], |r| r.get(0))
        .map_err(backend)?
        .collect::<Result<_, _>>()
        .map_err(backend)?;
    let wanted: BTreeSet<String> = super::member_ids(g).into_iter().collect();
    for m in current.difference(&wanted) {
        conn.prepare_cached(
            "DELETE FROM members WHERE tenant = ?1 AND group_id = ?2 AND member_id = ?3",
        )
        .map_err(backend)?
        .execute(params![tenant, g.id, m])
        .map_err(backend)?;
    }
    for m in wanted.difference(&current) {
        conn.prepare_cached(
            "INSERT INTO members (tenant, group_id, member_id) VALUES (?1, ?2, ?3)",
        )
        .map_err(backend)?
        .execute(params![tenant, g.id, m])
        .map_err(backend)?;
    }
    Ok(())
}

const TENANT_COLS: &str = "id, name, token_hash, created, token_issued, \
     previous_token_hash, previous_token_expires, status";

fn tenant_row(row: &Row<'_>) -> rusqlite::Result<TenantRecord> {
    let expires: Option<String> = row.get(6)?;
    Ok(TenantRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        token_hash: row.get(2)?,
        created: parse_time(&row.get::<_, String>(3)?)?,
        token_issued: parse_time(&row.get::<_, String>(4)?)?,
        previous_token_hash: row.get(5)?,
        previous_token_expires: expires.as_deref().map(parse_time).transpose()?,
        status: TenantStatus::from_stored(&row.get::<_, String>(7)?),
    })
}

const RESOURCE_COLS: &str = "kind, id, body, created, last_modified, version";

fn resource_row(row: &Row<'_>) -> rusqlite::Result<StoredResource> {
    resource_row_at(row, 0)
}

/// A resource from [`RESOURCE_COLS`] starting at column `at`.
fn resource_row_at(row: &Row<'_>, at: usize) -> rusqlite::Result<StoredResource> {
    let kind: String = row.get(at)?;
    Ok(StoredResource {
        resource_type: kind_named(&kind),
        id: row.get(at + 1)?,
        body: json_col(&row.get::<_, String>(at + 2)?)?,
        created: parse_time(&row.get::<_, String>(at + 3)?)?,
        last_modified: parse_time(&row.get::<_, String>(at + 4)?)?,
        version: row.get::<_, i64>(at + 5)?.try_into().unwrap_or(0),
    })
}

fn event_row(row: &Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        seq: row.get::<_, i64>(0)?.try_into().unwrap_or(0),
        tenant: row.get(1)?,
        at: parse_time(&row.get::<_, String>(2)?)?,
        change: json_col(&row.get::<_, String>(3)?)?,
    })
}

fn put(tx: &rusqlite::Transaction<'_>, tenant: &str, r: &StoredResource) -> Result<(), StoreError> {
    let stored: Option<i64> = tx
        .query_row(
            "SELECT version FROM resources WHERE tenant = ?1 AND kind = ?2 AND id = ?3",
            params![tenant, kind_str(r.resource_type), r.id],
            |row| row.get(0),
        )
        .optional()
        .map_err(backend)?;
    super::check_version(r, stored.and_then(|v| u64::try_from(v).ok()))?;
    let body = serde_json::to_string(&r.body).map_err(backend)?;
    tx.execute(
        // An upsert on the primary key only: `INSERT OR REPLACE` would
        // silently delete another user holding the same unique key.
        // A new resource takes the next position of its kind (commits are
        // serialized by the connection): creation order for paging.
        "INSERT INTO resources (tenant, kind, id, unique_key, body, created, last_modified, version,
             external_id, display_name, created_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,
             (SELECT coalesce(max(created_seq), 0) + 1 FROM resources WHERE tenant = ?1 AND kind = ?2))
         ON CONFLICT (tenant, kind, id) DO UPDATE SET unique_key = excluded.unique_key,
             body = excluded.body, last_modified = excluded.last_modified, version = excluded.version,
             external_id = excluded.external_id, display_name = excluded.display_name",
        params![
            tenant,
            kind_str(r.resource_type),
            r.id,
            r.unique_key(),
            body,
            r.created.to_rfc3339(),
            r.last_modified.to_rfc3339(),
            i64::try_from(r.version).unwrap_or(i64::MAX),
            external_id(r),
            group_display_name(r),
        ],
    )
    .map_err(|e| write_error(e, super::unique_attribute(r.resource_type)))?;
    if r.resource_type == ResourceType::Group {
        index_members(tx, tenant, r)?;
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert_tenant(&self, t: &TenantRecord) -> Result<(), StoreError> {
        self.conn()
            .execute(
                &format!(
                    "INSERT INTO tenants ({TENANT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                ),
                params![
                    t.id,
                    t.name,
                    t.token_hash,
                    t.created.to_rfc3339(),
                    t.token_issued.to_rfc3339(),
                    t.previous_token_hash,
                    t.previous_token_expires.map(|e| e.to_rfc3339()),
                    t.status.as_str(),
                ],
            )
            .map_err(|e| write_error(e, &format!("tenant id {}", t.id)))?;
        Ok(())
    }

    async fn modify_tenant(
        &self,
        id: &str,
        change: &TenantChange<'_>,
    ) -> Result<Option<TenantRecord>, StoreError> {
        let mut conn = self.conn();
        // IMMEDIATE: the write lock from the read on, so another process on
        // the same file cannot change the record between read and write.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let sql = format!("SELECT {TENANT_COLS} FROM tenants WHERE id = ?1");
        let Some(stored) = tx
            .query_row(&sql, [id], tenant_row)
            .optional()
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let mut t = stored.clone();
        change(&mut t);
        // The id and creation date are not the change's to make.
        let t = TenantRecord {
            id: stored.id,
            created: stored.created,
            ..t
        };
        tx.execute(
            "UPDATE tenants SET name = ?2, token_hash = ?3, token_issued = ?4,
                 previous_token_hash = ?5, previous_token_expires = ?6, status = ?7
             WHERE id = ?1",
            params![
                id,
                t.name,
                t.token_hash,
                t.token_issued.to_rfc3339(),
                t.previous_token_hash,
                t.previous_token_expires.map(|e| e.to_rfc3339()),
                t.status.as_str(),
            ],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(Some(t))
    }

    async fn delete_tenant(&self, id: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(backend)?;
        let existed = tx
            .execute("DELETE FROM tenants WHERE id = ?1", [id])
            .map_err(backend)?;
        for table in ["resources", "members", "events"] {
            tx.execute(&format!("DELETE FROM {table} WHERE tenant = ?1"), [id])
                .map_err(backend)?;
        }
        tx.commit().map_err(backend)?;
        Ok(existed == 1)
    }

    async fn tenant(&self, id: &str) -> Result<Option<TenantRecord>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {TENANT_COLS} FROM tenants WHERE id = ?1"),
                [id],
                tenant_row,
            )
            .optional()
            .map_err(backend)
    }

    async fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!("SELECT {TENANT_COLS} FROM tenants ORDER BY id"))
            .map_err(backend)?;
        let rows = stmt.query_map([], tenant_row).map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    async fn get(
        &self,
        tenant: &str,
        rt: ResourceType,
        id: &str,
    ) -> Result<Option<StoredResource>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {RESOURCE_COLS} FROM resources WHERE tenant = ?1 AND kind = ?2 AND id = ?3"),
                params![tenant, kind_str(rt), id],
                resource_row,
            )
            .optional()
            .map_err(backend)
    }

    async fn find_by_key(
        &self,
        tenant: &str,
        rt: ResourceType,
        key: &str,
    ) -> Result<Option<StoredResource>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {RESOURCE_COLS} FROM resources WHERE tenant = ?1 AND kind = ?2 AND unique_key = ?3"),
                params![tenant, kind_str(rt), key],
                resource_row,
            )
            .optional()
            .map_err(backend)
    }

    async fn groups_with_member(
        &self,
        tenant: &str,
        member_id: &str,
    ) -> Result<Vec<StoredResource>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT r.kind, r.id, r.body, r.created, r.last_modified, r.version
                 FROM members m JOIN resources r
                   ON r.tenant = m.tenant AND r.kind = 'Group' AND r.id = m.group_id
                 WHERE m.tenant = ?1 AND m.member_id = ?2 ORDER BY r.id",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![tenant, member_id], resource_row)
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    async fn group_refs(
        &self,
        tenant: &str,
        member_ids: &[String],
    ) -> Result<Vec<GroupRef>, StoreError> {
        let ids = serde_json::to_string(member_ids).map_err(backend)?;
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT m.member_id, r.id, r.display_name
                 FROM members m JOIN resources r
                   ON r.tenant = m.tenant AND r.kind = 'Group' AND r.id = m.group_id
                 WHERE m.tenant = ?1 AND m.member_id IN (SELECT value FROM json_each(?2))
                 ORDER BY m.member_id, r.id",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![tenant, ids], |row| {
                Ok(GroupRef {
                    member_id: row.get(0)?,
                    group_id: row.get(1)?,
                    display_name: row.get::<_, Option<String>>(2)?.unwrap_or_default(),
                })
            })
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    async fn query(
        &self,
        tenant: &str,
        rt: ResourceType,
        q: &ResourceQuery<'_>,
    ) -> Result<ResourcePage, StoreError> {
        use rusqlite::types::Value as Sql;
        let cond = Condition::new(&DIALECT, q.filter, 5);
        let sql = query::page_sql(&DIALECT, RESOURCE_COLS, &cond, q.filter.is_some());
        let mut binds = vec![
            Sql::Text(tenant.into()),
            Sql::Text(kind_str(rt).into()),
            Sql::Integer(i64::try_from(q.limit).unwrap_or(i64::MAX)),
            Sql::Integer(i64::try_from(q.offset).unwrap_or(i64::MAX)),
        ];
        binds.extend(cond.params.iter().map(|p| Sql::Text(p.clone())));
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(binds), |row| {
                let total: i64 = row.get(0)?;
                let r = match row.get::<_, Option<String>>(2)? {
                    Some(_) => Some(resource_row_at(row, 1)?),
                    None => None,
                };
                Ok((total, r))
            })
            .map_err(backend)?;
        let mut page = ResourcePage {
            total: 0,
            resources: Vec::new(),
        };
        for row in rows {
            let (total, r) = row.map_err(backend)?;
            page.total = usize::try_from(total).unwrap_or(0);
            page.resources.extend(r);
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
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {RESOURCE_COLS} FROM resources WHERE tenant = ?1 AND kind = ?2 AND id > ?3 ORDER BY id LIMIT ?4"
            ))
            .map_err(backend)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(
                params![tenant, kind_str(rt), after.unwrap_or(""), limit],
                resource_row,
            )
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    async fn commit(
        &self,
        tenant: &str,
        writes: Vec<Write>,
        changes: Vec<Change>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(backend)?;
        let exists = tx
            .query_row("SELECT 1 FROM tenants WHERE id = ?1", [tenant], |_| Ok(()))
            .optional()
            .map_err(backend)?;
        if exists.is_none() {
            return Err(StoreError::NoTenant(tenant.to_string()));
        }
        for w in &writes {
            match w {
                Write::Put(r) => put(&tx, tenant, r)?,
                Write::Delete(rt, id) => {
                    tx.execute(
                        "DELETE FROM resources WHERE tenant = ?1 AND kind = ?2 AND id = ?3",
                        params![tenant, kind_str(*rt), id],
                    )
                    .map_err(backend)?;
                    if *rt == ResourceType::Group {
                        tx.execute(
                            "DELETE FROM members WHERE tenant = ?1 AND group_id = ?2",
                            params![tenant, id],
                        )
                        .map_err(backend)?;
                    }
                }
            }
        }
        let at = Utc::now().to_rfc3339();
        for change in &changes {
            let json = serde_json::to_string(change).map_err(backend)?;
            tx.execute(
                "INSERT INTO events (tenant, at, change) VALUES (?1, ?2, ?3)",
                params![tenant, at, json],
            )
            .map_err(backend)?;
        }
        tx.commit().map_err(backend)
    }

    async fn events(
        &self,
        tenant: &str,
        after: EventCursor,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT seq, tenant, at, change FROM events WHERE tenant = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )
            .map_err(backend)?;
        let after = i64::try_from(after.0).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![tenant, after, limit], event_row)
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    async fn last_event(&self, tenant: &str) -> Result<Option<Event>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT seq, tenant, at, change FROM events WHERE tenant = ?1 ORDER BY seq DESC LIMIT 1",
            )
            .map_err(backend)?;
        let mut rows = stmt
            .query_map(params![tenant], event_row)
            .map_err(backend)?;
        rows.next().transpose().map_err(backend)
    }
}
