//! What the directory wants, computed once per snapshot: each user's
//! normalized email and mapped fields, their class (present, no email,
//! duplicate email), the scope of each location, and the directory-wide
//! conflicts.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use directory_core::{DirectoryUser, Snapshot};
use rustc_hash::FxHashMap;

use crate::mapping::{normalize_email, plausible_email, Attribute};
use crate::plan::{Conflict, ConflictKind};
use crate::policy::{Policy, Scope};

/// What a directory user is to reconcile, before looking at any location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Present, with a usable email of their own: wanted wherever in scope.
    Eligible,
    /// Their status does not count as present.
    NotPresent,
    /// Present, but with no usable email.
    NoEmail,
    /// Present, but another present user has the same email.
    DuplicateEmail,
}

/// A fixed-size set of user indices.
#[derive(Debug, Clone)]
pub(crate) struct BitSet(Vec<u64>);

impl BitSet {
    pub(crate) fn new(len: usize) -> Self {
        Self(vec![0; len.div_ceil(64)])
    }

    pub(crate) fn contains(&self, i: usize) -> bool {
        self.0
            .get(i / 64)
            .is_some_and(|word| word & (1 << (i % 64)) != 0)
    }

    /// The set bits, in order, skipping empty words.
    pub(crate) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &word)| {
            let mut bits = word;
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let b = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    w * 64 + b
                })
            })
        })
    }

    /// Sets bit `i`; returns whether it was already set.
    pub(crate) fn insert(&mut self, i: usize) -> bool {
        let bit = 1u64 << (i % 64);
        let Some(word) = self.0.get_mut(i / 64) else {
            return false;
        };
        let was = *word & bit != 0;
        *word |= bit;
        was
    }
}

/// Which users are in scope for a location.
#[derive(Debug, Clone, Copy)]
pub(crate) enum InScope<'r> {
    /// Every user.
    All,
    /// The users in this set.
    Some(&'r BitSet),
    /// No user (no group maps to the location).
    None,
}

impl<'r> InScope<'r> {
    /// The users in scope, in index order (`users` of them in all).
    pub(crate) fn users(self, users: usize) -> Box<dyn Iterator<Item = usize> + 'r> {
        match self {
            InScope::All => Box::new(0..users),
            InScope::Some(set) => Box::new(set.iter()),
            InScope::None => Box::new(std::iter::empty()),
        }
    }

    pub(crate) fn contains(self, user: usize) -> bool {
        match self {
            InScope::All => true,
            InScope::Some(set) => set.contains(user),
            InScope::None => false,
        }
    }
}

/// The precomputed directory side. Borrows the snapshot: values that need no
/// normalization are not copied.
#[derive(Debug)]
pub(crate) struct Desired<'a> {
    pub(crate) users: &'a [DirectoryUser],
    pub(crate) classes: Vec<Class>,
    /// Each user's normalized email.
    pub(crate) emails: Vec<Option<Cow<'a, str>>>,
    /// Mapped field names, sorted.
    pub(crate) field_names: Vec<&'a str>,
    /// Field values, user by user, `field_names.len()` per user.
    values: Vec<Option<Cow<'a, str>>>,
    /// User id -> index.
    pub(crate) by_id: FxHashMap<&'a str, u32>,
    /// Location id -> users in scope there (group scope only).
    scope: Option<FxHashMap<&'a str, BitSet>>,
    pub(crate) conflicts: Vec<Conflict>,
    pub(crate) warnings: Vec<String>,
}

