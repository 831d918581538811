//! A host app whose recipients live in a SQLite file.
//!
//! It shows what a real host does with a plan: load one location's records,
//! apply that location's operations, write back what changed, all plans in
//! one transaction, and keep a log of every run with the plan's hash. Each
//! record keeps its source (directory, CSV, manual) and whether the directory
//! adopted it, so the ownership rules hold across runs.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use recipient_reconcile::{
    apply_location, HostData, HostLocation, HostUser, Location, LocationPlan, Operation, Plan,
    Recipient, Source,
};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS locations (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS recipients (
    id          TEXT PRIMARY KEY,
    location_id TEXT NOT NULL REFERENCES locations(id),
    external_id TEXT,
    source      TEXT NOT NULL CHECK (source IN ('directory', 'csv', 'manual')),
    adopted     INTEGER NOT NULL DEFAULT 0,
    active      INTEGER NOT NULL,
    email       TEXT NOT NULL,
    fields      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS recipients_location ON recipients(location_id);
CREATE TABLE IF NOT EXISTS host_users (
    email       TEXT PRIMARY KEY,
    external_id TEXT
);
CREATE TABLE IF NOT EXISTS sync_runs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    source     TEXT NOT NULL,
    plan_hash  TEXT NOT NULL,
    operations INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS id_counter (
    next INTEGER NOT NULL
);
";

/// What one `apply` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Rows inserted.
    pub inserted: u64,
    /// Rows updated (updates, reactivations, deactivations).
    pub updated: u64,
}

/// The host's store: a SQLite file.
pub struct SqliteHost {
    conn: Connection,
}

impl SqliteHost {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let conn = Connection::open(path)
            .with_context(|| format!("opening the host database {}", path.display()))?;
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL;")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self { conn })
    }

    /// Adds a location, or renames it if it exists.
    pub fn upsert_location(&self, location: &Location) -> Result<()> {
        self.conn.execute(
            "INSERT INTO locations (id, name) VALUES (?1, ?2)
             ON CONFLICT(id) DO UPDATE SET name = excluded.name",
            params![location.id, location.name],
        )?;
        Ok(())
    }

    /// All locations, by id.
    pub fn locations(&self) -> Result<Vec<Location>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, name FROM locations ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok(Location::new(
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One location's records, by id.
    pub fn records(&self, location_id: &str) -> Result<Vec<Recipient>> {
        load_records(&self.conn, location_id)
    }

    /// Inserts a record as the host's own code would (a hand-made record, a
    /// CSV row imported before the directory was connected...).
    pub fn insert(&self, r: &Recipient) -> Result<()> {
        insert_record(&self.conn, r)
    }

    /// Records a host user (someone who already logs in by SSO).
    pub fn add_user(&self, user: &HostUser) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO host_users (email, external_id) VALUES (?1, ?2)",
            params![user.email, user.external_id],
        )?;
        Ok(())
    }

    /// Everything, for a one-call reconcile (small hosts; a large host plans
    /// location by location with [`SqliteHost::records`]).
    pub fn host_data(&self) -> Result<HostData> {
        let mut locations = Vec::new();
        for location in self.locations()? {
            let records = self.records(&location.id)?;
            locations.push(HostLocation { location, records });
        }
        let users = self.users()?;
        Ok(HostData { locations, users })
    }

    /// The host's SSO users.
    pub fn users(&self) -> Result<Vec<HostUser>> {
        let mut stmt = self
            .conn
            .prepare("SELECT email, external_id FROM host_users ORDER BY email")?;
        let users = stmt
            .query_map([], |r| {
                Ok(HostUser {
                    email: r.get(0)?,
                    external_id: r.get(1)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(users)
    }

    /// Applies a whole plan in one transaction: either every location's
    /// operations land or none do. The plan's hash is checked first, so what
    /// was reviewed is what runs, and the run is logged.
    pub fn apply(&mut self, plan: &Plan, source: &str) -> Result<Applied> {
        if !plan.verify() {
            bail!("the plan's hash does not match its contents: it was changed after review");
        }
        let tx = self.conn.transaction()?;
        let mut total = Applied::default();
        for lp in &plan.locations {
            let applied = apply_location_plan(&tx, lp)?;
            total.inserted += applied.inserted;
            total.updated += applied.updated;
        }
        tx.execute(
            "INSERT INTO sync_runs (source, plan_hash, operations) VALUES (?1, ?2, ?3)",
            params![source, plan.hash, (total.inserted + total.updated) as i64],
        )?;
        tx.commit()?;
        Ok(total)
    }

    /// How many sync runs were logged.
    pub fn runs(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM sync_runs", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Counts of records per source and active flag, for reports.
    pub fn census(&self) -> Result<BTreeMap<(String, bool), u64>> {
        let mut stmt = self
            .conn
            .prepare("SELECT source, active, COUNT(*) FROM recipients GROUP BY source, active")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                (r.get::<_, String>(0)?, r.get::<_, bool>(1)?),
                r.get::<_, i64>(2)? as u64,
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// Applies one location's operations inside `tx`: the in-memory apply checks
/// every operation against the records (all or nothing), then only the
/// records the plan touched are written.
fn apply_location_plan(tx: &Transaction<'_>, lp: &LocationPlan) -> Result<Applied> {
    let exists: Option<String> = tx
        .query_row(
            "SELECT id FROM locations WHERE id = ?1",
            [&lp.location_id],
            |r| r.get(0),
        )
        .optional()?;
    if exists.is_none() {
        bail!(
            "the plan names location {}, which this host does not have",
            lp.location_id
        );
    }
    let mut records = load_records(tx, &lp.location_id)?;
    let before = records.len();
    apply_location(&mut records, lp, |_| next_id(tx).unwrap_or_default())
        .with_context(|| format!("applying the plan for location {}", lp.location_id))?;
    let mut applied = Applied::default();
    let (existing, created) = records.split_at(before.min(records.len()));
    for r in created {
        if r.id.is_empty() {
            bail!("could not allocate a record id");
        }
        insert_record(tx, r)?;
        applied.inserted += 1;
    }
    for op in &lp.operations {
        let id = match op {
            Operation::Create(_) => continue,
            Operation::Update(c) | Operation::Reactivate(c) => &c.record_id,
            Operation::Deactivate(d) => &d.record_id,
        };
        if let Some(r) = existing.iter().find(|r| &r.id == id) {
            update_record(tx, r)?;
            applied.updated += 1;
        }
    }
    Ok(applied)
}

fn next_id(conn: &Connection) -> Result<String> {
    let n: Option<i64> = conn
        .query_row("SELECT next FROM id_counter", [], |r| r.get(0))
        .optional()?;
    let n = n.unwrap_or(1);
    conn.execute("DELETE FROM id_counter", [])?;
    conn.execute("INSERT INTO id_counter (next) VALUES (?1)", [n + 1])?;
    Ok(format!("rcp-{n:06}"))
}

fn load_records(conn: &Connection, location_id: &str) -> Result<Vec<Recipient>> {
    let mut stmt = conn.prepare(
        "SELECT id, location_id, external_id, source, adopted, active, email, fields
         FROM recipients WHERE location_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([location_id], |r| {
        Ok((
            Recipient {
                id: r.get(0)?,
                location_id: r.get(1)?,
                external_id: r.get(2)?,
                source: Source::Manual,
                adopted: r.get(4)?,
                active: r.get(5)?,
                email: r.get(6)?,
                fields: BTreeMap::new(),
            },
            r.get::<_, String>(3)?,
            r.get::<_, String>(7)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (mut rec, source, fields) = row?;
        rec.source = parse_source(&source)?;
        rec.fields = serde_json::from_str(&fields).with_context(|| {
            format!("record {}: the fields column is not a JSON object", rec.id)
        })?;
        out.push(rec);
    }
    Ok(out)
}

fn parse_source(s: &str) -> Result<Source> {
    Ok(match s {
        "directory" => Source::Directory,
        "csv" => Source::Csv,
        "manual" => Source::Manual,
        other => bail!("unknown record source {other:?} in the database"),
    })
}

fn insert_record(conn: &Connection, r: &Recipient) -> Result<()> {
    conn.execute(
        "INSERT INTO recipients (id, location_id, external_id, source, adopted, active, email, fields)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            r.id,
            r.location_id,
            r.external_id,
            r.source.as_str(),
            r.adopted,
            r.active,
            r.email,
            serde_json::to_string(&r.fields)?
        ],
    )?;
    Ok(())
}

fn update_record(conn: &Connection, r: &Recipient) -> Result<()> {
    conn.execute(
        "UPDATE recipients SET external_id = ?2, adopted = ?3, active = ?4, email = ?5, fields = ?6
         WHERE id = ?1",
        params![
            r.id,
            r.external_id,
            r.adopted,
            r.active,
            r.email,
            serde_json::to_string(&r.fields)?
        ],
    )?;
    Ok(())
}
