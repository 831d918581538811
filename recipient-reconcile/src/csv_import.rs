//! CSV import planning: rows in (bad rows become per-row errors, not a failed
//! import), a plan out, under the same ownership rules as a directory sync.

use std::collections::BTreeMap;
use std::io::Read;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::mapping::{normalize_email, plausible_email};
use crate::plan::{
    Change, Conflict, ConflictKind, Create, FieldChange, LocationPlan, Operation, Plan, Reason,
};
use crate::policy::Policy;
use crate::record::{HostLocation, Location, Recipient, Source};

/// The CSV as a whole cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsvError {
    /// The header row has no `email` column.
    #[error("the CSV header has no `email` column: the first row must name the columns (email, location, then any fields)")]
    NoEmailColumn,
    /// No `location` column and no default location.
    #[error("the CSV has no `location` column and no default location was given")]
    NoLocation,
    /// The header row could not be read.
    #[error("the CSV header cannot be read: {0}")]
    Header(#[source] csv::Error),
}

/// One row left out, with its line number and why: a row that cannot be
/// read, or one the ownership rules refuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    /// The line in the file (the header is line 1).
    pub line: u64,
    /// What is wrong, for a person.
    pub message: String,
    /// The host record the row names, when the ownership rules refused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    /// Why the ownership rules refused it, as a code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

impl RowError {
    /// A row that cannot be read.
    fn unreadable(line: u64, message: String) -> Self {
        Self {
            line,
            message,
            record_id: None,
            reason: None,
        }
    }

    /// A row the ownership rules refuse for `record`.
    fn refused(row: &CsvRow, record: &Recipient, reason: Reason) -> Self {
        Self {
            line: row.line,
            message: format!("{} (record {}): {reason}", row.email, record.id),
            record_id: Some(record.id.clone()),
            reason: Some(reason),
        }
    }
}

/// One good row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvRow {
    /// The line in the file.
    pub line: u64,
    /// The location's id.
    pub location_id: String,
    /// The email, normalized.
    pub email: String,
    /// Non-empty cells of the other columns, by column name.
    pub fields: BTreeMap<String, String>,
}

/// A parsed CSV: the good rows and the errors of the bad ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvImport {
    /// Rows to plan.
    pub rows: Vec<CsvRow>,
    /// Rows left out, with why.
    pub errors: Vec<RowError>,
}

/// Reads a CSV whose header names the columns: `email` (required),
/// `location` (a location id or name; optional when `default_location` is
/// given) and any number of field columns. Cells are trimmed; an empty cell
/// leaves that field as it is.
pub fn read_csv<R: Read>(
    input: R,
    locations: &[Location],
    default_location: Option<&str>,
) -> Result<CsvImport, CsvError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(input);
    let headers = reader.headers().map_err(CsvError::Header)?.clone();
    let columns = Columns::new(&headers, locations, default_location)?;
    let mut import = CsvImport::default();
    let mut seen: FxHashMap<(String, String), u64> = FxHashMap::default();
    for (n, result) in reader.records().enumerate() {
        let position = match &result {
            Ok(rec) => rec.position(),
            Err(e) => e.position(),
        };
        let line = position.map_or(n as u64 + 2, csv::Position::line);
        let row = result
            .map_err(|e| e.to_string())
            .and_then(|rec| columns.row(&rec, line))
            .and_then(|row| {
                let key = (row.location_id.clone(), row.email.clone());
                match seen.insert(key, line) {
                    Some(first) => Err(format!(
                        "{} is already on line {first} for this location",
                        row.email
                    )),
                    None => Ok(row),
                }
            });
        match row {
            Ok(row) => import.rows.push(row),
            Err(message) => import.errors.push(RowError::unreadable(line, message)),
        }
    }
    Ok(import)
}

/// Where the reserved columns are, and how to read a row.
struct Columns<'h> {
    headers: &'h csv::StringRecord,
    email: usize,
    location: Option<usize>,
    locations: &'h [Location],
    default_location: Option<&'h str>,
}

impl<'h> Columns<'h> {
    fn new(
        headers: &'h csv::StringRecord,
        locations: &'h [Location],
        default_location: Option<&'h str>,
    ) -> Result<Self, CsvError> {
        let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
        let email = col("email").ok_or(CsvError::NoEmailColumn)?;
        let location = col("location");
        if location.is_none() && default_location.is_none() {
            return Err(CsvError::NoLocation);
        }
        Ok(Self {
            headers,
            email,
            location,
            locations,
            default_location,
        })
    }

    fn row(&self, rec: &csv::StringRecord, line: u64) -> Result<CsvRow, String> {
        let at = |i: Option<usize>| i.and_then(|i| rec.get(i)).filter(|v| !v.is_empty());
        let location = at(self.location).or(self.default_location);
        let location_id = find_location(self.locations, location)?;
        let raw_email = rec.get(self.email).unwrap_or("");
        let email = normalize_email(raw_email).into_owned();
        if !plausible_email(&email) {
            return Err(format!("{raw_email:?} is not an email address"));
        }
        let fields = self
            .headers
            .iter()
            .zip(rec.iter())
            .enumerate()
            .filter(|(i, (_, v))| Some(*i) != self.location && *i != self.email && !v.is_empty())
            .map(|(_, (h, v))| (h.to_string(), v.to_string()))
            .collect();
        Ok(CsvRow {
            line,
            location_id,
            email,
            fields,
        })
    }
}