impl<'a> Desired<'a> {
    pub(crate) fn new(snapshot: &'a Snapshot, policy: &'a Policy) -> Self {
        let users = snapshot.users.as_slice();
        let mut fields: Vec<(&'a str, &'a Attribute)> = policy
            .mapping
            .fields
            .iter()
            .map(|f| (f.field.as_str(), &f.from))
            .collect();
        fields.sort_by(|a, b| a.0.cmp(b.0));
        let mut values = Vec::with_capacity(users.len() * fields.len());
        let mut emails = Vec::with_capacity(users.len());
        let mut classes = Vec::with_capacity(users.len());
        let mut by_id = FxHashMap::with_capacity_and_hasher(users.len(), Default::default());
        for (i, u) in users.iter().enumerate() {
            values.extend(fields.iter().map(|(_, attr)| attr.value(u)));
            let email = user_email(u, &policy.mapping.email);
            classes.push(classify(u, policy, email.as_deref()));
            emails.push(email);
            by_id.insert(u.id.as_str(), i as u32);
        }
        let mut desired = Self {
            users,
            classes,
            emails,
            field_names: fields.iter().map(|f| f.0).collect(),
            values,
            by_id,
            scope: None,
            conflicts: Vec::new(),
            warnings: Vec::new(),
        };
        desired.mark_duplicate_emails();
        if let Scope::Groups { groups } = &policy.scope {
            desired.scope = Some(desired.group_scope(snapshot, groups));
        }
        desired
    }

    /// User `u`'s class (`NotPresent` for an index out of range).
    pub(crate) fn class(&self, u: usize) -> Class {
        self.classes.get(u).copied().unwrap_or(Class::NotPresent)
    }

    /// User `u`'s normalized email (empty when it has none).
    pub(crate) fn email(&self, u: usize) -> &str {
        self.emails.get(u).and_then(Option::as_deref).unwrap_or("")
    }

    /// User `u`'s directory id.
    pub(crate) fn user_id(&self, u: usize) -> String {
        self.users.get(u).map(|x| x.id.clone()).unwrap_or_default()
    }

    /// User `u`.
    pub(crate) fn user(&self, u: usize) -> Option<&'a DirectoryUser> {
        self.users.get(u)
    }

    /// The mapped field values of user `u`, in `field_names` order.
    pub(crate) fn values(&self, u: usize) -> &[Option<Cow<'a, str>>] {
        let n = self.field_names.len();
        self.values.get(u * n..(u + 1) * n).unwrap_or_default()
    }

    pub(crate) fn in_scope(&self, location_id: &str) -> InScope<'_> {
        match &self.scope {
            None => InScope::All,
            Some(map) => map.get(location_id).map_or(InScope::None, InScope::Some),
        }
    }

    /// Whether any eligible user is in scope of at least one location.
    pub(crate) fn any_eligible_in_scope(&self) -> bool {
        let eligible = |i: usize| self.class(i) == Class::Eligible;
        match &self.scope {
            None => (0..self.users.len()).any(eligible),
            Some(map) => map.values().any(|set| set.iter().any(eligible)),
        }
    }

    /// Two or more eligible users with one email: all become
    /// [`Class::DuplicateEmail`], and one conflict names them.
    fn mark_duplicate_emails(&mut self) {
        let mut first: FxHashMap<&str, u32> =
            FxHashMap::with_capacity_and_hasher(self.emails.len(), Default::default());
        let mut groups: BTreeMap<&str, BTreeSet<u32>> = BTreeMap::new();
        let eligible = self.emails.iter().zip(&self.classes).enumerate();
        for (i, (e, class)) in eligible {
            let Some(e) = e.as_deref().filter(|_| *class == Class::Eligible) else {
                continue;
            };
            if let Some(&j) = first.get(e) {
                groups.entry(e).or_default().extend([j, i as u32]);
            } else {
                first.insert(e, i as u32);
            }
        }
        let mut conflicts = Vec::with_capacity(groups.len());
        let mut dup = Vec::new();
        for (email, members) in groups {
            dup.extend(members.iter().copied());
            conflicts.push(Conflict {
                kind: ConflictKind::DuplicateEmail,
                location_id: None,
                email: email.to_string(),
                user_ids: members.iter().map(|&i| self.user_id(i as usize)).collect(),
                record_ids: Vec::new(),
            });
        }
        for i in dup {
            if let Some(class) = self.classes.get_mut(i as usize) {
                *class = Class::DuplicateEmail;
            }
        }
        self.conflicts = conflicts;
    }

    fn group_scope(
        &mut self,
        snapshot: &'a Snapshot,
        groups: &'a BTreeMap<String, BTreeSet<String>>,
    ) -> FxHashMap<&'a str, BitSet> {
        let mut scope: FxHashMap<&'a str, BitSet> = FxHashMap::default();
        for locations in groups.values() {
            for l in locations {
                scope
                    .entry(l.as_str())
                    .or_insert_with(|| BitSet::new(self.users.len()));
            }
        }
        for m in &snapshot.memberships {
            let (Some(locations), Some(&u)) =
                (groups.get(&m.group_id), self.by_id.get(m.user_id.as_str()))
            else {
                continue;
            };
            for l in locations {
                if let Some(set) = scope.get_mut(l.as_str()) {
                    set.insert(u as usize);
                }
            }
        }
        for (g, locations) in groups {
            if snapshot.group(g).is_none() {
                self.warnings.push(format!(
                    "group {g} is mapped to {} but is not in the directory: its members count as out of scope there",
                    locations.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        scope
    }
}

fn user_email<'a>(u: &'a DirectoryUser, attr: &Attribute) -> Option<Cow<'a, str>> {
    let raw = attr.value(u)?;
    let e = match raw {
        Cow::Borrowed(s) => normalize_email(s),
        Cow::Owned(s) => Cow::Owned(normalize_email(&s).into_owned()),
    };
    plausible_email(&e).then_some(e)
}

