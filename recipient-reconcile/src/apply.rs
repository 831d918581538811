//! Applying a plan to records held in memory: what tests, examples and a
//! simple host use. A host with a database applies the same operations in
//! its own transaction.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::plan::{Change, Create, FieldChange, LocationPlan, Operation, Plan};
use crate::record::{HostData, Recipient, Source};

/// A plan does not fit the records it is applied to (they changed since it
/// was made): nothing is applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The plan names a location the host does not have.
    #[error("the plan names location {0}, which the host does not have")]
    UnknownLocation(String),
    /// An operation names a record that is not there.
    #[error("the plan names record {0}, which is not among the records: plan again")]
    UnknownRecord(String),
    /// A field's current value is not the `old` value the plan expects.
    #[error("record {record_id} field {field} changed since the plan was made: plan again")]
    Stale {
        /// The record.
        record_id: String,
        /// The field.
        field: String,
    },
}

/// Applies one location's plan to that location's records, all or nothing.
/// `new_id` gives each created record its host id.
pub fn apply_location(
    records: &mut Vec<Recipient>,
    plan: &LocationPlan,
    mut new_id: impl FnMut(&Create) -> String,
) -> Result<(), ApplyError> {
    let index: FxHashMap<&str, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    let mut edits: Vec<(usize, &Operation)> = Vec::with_capacity(plan.operations.len());
    for op in &plan.operations {
        let id = match op {
            Operation::Create(_) => continue,
            Operation::Update(c) | Operation::Reactivate(c) => &c.record_id,
            Operation::Deactivate(d) => &d.record_id,
        };
        let &i = index
            .get(id.as_str())
            .ok_or_else(|| ApplyError::UnknownRecord(id.clone()))?;
        let record = records
            .get(i)
            .ok_or_else(|| ApplyError::UnknownRecord(id.clone()))?;
        if let Operation::Update(c) | Operation::Reactivate(c) = op {
            check_old(record, c)?;
        }
        edits.push((i, op));
    }
    for (i, op) in edits {
        if let Some(record) = records.get_mut(i) {
            edit(record, op);
        }
    }
    for op in &plan.operations {
        if let Operation::Create(c) = op {
            records.push(Recipient {
                id: new_id(c),
                location_id: c.location_id.clone(),
                external_id: c.external_id.clone(),
                source: c.source,
                adopted: false,
                active: true,
                email: c.email.clone(),
                fields: c.fields.clone(),
            });
        }
    }
    Ok(())
}

/// Applies a whole plan to the host's records, location by location (each
/// location plan to the host location with its id), all or nothing per
/// location. Creates get ids `"{location_id}-{n}"`, skipping ids in use.
pub fn apply(host: &mut HostData, plan: &Plan) -> Result<(), ApplyError> {
    for lp in &plan.locations {
        let loc = host
            .locations
            .iter_mut()
            .find(|l| l.location.id == lp.location_id)
            .ok_or_else(|| ApplyError::UnknownLocation(lp.location_id.clone()))?;
        let taken: FxHashSet<String> = loc.records.iter().map(|r| r.id.clone()).collect();
        let mut n = 0u64;
        apply_location(&mut loc.records, lp, |c| loop {
            n += 1;
            let id = format!("{}-{n}", c.location_id);
            if !taken.contains(&id) {
                break id;
            }
        })?;
    }
    Ok(())
}

fn check_old(r: &Recipient, c: &Change) -> Result<(), ApplyError> {
    for f in &c.changes {
        let now = if f.field == "email" {
            Some(r.email.as_str()).filter(|e| !e.is_empty())
        } else {
            r.field(&f.field)
        };
        if now != f.old.as_deref() {
            return Err(ApplyError::Stale {
                record_id: r.id.clone(),
                field: f.field.clone(),
            });
        }
    }
    Ok(())
}

fn edit(r: &mut Recipient, op: &Operation) {
    match op {
        Operation::Create(_) => {}
        Operation::Update(c) => change(r, c),
        Operation::Reactivate(c) => {
            change(r, c);
            r.active = true;
        }
        Operation::Deactivate(_) => r.active = false,
    }
}

fn change(r: &mut Recipient, c: &Change) {
    if c.link {
        r.external_id.clone_from(&c.external_id);
        r.adopted = r.source != Source::Directory;
    }
    c.changes.iter().for_each(|f| set_field(r, f));
}

fn set_field(r: &mut Recipient, f: &FieldChange) {
    match (f.field.as_str(), &f.new) {
        ("email", new) => r.email = new.clone().unwrap_or_default(),
        (name, Some(v)) => {
            r.fields.insert(name.to_string(), v.clone());
        }
        (name, None) => {
            r.fields.remove(name);
        }
    }
}
