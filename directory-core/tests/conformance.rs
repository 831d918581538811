//! The conformance suite against `InMemoryDirectory`, and snapshot
//! completeness under injected failures.

use std::sync::{Arc, Mutex};

use directory_core::testing::{
    assert_failure_aborts, assert_stream_ends_after_error, run_conformance,
};
use directory_core::{
    AppAssignment, CollectOptions, DirectoryGroup, DirectoryProvider, DirectoryProviderExt,
    DirectoryUser, ErrorKind, InMemoryDirectory, InjectedFailure, Membership, ResourceKind,
    Snapshot,
};

fn org(users: usize, page_size: usize) -> InMemoryDirectory {
    let mut b = InMemoryDirectory::builder("acme").page_size(page_size);
    for i in 0..users {
        b = b.user(
            DirectoryUser::new(format!("u{i:04}"), format!("user{i}@acme.test"))
                .with_email(format!("user{i}@acme.test"), true),
        );
    }
    for g in 0..3 {
        b = b.group(DirectoryGroup::new(format!("g{g}"), format!("Group {g}")));
        for i in (g..users).step_by(3) {
            b = b.membership(Membership::direct(format!("g{g}"), format!("u{i:04}")));
        }
    }
    b.app_assignment(AppAssignment::direct("u0001"))
        .app_assignment(AppAssignment::via_group("u0002", "g2"))
        .build()
}

fn expected(dir: &InMemoryDirectory) -> Snapshot {
    let d = dir.data();
    Snapshot::from_parts(
        "expected",
        d.users,
        d.groups,
        d.memberships,
        d.app_assignments,
    )
}

#[tokio::test]
async fn conformance_suite_passes_against_in_memory_directory() {
    let dir = org(25, 10);
    let report = run_conformance(&dir, &expected(&dir), 3).await;
    assert_eq!(report.user_pages, 3);
}

#[tokio::test]
async fn exact_page_boundary_and_empty_directory() {
    let dir = org(20, 10);
    run_conformance(&dir, &expected(&dir), 2).await;
    let empty = InMemoryDirectory::builder("empty").build();
    let snap = empty.snapshot().await.unwrap();
    assert!(snap.is_empty());
}

#[tokio::test]
async fn failure_on_page_3_of_5_makes_no_snapshot() {
    let dir = org(50, 10); // 5 pages of users
    dir.inject(InjectedFailure {
        kind: ResourceKind::Users,
        page: 3,
        error: ErrorKind::Transient,
        group_id: None,
    });
    let err = assert_failure_aborts(&dir).await;
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(err.to_string().contains("page 3 of users"), "{err}");
    assert_stream_ends_after_error(dir.users()).await;
}

#[tokio::test]
async fn failure_on_last_membership_page_of_one_group_makes_no_snapshot() {
    let dir = org(60, 10); // each group has 20 members: 2 pages
    dir.inject(InjectedFailure {
        kind: ResourceKind::Memberships,
        page: 2,
        error: ErrorKind::RateLimited,
        group_id: Some("g2".into()),
    });
    let err = assert_failure_aborts(&dir).await;
    assert_eq!(err.kind(), ErrorKind::RateLimited);
}

#[tokio::test]
async fn progress_reports_pages_and_items_per_kind() {
    let dir = org(25, 10);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let opts =
        CollectOptions::default().with_progress(move |p| sink.lock().unwrap().push(p.clone()));
    Snapshot::collect(&dir, &opts).await.unwrap();
    let seen = seen.lock().unwrap();
    let users_done = seen
        .iter()
        .find(|p| p.kind == ResourceKind::Users && p.finished)
        .expect("users finished");
    assert_eq!((users_done.pages, users_done.items), (3, 25));
    let members_done = seen
        .iter()
        .find(|p| p.kind == ResourceKind::Memberships && p.finished)
        .expect("memberships finished");
    assert_eq!(members_done.items, 25);
    assert_eq!(members_done.groups, Some((3, 3)));
}

#[tokio::test]
async fn snapshot_round_trips_through_json() {
    let dir = org(5, 2);
    let snap = dir.snapshot().await.unwrap();
    let json = serde_json::to_string(&snap).unwrap();
    let back: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, snap);
}

#[tokio::test]
async fn check_reports_every_problem_at_once() {
    let dir = org(5, 2);
    for kind in [ResourceKind::Users, ResourceKind::AppAssignments] {
        dir.inject(InjectedFailure {
            kind,
            page: 1,
            error: ErrorKind::PermissionDenied,
            group_id: None,
        });
    }
    let report = dir.check().await;
    assert!(!report.is_ok());
    assert_eq!(report.problems().count(), 2);
}

#[tokio::test]
async fn mutation_between_syncs_is_seen() {
    let dir = org(5, 2);
    let before = dir.snapshot().await.unwrap();
    dir.update(|d| d.users.retain(|u| u.id != "u0003"));
    let after = dir.snapshot().await.unwrap();
    assert_eq!(before.users.len(), 5);
    assert_eq!(after.users.len(), 4);
    assert!(after.user("u0003").is_none());
}

/// A provider that offers the bulk memberships stream: collection uses it
/// instead of one walk per group.
struct Bulk(InMemoryDirectory);

impl std::fmt::Display for Bulk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bulk({})", self.0)
    }
}

#[async_trait::async_trait]
impl DirectoryProvider for Bulk {
    fn users(&self) -> directory_core::Pages<DirectoryUser> {
        self.0.users()
    }
    fn groups(&self) -> directory_core::Pages<DirectoryGroup> {
        self.0.groups()
    }
    fn group_members(&self, _group_id: &str) -> directory_core::Pages<Membership> {
        Box::pin(futures::stream::once(async {
            Err(directory_core::Error::new(
                ErrorKind::Rejected,
                "per-group walk used",
            ))
        }))
    }
    fn app_assignments(&self) -> directory_core::Pages<AppAssignment> {
        self.0.app_assignments()
    }
    async fn check(&self) -> directory_core::CheckReport {
        self.0.check().await
    }
    fn memberships(&self, group_ids: Vec<String>) -> Option<directory_core::Pages<Membership>> {
        let all: Vec<Membership> = self
            .0
            .data()
            .memberships
            .into_iter()
            .filter(|m| group_ids.contains(&m.group_id))
            .collect();
        Some(Box::pin(futures::stream::iter(vec![Ok(all)])))
    }
}

#[tokio::test]
async fn collection_uses_the_bulk_memberships_stream_when_offered() {
    let dir = org(25, 10);
    let expected = expected(&dir);
    let snap = Bulk(dir).snapshot().await.unwrap();
    assert!(snap.same_directory(&expected));
}