fn classify(u: &DirectoryUser, policy: &Policy, email: Option<&str>) -> Class {
    if !policy.present_statuses.contains(&u.status) {
        Class::NotPresent
    } else if email.is_none() {
        Class::NoEmail
    } else {
        Class::Eligible
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use directory_core::{DirectoryGroup, Membership, UserStatus};

    fn snapshot() -> Snapshot {
        let mut suspended = DirectoryUser::new("u4", "d").with_email("d@x.com", true);
        suspended.status = UserStatus::Suspended;
        Snapshot::from_parts(
            "test",
            vec![
                DirectoryUser::new("u1", "a").with_email("A@x.com", true),
                DirectoryUser::new("u2", "b").with_email("a@X.com ", true),
                DirectoryUser::new("u3", "c"),
                suspended,
            ],
            vec![DirectoryGroup::new("g1", "Berlin")],
            vec![
                Membership::direct("g1", "u3"),
                Membership::direct("g1", "u4"),
            ],
            vec![],
        )
    }

    #[test]
    fn bitset_iterates_its_members_in_order() {
        let mut b = BitSet::new(200);
        for i in [0, 63, 64, 130, 199] {
            assert!(!b.insert(i));
        }
        assert!(b.insert(64));
        assert_eq!(b.iter().collect::<Vec<_>>(), [0, 63, 64, 130, 199]);
        assert_eq!(InScope::Some(&b).users(200).count(), 5);
        assert_eq!(InScope::All.users(7).count(), 7);
        assert_eq!(InScope::None.users(7).count(), 0);
    }

    #[test]
    fn users_are_classified_once() {
        let s = snapshot();
        let p = Policy::default();
        let d = Desired::new(&s, &p);
        assert_eq!(
            d.classes,
            [
                Class::DuplicateEmail,
                Class::DuplicateEmail,
                Class::NoEmail,
                Class::NotPresent
            ]
        );
        assert_eq!(d.conflicts.len(), 1);
        assert_eq!(d.conflicts[0].email, "a@x.com");
        assert_eq!(d.conflicts[0].user_ids, ["u1", "u2"]);
        assert!(!d.any_eligible_in_scope());
    }

    #[test]
    fn group_scope_sets_bits_and_warns_about_missing_groups() {
        let s = snapshot();
        let p = Policy {
            scope: Scope::groups([("g1", "ber"), ("gone", "par")]),
            ..Policy::default()
        };
        let d = Desired::new(&s, &p);
        let ber = d.in_scope("ber");
        assert!(ber.contains(2) && ber.contains(3) && !ber.contains(0));
        assert!(!d.in_scope("par").contains(2));
        assert!(!d.in_scope("elsewhere").contains(0));
        assert_eq!(d.warnings.len(), 1);
        assert!(d.warnings[0].contains("group gone is mapped to par"));
    }
}
