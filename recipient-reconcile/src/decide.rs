//! The decision for one host record: a small computed state, one exhaustive
//! `match`, and the field comparison behind updates.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::mapping::email_matches;
use crate::plan::{FieldChange, Reason};
use crate::policy::Policy;
use crate::record::{Recipient, Source};

/// Who owns a record, from its source and adoption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// Created or adopted by the directory.
    Directory,
    /// Created by CSV, not adopted.
    Csv,
    /// Made by hand, not adopted.
    Manual,
}

impl Owner {
    pub(crate) fn of(r: &Recipient) -> Self {
        match (r.source, r.adopted) {
            (Source::Directory, _) | (_, true) => Owner::Directory,
            (Source::Csv, false) => Owner::Csv,
            (Source::Manual, false) => Owner::Manual,
        }
    }
}

/// How a record relates to what the directory wants in its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Link {
    /// A wanted user's record, found by directory id or by email.
    Wanted { user: u32, by_email: bool },
    /// Involved in a conflict, or its user is in scope but cannot be synced
    /// (no email, duplicate email): left as it is.
    Held,
    /// The directory does not want it here, for this reason.
    Gone(Reason),
}

/// Everything the decision looks at.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub(crate) owner: Owner,
    pub(crate) active: bool,
    pub(crate) protected: bool,
    pub(crate) link: Link,
}

/// What to do with one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Leave it.
    Nothing,
    /// Bring it in line with the user (update or reactivate, maybe link).
    Sync {
        user: u32,
        link: bool,
        reason: Reason,
    },
    /// Deactivate it.
    Deactivate(Reason),
    /// Leave it, and say why.
    Skip(Reason),
    /// The user's record exists but the policy may not adopt it.
    NotAdoptable { user: u32 },
}

/// The one decision table.
pub(crate) fn decide(s: State, policy: &Policy) -> Decision {
    let own = policy.ownership;
    match (s.link, s.owner) {
        (Link::Wanted { user, by_email }, Owner::Directory) => {
            let reason = match (s.active, by_email) {
                (false, _) => Reason::BackInDirectory,
                (true, true) => Reason::LinkByEmail,
                (true, false) => Reason::AttributesChanged,
            };
            Decision::Sync {
                user,
                link: by_email,
                reason,
            }
        }
        (Link::Wanted { user, .. }, Owner::Csv) if own.directory_updates_csv => Decision::Sync {
            user,
            link: true,
            reason: Reason::AdoptCsvRecord,
        },
        (Link::Wanted { user, .. }, Owner::Manual) if own.directory_updates_manual => {
            Decision::Sync {
                user,
                link: true,
                reason: Reason::AdoptManualRecord,
            }
        }
        (Link::Wanted { user, .. }, Owner::Csv | Owner::Manual) => Decision::NotAdoptable { user },
        (Link::Held, _) => Decision::Nothing,
        (Link::Gone(_), Owner::Csv | Owner::Manual) => Decision::Nothing,
        (Link::Gone(_), Owner::Directory) if !s.active => Decision::Nothing,
        (Link::Gone(_), Owner::Directory) if s.protected => Decision::Skip(Reason::Protected),
        (Link::Gone(_), Owner::Directory) if !policy.deactivate_missing => {
            Decision::Skip(Reason::DeactivationDisabled)
        }
        (Link::Gone(reason), Owner::Directory) => Decision::Deactivate(reason),
    }
}

