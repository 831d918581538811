//! Group members with nested groups resolved to users, and the SSO app's
//! assignments with assigned groups expanded to their members.
//!
//! Nesting is walked over `/members` (cheaper than `/transitiveMembers`, and
//! it tells direct from transitive members) by directory-core's one walk
//! ([`NestingWalk`], [`resolve_nested`]): the group's own users are
//! `Direct`, users of nested groups `Transitive`, each user once, each group
//! visited once, so a membership cycle ends. Devices, service principals and
//! contacts are skipped.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use directory_core::{
    group_grant_assignments, resolve_nested, AppAssignment, AppGrant, AssignedVia, Membership,
    MembershipKind, NestingWalk, Pages, Result,
};
use futures::stream::{self, StreamExt};

use crate::decode::{MemberKind, WireAssignment, WireMember};
use crate::provider::{list, Inner, PERM_APPS, PERM_MEMBERS};

/// The raw member pages of one group (direct members only).
pub(crate) fn raw_members(inner: &Arc<Inner>, group_id: &str) -> Pages<WireMember> {
    let first = inner.members_url(group_id);
    list(
        inner.clone(),
        first,
        format!("list members of group {group_id}"),
        PERM_MEMBERS,
        Some,
    )
}

/// One group's walk, read page by page; the nesting rules are
/// [`NestingWalk`]'s.
struct Walk {
    inner: Arc<Inner>,
    root: String,
    walk: NestingWalk<String>,
    current: Option<Pages<WireMember>>,
    failed: bool,
}

impl Walk {
    fn page(&mut self, page: Vec<WireMember>) -> Vec<Membership> {
        let mut out = Vec::new();
        for m in page {
            match m.kind() {
                MemberKind::User => {
                    if let Some(kind) = self.walk.user(m.id.clone()) {
                        out.push(Membership {
                            group_id: self.root.clone(),
                            user_id: m.id,
                            kind,
                        });
                    }
                }
                MemberKind::Group => self.walk.nested_group(m.id),
                MemberKind::Other => {}
            }
        }
        out
    }

    async fn next(&mut self) -> Option<Result<Vec<Membership>>> {
        if self.failed {
            return None;
        }
        loop {
            if self.current.is_none() {
                let (gid, _) = self.walk.next_group()?;
                self.current = Some(raw_members(&self.inner, &gid));
            }
            let pages = self.current.as_mut()?;
            match pages.next().await {
                Some(Ok(page)) => return Some(Ok(self.page(page))),
                Some(Err(e)) => {
                    self.failed = true;
                    return Some(Err(e));
                }
                None => self.current = None,
            }
        }
    }
}

/// The user members of `group_id`, nested groups resolved.
pub(crate) fn group_members(inner: Arc<Inner>, group_id: String) -> Pages<Membership> {
    let walk = Walk {
        inner,
        walk: NestingWalk::new(group_id.clone()),
        root: group_id,
        current: None,
        failed: false,
    };
    stream::unfold(
        walk,
        |mut w| async move { w.next().await.map(|item| (item, w)) },
    )
    .boxed()
}

/// What the assignments stream is reading.
enum Phase {
    Assignments(Pages<WireAssignment>),
    Group(String, Option<String>, Pages<WireMember>),
    Between,
}

struct Assigned {
    inner: Arc<Inner>,
    phase: Phase,
    groups: VecDeque<(String, Option<String>)>,
    failed: bool,
}

impl Assigned {
    /// Users assigned directly; assigned groups are queued for expansion.
    fn assignments(&mut self, page: Vec<WireAssignment>) -> Result<Vec<AppAssignment>> {
        let mut out = Vec::new();
        for grant in grants(&self.inner, page)? {
            match grant {
                AppGrant::User(a) => out.push(a),
                AppGrant::Group { group_id, role } => self.groups.push_back((group_id, role)),
            }
        }
        Ok(out)
    }