fn find_location(locations: &[Location], name: Option<&str>) -> Result<String, String> {
    let name = name.ok_or("no location given")?;
    locations
        .iter()
        .find(|l| l.id == name)
        .or_else(|| locations.iter().find(|l| l.name.eq_ignore_ascii_case(name)))
        .map(|l| l.id.clone())
        .ok_or_else(|| format!("unknown location {name:?}"))
}

/// A planned CSV import: the plan, and the rows left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CsvPlan {
    /// The operations (provider `csv`; no SSO candidates).
    pub plan: Plan,
    /// Rows left out, with why, by line: those that could not be read and
    /// those the ownership rules refuse.
    pub row_errors: Vec<RowError>,
}

/// Plans a CSV import against the host's records. A row matches a record of
/// its location by email. CSV-created and hand-made records are updated
/// (and reactivated when inactive). A record the directory owns is updated
/// only when the policy's `csv_updates_directory` allows it (useful for
/// fields the mapping does not fill: the directory sets its own fields back
/// on the next sync), and never reactivated: the directory is the source of
/// truth for the people it owns, so a row naming someone it deactivated
/// would only flap. Rows refused by these rules are row errors, with their
/// line and a [`Reason`]. Unmatched rows create CSV records. An import
/// never deactivates anything.
pub fn plan_csv(import: &CsvImport, policy: &Policy, host: &[HostLocation]) -> CsvPlan {
    let mut row_errors = import.errors.clone();
    let locations = host
        .iter()
        .map(|l| plan_csv_location(import, policy, l, &mut row_errors))
        .collect();
    row_errors.sort_by_key(|e| e.line);
    CsvPlan {
        plan: Plan::seal(
            "csv".to_string(),
            locations,
            Vec::new(),
            Vec::new(),
            Vec::new(),
        ),
        row_errors,
    }
}

/// What a CSV row may do to the one record it matches.
fn csv_refusal(r: &Recipient, policy: &Policy) -> Option<Reason> {
    if !r.directory_owned() {
        None
    } else if !policy.ownership.csv_updates_directory {
        Some(Reason::CsvMayNotUpdateDirectory)
    } else if !r.active {
        Some(Reason::CsvMayNotReactivateDirectory)
    } else {
        None
    }
}

fn plan_csv_location(
    import: &CsvImport,
    policy: &Policy,
    host: &HostLocation,
    row_errors: &mut Vec<RowError>,
) -> LocationPlan {
    let loc = &host.location;
    let by_email = email_index(&host.records);
    let (mut ops, mut conflicts, mut unchanged) = (Vec::new(), Vec::new(), 0);
    for row in import.rows.iter().filter(|r| r.location_id == loc.id) {
        match by_email.get(row.email.as_str()).map(Vec::as_slice) {
            None => ops.push(csv_create(&loc.id, row)),
            Some(&[r]) => match csv_refusal(r, policy) {
                Some(reason) => row_errors.push(RowError::refused(row, r, reason)),
                None => match csv_change(r, row) {
                    Some(op) => ops.push(op),
                    None => unchanged += 1,
                },
            },
            Some(many) => conflicts.push(duplicate_records(&loc.id, row, many)),
        }
    }
    let records = host.records.len() as u64;
    let (id, name) = (loc.id.clone(), loc.name.clone());
    LocationPlan::seal(id, name, ops, conflicts, Vec::new(), records, unchanged)
}

/// A location's records by normalized email.
fn email_index(records: &[Recipient]) -> FxHashMap<std::borrow::Cow<'_, str>, Vec<&Recipient>> {
    let mut by_email: FxHashMap<_, Vec<&Recipient>> = FxHashMap::default();
    for r in records {
        by_email
            .entry(normalize_email(&r.email))
            .or_default()
            .push(r);
    }
    by_email
}

fn csv_create(location_id: &str, row: &CsvRow) -> Operation {
    Operation::Create(Create {
        location_id: location_id.to_string(),
        external_id: None,
        source: Source::Csv,
        email: row.email.clone(),
        fields: row.fields.clone(),
        reason: Reason::CsvNewRow,
    })
}

/// A row matching several records of its location: none is changed.
fn duplicate_records(location_id: &str, row: &CsvRow, many: &[&Recipient]) -> Conflict {
    let mut record_ids: Vec<String> = many.iter().map(|r| r.id.clone()).collect();
    record_ids.sort();
    Conflict {
        kind: ConflictKind::DuplicateRecords,
        location_id: Some(location_id.to_string()),
        email: row.email.clone(),
        user_ids: Vec::new(),
        record_ids,
    }
}

fn csv_change(r: &Recipient, row: &CsvRow) -> Option<Operation> {
    let changes: Vec<FieldChange> = row
        .fields
        .iter()
        .filter(|(k, v)| r.field(k) != Some(v.as_str()))
        .map(|(k, v)| FieldChange {
            field: k.clone(),
            old: r.field(k).map(str::to_string),
            new: Some(v.clone()),
        })
        .collect();
    let (active, reason) = match (r.active, changes.is_empty()) {
        (false, _) => (false, Reason::CsvReactivated),
        (true, false) => (true, Reason::CsvChanged),
        (true, true) => return None,
    };
    let change = Change {
        record_id: r.id.clone(),
        external_id: r.external_id.clone(),
        link: false,
        changes,
        reason,
    };
    Some(if active {
        Operation::Update(change)
    } else {
        Operation::Reactivate(change)
    })
}