/// Whether the record already holds the wanted email and field values.
/// Allocates nothing unless an email differs in case or spacing.
pub(crate) fn in_sync(
    r: &Recipient,
    email: &str,
    names: &[&str],
    values: &[Option<Cow<'_, str>>],
) -> bool {
    if !email_matches(&r.email, email) {
        return false;
    }
    // Merge-join: both the mapped names and the record's map are sorted.
    let mut have = r.fields.iter().peekable();
    names.iter().zip(values).all(|(name, want)| {
        let mut found = None;
        while let Some((k, v)) = have.peek() {
            match k.as_str().cmp(name) {
                Ordering::Less => {
                    have.next();
                }
                Ordering::Equal => {
                    found = Some(v.as_str()).filter(|v| !v.is_empty());
                    have.next();
                    break;
                }
                Ordering::Greater => break,
            }
        }
        found == want.as_deref()
    })
}

/// The field-level changes that bring `r` in line.
pub(crate) fn changes(
    r: &Recipient,
    email: &str,
    names: &[&str],
    values: &[Option<Cow<'_, str>>],
) -> Vec<FieldChange> {
    let mut out = Vec::new();
    if !email_matches(&r.email, email) {
        out.push(FieldChange {
            field: "email".to_string(),
            old: Some(r.email.clone()).filter(|e| !e.is_empty()),
            new: Some(email.to_string()),
        });
    }
    for (name, want) in names.iter().zip(values) {
        let old = r.field(name);
        if old != want.as_deref() {
            out.push(FieldChange {
                field: (*name).to_string(),
                old: old.map(str::to_string),
                new: want.as_deref().map(str::to_string),
            });
        }
    }
    out
}

/// The fields of a new record: every mapped field that has a value.
pub(crate) fn new_fields(
    names: &[&str],
    values: &[Option<Cow<'_, str>>],
) -> BTreeMap<String, String> {
    names
        .iter()
        .zip(values)
        .filter_map(|(n, v)| Some(((*n).to_string(), v.as_deref()?.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(owner: Owner, active: bool, link: Link) -> State {
        State {
            owner,
            active,
            protected: false,
            link,
        }
    }

    const WANT: Link = Link::Wanted {
        user: 7,
        by_email: true,
    };

    #[test]
    fn directory_records_sync_and_foreign_ones_need_permission() {
        let mut p = Policy::default();
        let d = decide(state(Owner::Directory, false, WANT), &p);
        assert_eq!(
            d,
            Decision::Sync {
                user: 7,
                link: true,
                reason: Reason::BackInDirectory
            }
        );
        assert_eq!(
            decide(state(Owner::Csv, true, WANT), &p),
            Decision::NotAdoptable { user: 7 }
        );
        p.ownership.directory_updates_csv = true;
        assert!(matches!(
            decide(state(Owner::Csv, true, WANT), &p),
            Decision::Sync {
                reason: Reason::AdoptCsvRecord,
                ..
            }
        ));
        assert_eq!(
            decide(state(Owner::Manual, true, WANT), &p),
            Decision::NotAdoptable { user: 7 }
        );
    }

    #[test]
    fn only_active_directory_records_are_deactivated() {
        let mut p = Policy::default();
        let gone = || Link::Gone(Reason::NotInDirectory);
        assert_eq!(
            decide(state(Owner::Directory, true, gone()), &p),
            Decision::Deactivate(Reason::NotInDirectory)
        );
        assert_eq!(
            decide(state(Owner::Directory, false, gone()), &p),
            Decision::Nothing
        );
        assert_eq!(
            decide(state(Owner::Csv, true, gone()), &p),
            Decision::Nothing
        );
        assert_eq!(
            decide(state(Owner::Manual, true, gone()), &p),
            Decision::Nothing
        );
        let mut s = state(Owner::Directory, true, gone());
        s.protected = true;
        assert_eq!(decide(s, &p), Decision::Skip(Reason::Protected));
        p.deactivate_missing = false;
        assert_eq!(
            decide(state(Owner::Directory, true, gone()), &p),
            Decision::Skip(Reason::DeactivationDisabled)
        );
        assert_eq!(
            decide(state(Owner::Directory, true, Link::Held), &p),
            Decision::Nothing
        );
    }

    #[test]
    fn field_comparison_treats_blank_as_absent_and_ignores_host_fields() {
        let r = Recipient::new("r", "l", Source::Directory, "Ada@X.com")
            .with_field("a", "1")
            .with_field("b", "")
            .with_field("host_only", "x")
            .with_field("z", "9");
        let names = ["a", "b", "c", "z"];
        let vals = [
            Some(Cow::Borrowed("1")),
            None,
            None,
            Some(Cow::Borrowed("9")),
        ];
        assert!(in_sync(&r, "ada@x.com", &names, &vals));
        assert!(changes(&r, "ada@x.com", &names, &vals).is_empty());
        let vals2 = [
            Some(Cow::Borrowed("2")),
            None,
            Some(Cow::Borrowed("3")),
            None,
        ];
        assert!(!in_sync(&r, "ada@x.com", &names, &vals2));
        let c = changes(&r, "bob@x.com", &names, &vals2);
        let fields: Vec<_> = c.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["email", "a", "c", "z"]);
        assert_eq!(c[3].new, None);
        assert_eq!(c[0].old.as_deref(), Some("Ada@X.com"));
    }
}