    async fn next(&mut self) -> Option<Result<Vec<AppAssignment>>> {
        if self.failed {
            return None;
        }
        loop {
            let item = match &mut self.phase {
                Phase::Assignments(p) => p
                    .next()
                    .await
                    .map(|r| r.and_then(|page| self.assignments(page))),
                Phase::Group(gid, role, p) => {
                    let (gid, role) = (gid.clone(), role.clone());
                    p.next()
                        .await
                        .map(|r| r.map(|page| expand(&gid, &role, page)))
                }
                Phase::Between => {
                    let (gid, role) = self.groups.pop_front()?;
                    let pages = raw_members(&self.inner, &gid);
                    self.phase = Phase::Group(gid, role, pages);
                    continue;
                }
            };
            match item {
                Some(Err(e)) => {
                    self.failed = true;
                    return Some(Err(e));
                }
                Some(ok) => return Some(ok),
                None => self.phase = Phase::Between,
            }
        }
    }
}

/// Direct user members of an assigned group: app assignment is not
/// inherited through nested groups.
fn expand(group_id: &str, role: &Option<String>, page: Vec<WireMember>) -> Vec<AppAssignment> {
    let users = page
        .into_iter()
        .filter(|m| m.kind() == MemberKind::User)
        .map(|m| m.id);
    group_grant_assignments(group_id, role, users).collect()
}

/// One page of the SSO app's assignment rows as grants: users, and groups
/// (service principals and other principals are skipped). A row that names
/// no principal is malformed: dropping it would make a snapshot without that
/// assignment, so it is an error.
fn grants(inner: &Inner, page: Vec<WireAssignment>) -> Result<Vec<AppGrant>> {
    let mut out = Vec::with_capacity(page.len());
    for a in page {
        let role = a.role();
        let (Some(id), Some(kind)) = (a.principal_id, a.principal_type) else {
            return Err(directory_core::Error::invalid_response(
                "an appRoleAssignment of the SSO app has no principalId or principalType",
            )
            .with_provider(&inner.name));
        };
        if kind.eq_ignore_ascii_case("User") {
            out.push(AppGrant::User(AppAssignment {
                user_id: id,
                via: AssignedVia::Direct,
                role,
            }));
        } else if kind.eq_ignore_ascii_case("Group") {
            out.push(AppGrant::Group { group_id: id, role });
        }
    }
    Ok(out)
}

/// The SSO app's assignment rows; `None` without a service principal id.
fn assignment_rows(inner: &Arc<Inner>) -> Option<Pages<WireAssignment>> {
    let sp = inner.service_principal_id.clone()?;
    let first = inner.assignments_url(&sp);
    Some(list(
        inner.clone(),
        first,
        "list the SSO app's assignments".into(),
        PERM_APPS,
        Some,
    ))
}

/// The SSO app's assigned users; empty without a service principal id.
pub(crate) fn app_assignments(inner: Arc<Inner>) -> Pages<AppAssignment> {
    let Some(pages) = assignment_rows(&inner) else {
        return stream::empty().boxed();
    };
    let state = Assigned {
        inner,
        phase: Phase::Assignments(pages),
        groups: VecDeque::new(),
        failed: false,
    };
    stream::unfold(state, |mut s| async move {
        s.next().await.map(|item| (item, s))
    })
    .boxed()
}

/// The SSO app's assignments as grants, assigned groups not expanded: for
/// snapshot collection, which expands them from the direct members it has
/// read anyway (an app assigned to a group is assigned to the group's direct
/// user members; Entra does not pass it on through nested groups).
pub(crate) fn app_grants(inner: Arc<Inner>) -> Pages<AppGrant> {
    let Some(pages) = assignment_rows(&inner) else {
        return stream::empty().boxed();
    };
    pages
        .map(move |page| page.and_then(|rows| grants(&inner, rows)))
        .boxed()
}

/// One group's direct members, as read from `/members`.
#[derive(Default)]
struct DirectMembers {
    users: Vec<String>,
    groups: Vec<String>,
}

async fn read_direct(inner: Arc<Inner>, group_id: String) -> Result<(String, DirectMembers)> {
    let mut pages = raw_members(&inner, &group_id);
    let mut direct = DirectMembers::default();
    while let Some(page) = pages.next().await {
        let page = page?;
        direct.users.reserve(page.len());
        for m in page {
            match m.kind() {
                MemberKind::User => direct.users.push(m.id),
                MemberKind::Group => direct.groups.push(m.id),
                _ => {}
            }
        }
    }
    // Held until nesting is resolved, for every group at once.
    direct.users.shrink_to_fit();
    direct.groups.shrink_to_fit();
    Ok((group_id, direct))
}

