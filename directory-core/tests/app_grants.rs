//! `Snapshot::collect` expands a provider's assigned groups (`app_grants`)
//! from the memberships it collects, reading a group again only when it was
//! not listed.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use directory_core::{
    AppAssignment, AppGrant, AssignedVia, CheckReport, CollectOptions, DirectoryGroup,
    DirectoryProvider, DirectoryUser, InMemoryDirectory, Membership, MembershipKind, Pages,
    ResourceKind, Snapshot,
};
use futures::stream::{self, StreamExt};

/// A directory whose app is assigned to groups, counting member reads.
struct Granting {
    dir: InMemoryDirectory,
    grants: Vec<AppGrant>,
    member_reads: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Display for Granting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("granting")
    }
}

#[async_trait]
impl DirectoryProvider for Granting {
    fn users(&self) -> Pages<DirectoryUser> {
        self.dir.users()
    }
    fn groups(&self) -> Pages<DirectoryGroup> {
        self.dir.groups()
    }
    fn group_members(&self, group_id: &str) -> Pages<Membership> {
        self.member_reads.lock().unwrap().push(group_id.to_string());
        if group_id == "late" {
            // Assigned, but created after the group list was read.
            return stream::iter(vec![Ok(vec![Membership::direct("late", "u4")])]).boxed();
        }
        self.dir.group_members(group_id)
    }
    fn app_assignments(&self) -> Pages<AppAssignment> {
        panic!("collection must use app_grants when the provider offers them")
    }
    fn app_grants(&self) -> Option<Pages<AppGrant>> {
        Some(stream::iter(vec![Ok(self.grants.clone())]).boxed())
    }
    async fn check(&self) -> CheckReport {
        CheckReport::default()
    }
}

fn user(id: &str) -> DirectoryUser {
    DirectoryUser::new(id, format!("{id}@acme.test"))
}

fn via(user_id: &str, group_id: &str, role: Option<&str>) -> AppAssignment {
    AppAssignment {
        user_id: user_id.into(),
        via: AssignedVia::Group {
            group_id: Some(group_id.into()),
        },
        role: role.map(String::from),
    }
}

#[tokio::test]
async fn assigned_groups_are_expanded_from_collected_memberships() {
    let dir = InMemoryDirectory::builder("acme")
        .user(user("u1"))
        .user(user("u2"))
        .user(user("u3"))
        .user(user("u4"))
        .group(DirectoryGroup::new("sales", "Sales"))
        .group(DirectoryGroup::new("emea", "EMEA"))
        .membership(Membership::direct("sales", "u1"))
        .membership(Membership::direct("sales", "u2"))
        // Reached through a nested group: not assigned by the group.
        .membership(Membership {
            group_id: "sales".into(),
            user_id: "u3".into(),
            kind: MembershipKind::Transitive,
        })
        .membership(Membership::direct("emea", "u3"))
        .build();
    let reads = Arc::new(Mutex::new(Vec::new()));
    let provider = Granting {
        dir,
        grants: vec![
            AppGrant::User(AppAssignment::direct("u4")),
            AppGrant::Group {
                group_id: "sales".into(),
                role: Some("reader".into()),
            },
            AppGrant::Group {
                group_id: "late".into(),
                role: None,
            },
        ],
        member_reads: reads.clone(),
    };
    let last = Arc::new(Mutex::new(None));
    let seen = last.clone();
    let opts = CollectOptions::default().with_progress(move |p| {
        if p.kind == ResourceKind::AppAssignments && p.finished {
            *seen.lock().unwrap() = Some(p.items);
        }
    });
    let snapshot = Snapshot::collect(&provider, &opts).await.unwrap();
    assert_eq!(
        *last.lock().unwrap(),
        Some(4),
        "the finished report counts assigned users, not grant rows"
    );
    // "late" is not listed: u4 stays assigned through a group, but the
    // snapshot, closed, does not name a group it does not hold.
    let through_late = AppAssignment {
        user_id: "u4".into(),
        via: AssignedVia::Group { group_id: None },
        role: None,
    };
    let mut expected = vec![
        AppAssignment::direct("u4"),
        via("u1", "sales", Some("reader")),
        via("u2", "sales", Some("reader")),
        through_late,
    ];
    expected.sort();
    assert_eq!(snapshot.app_assignments, expected);
    assert_eq!(snapshot.dropped.assignment_groups_unlisted, 1);
    let mut reads = reads.lock().unwrap().clone();
    reads.sort();
    assert_eq!(
        reads,
        ["emea", "late", "sales"],
        "each listed group read once for its members, the unlisted assigned group once more"
    );
}

#[tokio::test]
async fn without_assignments_the_grants_are_not_read() {
    let provider = Granting {
        dir: InMemoryDirectory::builder("acme").user(user("u1")).build(),
        grants: vec![AppGrant::Group {
            group_id: "missing".into(),
            role: None,
        }],
        member_reads: Arc::default(),
    };
    let opts = CollectOptions {
        app_assignments: false,
        ..CollectOptions::default()
    };
    let snapshot = Snapshot::collect(&provider, &opts).await.unwrap();
    assert!(snapshot.app_assignments.is_empty());
    assert!(provider.member_reads.lock().unwrap().is_empty());
}
