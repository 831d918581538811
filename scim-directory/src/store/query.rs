//! Lookups by index: the part of a SCIM filter a store answers from its
//! indexes ([`IndexFilter`]), the query a list request becomes
//! ([`ResourceQuery`] -> [`ResourcePage`]), and its translation to SQL for
//! the SQLite and PostgreSQL stores.
//!
//! A filter splits into an indexed part and the rest ([`split`]): the
//! indexed part selects candidates by index, the rest is evaluated over
//! them. Indexed are `id` and `externalId` (case-exact), a user's
//! `userName` and a group's `displayName` (case-insensitive: the stored
//! unique key is the name lower-cased), compared with `eq` or `sw`, and a
//! group's members (`members.value eq` or `members[value eq ..]`), combined
//! with `and` / `or`.

use serde_json::Value;

use super::StoredResource;
use crate::filter::{AttrPath, CompareOp, Filter};
use crate::schema::ResourceType;

/// An attribute the stores index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexedAttr {
    /// The resource id (case-exact).
    Id,
    /// `externalId` (case-exact).
    ExternalId,
    /// The per-tenant unique key ([`StoredResource::unique_key`]): a user's
    /// `userName`, a group's `displayName`, lower-cased.
    Key,
}

/// How an [`IndexFilter::Compare`] compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexOp {
    /// Equal.
    Eq,
    /// Starts with.
    Sw,
}

/// The part of a SCIM filter a store answers from its indexes. Every
/// resource it selects is a candidate; [`split`] says whether they are
/// exactly the resources the whole filter matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexFilter {
    /// `attr op value`; for [`IndexedAttr::Key`] the value is lower-cased.
    Compare(IndexedAttr, IndexOp, String),
    /// The groups whose `members` list this id (a user or a group).
    HasMember(String),
    /// Both.
    And(Box<IndexFilter>, Box<IndexFilter>),
    /// Either.
    Or(Box<IndexFilter>, Box<IndexFilter>),
}

impl IndexFilter {
    /// Whether the stored resource is selected (what the SQL stores compute
    /// by index; the memory store evaluates it).
    pub fn matches(&self, r: &StoredResource) -> bool {
        match self {
            IndexFilter::And(a, b) => a.matches(r) && b.matches(r),
            IndexFilter::Or(a, b) => a.matches(r) || b.matches(r),
            IndexFilter::HasMember(m) => super::member_ids(r).iter().any(|id| id == m),
            IndexFilter::Compare(attr, op, want) => {
                let have = match attr {
                    IndexedAttr::Id => Some(r.id.clone()),
                    IndexedAttr::ExternalId => external_id(r).map(str::to_string),
                    IndexedAttr::Key => r.unique_key(),
                };
                have.is_some_and(|h| match op {
                    IndexOp::Eq => h == *want,
                    IndexOp::Sw => h.starts_with(want.as_str()),
                })
            }
        }
    }
}

/// A resource's `externalId`, when it is a string (what the stores index).
pub(crate) fn external_id(r: &StoredResource) -> Option<&str> {
    r.body.get("externalId").and_then(Value::as_str)
}

/// A group's `displayName` as sent (kept beside the group so that a user's
/// `groups` is rendered without reading the group's body); `None` for a
/// user.
pub(crate) fn group_display_name(r: &StoredResource) -> Option<&str> {
    match r.resource_type {
        ResourceType::Group => r.body.get("displayName").and_then(Value::as_str),
        ResourceType::User => None,
    }
}

/// One page of a [`crate::Store::query`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceQuery<'a> {
    /// Only resources this selects; `None` for all.
    pub filter: Option<&'a IndexFilter>,
    /// How many of the selected resources to skip (SCIM `startIndex - 1`).
    pub offset: usize,
    /// At most this many resources in the page (SCIM `count`; may be 0).
    pub limit: usize,
}

/// The answer to a [`ResourceQuery`].
#[derive(Debug, Clone, PartialEq)]
pub struct ResourcePage {
    /// How many resources the filter selects in all (SCIM `totalResults`).
    pub total: usize,
    /// The page, in creation order.
    pub resources: Vec<StoredResource>,
}

/// A group a member is listed in, for rendering a user's `groups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    /// The member (a user or a group id).
    pub member_id: String,
    /// The group that lists it.
    pub group_id: String,
    /// The group's `displayName`.
    pub display_name: String,
}