type Reads = futures::stream::BoxStream<'static, Result<(String, DirectMembers)>>;

fn reads(inner: &Arc<Inner>, ids: Vec<String>) -> Reads {
    let inner = inner.clone();
    let concurrency = inner.member_concurrency.max(1);
    stream::iter(ids)
        .map(move |id| read_direct(inner.clone(), id))
        .buffer_unordered(concurrency)
        .boxed()
}

/// The bulk path of snapshot collection: every group's direct members are
/// read once (`member_concurrency` groups at a time) and yielded as they
/// arrive; nested groups are then resolved locally, so a child group is not
/// read again under each parent. The result equals one [`group_members`]
/// walk per group: a group's own users are `Direct`, users reached through
/// nested groups `Transitive`, each once, cycles ending.
pub(crate) fn all_memberships(inner: Arc<Inner>, group_ids: Vec<String>) -> Pages<Membership> {
    struct Bulk {
        inner: Arc<Inner>,
        roots: HashSet<String>,
        reads: Option<Reads>,
        direct: std::collections::HashMap<String, DirectMembers>,
    }
    let roots: HashSet<String> = group_ids.iter().cloned().collect();
    let state = Bulk {
        reads: Some(reads(&inner, group_ids)),
        inner,
        roots,
        direct: Default::default(),
    };
    stream::unfold(state, |mut st| async move {
        loop {
            let reading = st.reads.as_mut()?;
            match reading.next().await {
                Some(Ok((gid, d))) => {
                    let page = if st.roots.contains(&gid) {
                        direct_page(&gid, &d)
                    } else {
                        Vec::new()
                    };
                    st.direct.insert(gid, d);
                    return Some((Ok(page), st));
                }
                Some(Err(e)) => {
                    st.reads = None;
                    return Some((Err(e), st));
                }
                None => {
                    // Nested groups outside the listed ones (created since the
                    // group list was read) are read too, once, then nesting is
                    // resolved.
                    let missing: Vec<String> = st
                        .direct
                        .values()
                        .flat_map(|d| d.groups.iter())
                        .filter(|g| !st.direct.contains_key(*g))
                        .cloned()
                        .collect::<HashSet<_>>()
                        .into_iter()
                        .collect();
                    if missing.is_empty() {
                        st.reads = None;
                        // The direct members are not needed after this page:
                        // free them now, not when the stream is dropped.
                        let direct = std::mem::take(&mut st.direct);
                        let page = transitive(&st.roots, &direct);
                        return Some((Ok(page), st));
                    }
                    st.reads = Some(reads(&st.inner, missing));
                }
            }
        }
    })
    .boxed()
}

fn direct_page(group_id: &str, d: &DirectMembers) -> Vec<Membership> {
    let mut seen = HashSet::with_capacity(d.users.len());
    // Sized up front: the page is kept until collection ends.
    let mut page = Vec::with_capacity(d.users.len());
    for u in &d.users {
        if seen.insert(u.as_str()) {
            page.push(Membership {
                group_id: group_id.to_string(),
                user_id: u.clone(),
                kind: MembershipKind::Direct,
            });
        }
    }
    page.shrink_to_fit();
    page
}

/// Users reached through nested groups, breadth first from each root, each
/// user once per root and never one who is a direct member (those are on
/// the direct pages already).
fn transitive(
    roots: &HashSet<String>,
    direct: &std::collections::HashMap<String, DirectMembers>,
) -> Vec<Membership> {
    let mut out = Vec::new();
    for root in roots {
        // A group without nested groups has no transitive members.
        if direct.get(root).is_none_or(|own| own.groups.is_empty()) {
            continue;
        }
        let members = |g: &str| {
            let d = direct.get(g);
            (
                d.into_iter()
                    .flat_map(|d| d.users.iter().map(String::as_str)),
                d.into_iter()
                    .flat_map(|d| d.groups.iter().map(String::as_str)),
            )
        };
        for (user, kind) in resolve_nested(root, members) {
            if kind == MembershipKind::Transitive {
                out.push(Membership {
                    group_id: root.clone(),
                    user_id: user.to_string(),
                    kind,
                });
            }
        }
    }
    out
}