/// Splits `filter` for resources of type `rt` into its indexed part and
/// whether that part is exact: `(Some(i), true)` when `i` selects exactly
/// the resources `filter` matches, `(Some(i), false)` when it selects a
/// superset (the rest is evaluated over the candidates), `(None, _)` when
/// no index narrows it.
pub(crate) fn split(rt: ResourceType, filter: &Filter) -> (Option<IndexFilter>, bool) {
    match filter {
        Filter::Compare(path, op, Value::String(v)) => match compare(rt, path, *op, v) {
            Some(f) => (Some(f), true),
            None => (None, false),
        },
        Filter::ValuePath(path, inner) if rt == ResourceType::Group && is(path, "members") => {
            match &**inner {
                Filter::Compare(sub, CompareOp::Eq, Value::String(v)) if is(sub, "value") => {
                    (Some(IndexFilter::HasMember(v.clone())), true)
                }
                _ => (None, false),
            }
        }
        Filter::And(a, b) => match (split(rt, a), split(rt, b)) {
            ((Some(a), ea), (Some(b), eb)) => {
                (Some(IndexFilter::And(Box::new(a), Box::new(b))), ea && eb)
            }
            ((Some(one), _), (None, _)) | ((None, _), (Some(one), _)) => (Some(one), false),
            _ => (None, false),
        },
        Filter::Or(a, b) => match (split(rt, a), split(rt, b)) {
            ((Some(a), ea), (Some(b), eb)) => {
                (Some(IndexFilter::Or(Box::new(a), Box::new(b))), ea && eb)
            }
            _ => (None, false),
        },
        _ => (None, false),
    }
}

/// `name` alone (no URN, no sub-attribute), compared case-insensitively.
fn is(path: &AttrPath, name: &str) -> bool {
    path.urn.is_none() && path.sub.is_none() && path.name.eq_ignore_ascii_case(name)
}

fn compare(rt: ResourceType, path: &AttrPath, op: CompareOp, v: &str) -> Option<IndexFilter> {
    let op = match op {
        CompareOp::Eq => IndexOp::Eq,
        CompareOp::Sw => IndexOp::Sw,
        _ => return None,
    };
    let members_value = rt == ResourceType::Group
        && path.urn.is_none()
        && path.name.eq_ignore_ascii_case("members")
        && path
            .sub
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("value"));
    if members_value {
        return (op == IndexOp::Eq).then(|| IndexFilter::HasMember(v.to_string()));
    }
    let (attr, value) = if is(path, "id") {
        (IndexedAttr::Id, v.to_string())
    } else if is(path, "externalId") {
        (IndexedAttr::ExternalId, v.to_string())
    } else if is(path, super::unique_attribute(rt)) {
        (IndexedAttr::Key, v.to_lowercase())
    } else {
        return None;
    };
    Some(IndexFilter::Compare(attr, op, value))
}

/// The least string greater than every string that starts with `prefix`
/// (in code point order, which is byte order in UTF-8 and the order of
/// PostgreSQL's `C` collation and SQLite's `BINARY`), or `None` when no
/// such string exists: `sw` becomes the index range `[prefix, upper)`.
pub(crate) fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(u32::from(c) + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// How a SQL store spells its placeholders and names its tables.
pub(crate) struct Dialect {
    /// `$` (PostgreSQL) or `?` (SQLite), followed by the parameter number.
    pub placeholder: char,
    /// The resources table.
    pub resources: &'static str,
    /// The membership table.
    pub members: &'static str,
    /// A table of resources per tenant and kind (`tenant`, `kind`, `n`),
    /// kept current by the database (PostgreSQL: triggers on the resources
    /// table), if the store has one: an unfiltered page's total is then read
    /// from it instead of counted.
    pub counts: Option<&'static str>,
}

/// The SQL of an [`IndexFilter`] condition over one resource row, and its
/// text parameters (numbered from `first_param`).
pub(crate) struct Condition {
    /// The condition (`true` when there is no filter).
    pub sql: String,
    /// The parameters, in order.
    pub params: Vec<String>,
}

impl Condition {
    /// `filter` as SQL over the row `r`; `$1` (or `?1`) is the tenant.
    pub(crate) fn new(d: &Dialect, filter: Option<&IndexFilter>, first_param: usize) -> Self {
        let mut c = Condition {
            sql: String::new(),
            params: Vec::new(),
        };
        match filter {
            Some(f) => c.push(d, f, first_param),
            None => c.sql.push_str("1 = 1"),
        }
        c
    }

    fn param(&mut self, d: &Dialect, first: usize, value: String) -> String {
        self.params.push(value);
        format!("{}{}", d.placeholder, first + self.params.len() - 1)
    }

    fn push(&mut self, d: &Dialect, f: &IndexFilter, first: usize) {
        match f {
            IndexFilter::And(a, b) | IndexFilter::Or(a, b) => {
                let op = if matches!(f, IndexFilter::And(..)) {
                    " AND "
                } else {
                    " OR "
                };
                self.sql.push('(');
                self.push(d, a, first);
                self.sql.push_str(op);
                self.push(d, b, first);
                self.sql.push(')');
            }
            IndexFilter::HasMember(m) => {
                let p = self.param(d, first, m.clone());
                self.sql.push_str(&format!(
                    "r.id IN (SELECT m.group_id FROM {} m WHERE m.tenant = {}1 AND m.member_id = {p})",
                    d.members, d.placeholder
                ));
            }
            IndexFilter::Compare(attr, op, v) => {
                let col = match attr {
                    IndexedAttr::Id => "r.id",
                    IndexedAttr::ExternalId => "r.external_id",
                    IndexedAttr::Key => "r.unique_key",
                };
                let sql = match op {
                    IndexOp::Eq => format!("{col} = {}", self.param(d, first, v.clone())),
                    IndexOp::Sw => {
                        let low = self.param(d, first, v.clone());
                        match prefix_upper_bound(v) {
                            Some(up) => {
                                let up = self.param(d, first, up);
                                format!("({col} >= {low} AND {col} < {up})")
                            }
                            None => format!("{col} >= {low}"),
                        }
                    }
                };
                self.sql.push_str(&sql);
            }
        }
    }
}

/// The SQL of a [`ResourceQuery`]: `$1` tenant, `$2` kind, `$3` limit, `$4`
/// offset, then the condition's parameters. One statement, so the total
/// and the page are read from one snapshot; it answers one row with the
/// total and NULL columns when the page is empty.
///
/// Unfiltered, the page starts at the `offset`-th row's position, found on
/// the `(tenant, kind, created_seq)` index alone, so a deep page of an
/// import does not read the rows before it. Filtered, the condition's own
/// index selects the rows, which are then sorted: walking the position
/// index and filtering (what a planner picks for `created_seq >= x ORDER
/// BY created_seq`) would read the whole tenant for one `userName`.
pub(crate) fn page_sql(d: &Dialect, cols: &str, cond: &Condition, filtered: bool) -> String {
    let (p, table, where_) = (d.placeholder, d.resources, &cond.sql);
    let selected = format!("FROM {table} r WHERE r.tenant = {p}1 AND r.kind = {p}2 AND {where_}");
    let list = |prefix: &str| -> String {
        cols.split(',')
            .map(|c| format!("{prefix}.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (page_cols, out_cols) = (list("r"), list("p"));
    let page = if filtered {
        format!(
            "SELECT {page_cols}, r.created_seq {selected} \
             ORDER BY r.created_seq LIMIT {p}3 OFFSET {p}4"
        )
    } else {
        format!(
            "SELECT {page_cols}, r.created_seq {selected} AND r.created_seq >= \
               (SELECT r.created_seq {selected} ORDER BY r.created_seq LIMIT 1 OFFSET {p}4) \
             ORDER BY r.created_seq LIMIT {p}3"
        )
    };
    let total = match d.counts.filter(|_| !filtered) {
        Some(counts) => format!(
            "SELECT COALESCE((SELECT n FROM {counts} WHERE tenant = {p}1 AND kind = {p}2), 0) \
             AS total"
        ),
        None => format!("SELECT count(*) AS total {selected}"),
    };
    format!(
        "SELECT t.total, {out_cols} FROM ({total}) t \
         LEFT JOIN ({page}) p ON 1 = 1 ORDER BY p.created_seq"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{parse_filter, FilterLimits};

    fn split_of(rt: ResourceType, f: &str) -> (Option<IndexFilter>, bool) {
        split(rt, &parse_filter(f, FilterLimits::default()).unwrap())
    }

    fn key(op: IndexOp, v: &str) -> IndexFilter {
        IndexFilter::Compare(IndexedAttr::Key, op, v.into())
    }

    #[test]
    fn indexed_attributes_split_exactly() {
        use IndexOp::*;
        let u = ResourceType::User;
        let g = ResourceType::Group;
        assert_eq!(
            split_of(u, r#"userName eq "Ada@X""#),
            (Some(key(Eq, "ada@x")), true)
        );
        assert_eq!(
            split_of(u, r#"USERNAME sw "AD""#),
            (Some(key(Sw, "ad")), true)
        );
        assert_eq!(
            split_of(g, r#"displayName eq "Sales""#),
            (Some(key(Eq, "sales")), true)
        );
        assert_eq!(split_of(u, r#"displayName eq "Ada""#), (None, false));
        assert_eq!(
            split_of(u, r#"externalId eq "X1""#),
            (
                Some(IndexFilter::Compare(
                    IndexedAttr::ExternalId,
                    Eq,
                    "X1".into()
                )),
                true
            )
        );
        let member = Some(IndexFilter::HasMember("u1".into()));
        assert_eq!(
            split_of(g, r#"members.value eq "u1""#),
            (member.clone(), true)
        );
        assert_eq!(split_of(g, r#"members[value eq "u1"]"#), (member, true));
        assert_eq!(split_of(u, r#"members.value eq "u1""#), (None, false));
        assert_eq!(split_of(g, r#"members.value sw "u1""#), (None, false));
        // Mixed: the indexed side bounds an `and`, nothing bounds an `or`.
        assert_eq!(
            split_of(u, r#"userName eq "a" and active eq true"#),
            (Some(key(Eq, "a")), false)
        );
        assert_eq!(
            split_of(u, r#"userName eq "a" or active eq true"#),
            (None, false)
        );
        assert!(split_of(u, r#"userName eq "a" or id eq "b""#).1);
        assert_eq!(split_of(u, r#"not (userName eq "a")"#), (None, false));
        assert_eq!(split_of(u, "userName eq 1"), (None, false));
        assert_eq!(split_of(u, r#"userName co "a""#), (None, false));
        assert_eq!(
            split_of(
                u,
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a""#
            ),
            (None, false)
        );
    }

    #[test]
    fn prefix_upper_bounds_cover_exactly_the_prefix() {
        assert_eq!(prefix_upper_bound("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
        assert_eq!(prefix_upper_bound(""), None);
    }
}
