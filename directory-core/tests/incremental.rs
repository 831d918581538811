//! The provider-neutral incremental API: when a round is full, what the
//! state holds, and what a round reports.

use async_trait::async_trait;
use directory_core::{
    AppAssignment, CheckReport, DirectoryData, DirectoryGroup, DirectoryProvider,
    DirectoryProviderExt, DirectoryUser, ErrorKind, FullReason, InMemoryDirectory, InjectedFailure,
    Membership, Pages, ResourceKind, RoundKind, Snapshot, SnapshotChanges, SyncOptions, SyncRound,
    SyncState, UserStatus, SYNC_STATE_VERSION,
};
use proptest::prelude::*;

fn directory(name: &str) -> InMemoryDirectory {
    InMemoryDirectory::builder(name)
        .page_size(2)
        .user(DirectoryUser::new("u1", "ada@acme.test"))
        .user(DirectoryUser::new("u2", "bob@acme.test"))
        .user(DirectoryUser::new("u3", "cy@acme.test"))
        .group(DirectoryGroup::new("g1", "Berlin"))
        .membership(Membership::direct("g1", "u1"))
        .build()
}

fn reason(round: &SyncRound) -> Option<&FullReason> {
    match &round.report.round {
        RoundKind::Full { reason } => Some(reason),
        RoundKind::Incremental => None,
    }
}

async fn first(dir: &impl DirectoryProvider) -> SyncRound {
    dir.sync(None, &SyncOptions::default()).await.unwrap()
}

async fn next(dir: &impl DirectoryProvider, prev: &SyncRound, options: &SyncOptions) -> SyncRound {
    let state = SyncState::from_json(&prev.state.to_json().unwrap()).unwrap();
    dir.sync(Some((&prev.snapshot, &state)), options)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_first_round_is_full_and_counts_everything_as_added() {
    let dir = directory("acme");
    let round = first(&dir).await;
    assert_eq!(reason(&round), Some(&FullReason::NoState));
    assert_eq!(round.report.changes.users_added, 3);
    assert_eq!(round.report.changes.groups_added, 1);
    assert_eq!(round.report.changes.memberships_added, 1);
    assert_eq!(round.state.rounds_since_full(), 0);
    assert_eq!(round.state.directory(), "memory(acme)");
}

#[tokio::test]
async fn an_unchanged_directory_is_a_round_without_a_page() {
    let dir = directory("acme");
    let one = first(&dir).await;
    let pages = dir.requests();
    let two = next(&dir, &one, &SyncOptions::default()).await;
    assert_eq!(two.report.round, RoundKind::Incremental);
    assert_eq!(two.report.requests, Some(0));
    assert_eq!(dir.requests(), pages);
    assert!(two.report.changes.is_empty());
    assert!(two.snapshot.same_directory(&one.snapshot));
    assert_eq!(two.state.rounds_since_full(), 1);
    assert_eq!(two.state.last_full_at(), one.state.last_full_at());
}

#[tokio::test]
async fn a_changed_directory_says_why_it_read_everything_and_what_changed() {
    let dir = directory("acme");
    let one = first(&dir).await;
    dir.update(|d| {
        d.users.retain(|u| u.id != "u2");
        d.users.push(DirectoryUser::new("u4", "dee@acme.test"));
        d.memberships.push(Membership::direct("g1", "u3"));
    });
    let two = next(&dir, &one, &SyncOptions::default()).await;
    assert!(matches!(reason(&two), Some(FullReason::Provider { .. })));
    let c = two.report.changes;
    assert_eq!((c.users_added, c.users_removed, c.users_changed), (1, 1, 0));
    assert_eq!(c.memberships_added, 1);
    assert!(two.snapshot.user("u4").is_some() && two.snapshot.user("u2").is_none());
    assert_eq!(two.state.rounds_since_full(), 0);
}

#[tokio::test]
async fn a_full_round_comes_every_full_every_rounds() {
    let dir = directory("acme");
    let options = SyncOptions {
        full_every: 2,
        ..SyncOptions::default()
    };
    let one = first(&dir).await;
    let two = next(&dir, &one, &options).await;
    let three = next(&dir, &two, &options).await;
    let four = next(&dir, &three, &options).await;
    assert_eq!(two.report.round, RoundKind::Incremental);
    assert_eq!(three.report.round, RoundKind::Incremental);
    assert_eq!(reason(&four), Some(&FullReason::Scheduled { rounds: 2 }));
    let never = SyncOptions {
        full_every: 0,
        ..SyncOptions::default()
    };
    assert!(next(&dir, &four, &never).await.report.round.is_full());
}

#[tokio::test]
async fn a_state_of_another_directory_makes_a_full_round_of_this_one() {
    let acme = directory("acme");
    let other = directory("globex");
    let theirs = first(&other).await;
    let round = next(&acme, &theirs, &SyncOptions::default()).await;
    assert_eq!(
        reason(&round),
        Some(&FullReason::OtherDirectory {
            state: "memory(globex)".into(),
            provider: "memory(acme)".into(),
        })
    );
    assert_eq!(round.state.directory(), "memory(acme)");
    assert_eq!(round.report.changes.users_added, 3, "counted from nothing");
}

fn with_saved_at(state: &SyncState, at: chrono::DateTime<chrono::Utc>) -> SyncState {
    let mut json: serde_json::Value = serde_json::from_str(&state.to_json().unwrap()).unwrap();
    json["savedAt"] = serde_json::json!(at);
    SyncState::from_json(&json.to_string()).unwrap()
}

#[tokio::test]
async fn an_old_state_or_one_from_the_future_is_not_trusted() {
    let dir = directory("acme");
    let one = first(&dir).await;
    let now = chrono::Utc::now();
    for at in [
        now - chrono::Duration::days(8),
        now + chrono::Duration::days(1),
    ] {
        let state = with_saved_at(&one.state, at);
        let round = dir
            .sync(Some((&one.snapshot, &state)), &SyncOptions::default())
            .await
            .unwrap();
        assert_eq!(
            reason(&round),
            Some(&FullReason::StateTooOld { saved_at: at })
        );
    }
}

#[tokio::test]
async fn a_failed_round_is_an_error_not_a_partial_snapshot() {
    let dir = directory("acme");
    let one = first(&dir).await;
    dir.update(|d| d.users.push(DirectoryUser::new("u9", "eve@acme.test")));
    dir.inject(InjectedFailure {
        kind: ResourceKind::Users,
        page: 2,
        error: ErrorKind::Transient,
        group_id: None,
    });
    let err = dir
        .sync(Some((&one.snapshot, &one.state)), &SyncOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
}

#[test]
fn a_state_from_a_newer_release_is_refused_with_what_to_do() {
    let json = format!(
        r#"{{"version":{},"directory":"memory(acme)","future":"field"}}"#,
        SYNC_STATE_VERSION + 1
    );
    let err = SyncState::from_json(&json).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    assert!(err.to_string().contains("newer release"), "{err}");
    assert!(err.to_string().contains("full round"), "{err}");
}

#[test]
fn a_corrupted_state_is_refused_without_quoting_it() {
    for json in ["", "{", r#"{"version":1}"#, r#"{"version":"one"}"#, "[1,2]"] {
        let err = SyncState::from_json(json).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{json}");
        assert!(err.to_string().contains("not a sync state"), "{err}");
    }
    let secret = r#"{"version":1,"directory":"d","cursor":"https://x/delta?token=SECRET"#;
    assert!(!SyncState::from_json(secret)
        .unwrap_err()
        .to_string()
        .contains("SECRET"));
}

proptest! {
    #[test]
    fn reading_any_text_as_a_state_never_panics(text in ".{0,200}") {
        let _ = SyncState::from_json(&text);
    }
}

/// A provider that keeps the trait's default `sync_round`.
struct Plain(InMemoryDirectory);

impl std::fmt::Display for Plain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "plain({})", self.0)
    }
}

#[async_trait]
impl DirectoryProvider for Plain {
    fn users(&self) -> Pages<DirectoryUser> {
        self.0.users()
    }
    fn groups(&self) -> Pages<DirectoryGroup> {
        self.0.groups()
    }
    fn group_members(&self, group_id: &str) -> Pages<Membership> {
        self.0.group_members(group_id)
    }
    fn app_assignments(&self) -> Pages<AppAssignment> {
        self.0.app_assignments()
    }
    async fn check(&self) -> CheckReport {
        self.0.check().await
    }
}

#[tokio::test]
async fn a_provider_without_incremental_rounds_collects_in_full_behind_the_same_call() {
    let plain = Plain(directory("acme"));
    let one = first(&plain).await;
    let two = next(&plain, &one, &SyncOptions::default()).await;
    assert_eq!(reason(&two), Some(&FullReason::Unsupported));
    assert!(two.report.changes.is_empty());
    let direct: Snapshot = plain.snapshot().await.unwrap();
    assert!(two.snapshot.same_directory(&direct));
}

/// One change between two rounds of the in-memory directory; the numbers
/// pick among what exists (modulo the count).
#[derive(Debug, Clone)]
enum MemChange {
    CreateUser,
    UpdateUser(usize),
    SetStatus(usize, UserStatus),
    DeleteUser(usize),
    AddMember(usize, usize),
    RemoveMember(usize),
    CreateGroup,
    RenameGroup(usize),
    DeleteGroup(usize),
    Assign(usize),
    Unassign(usize),
}

fn mem_change() -> impl Strategy<Value = MemChange> {
    let n = || 0..100usize;
    let status = prop_oneof![
        Just(UserStatus::Active),
        Just(UserStatus::Suspended),
        Just(UserStatus::Deprovisioned),
    ];
    prop_oneof![
        Just(MemChange::CreateUser),
        n().prop_map(MemChange::UpdateUser),
        (n(), status).prop_map(|(i, s)| MemChange::SetStatus(i, s)),
        n().prop_map(MemChange::DeleteUser),
        (n(), n()).prop_map(|(g, u)| MemChange::AddMember(g, u)),
        n().prop_map(MemChange::RemoveMember),
        Just(MemChange::CreateGroup),
        n().prop_map(MemChange::RenameGroup),
        n().prop_map(MemChange::DeleteGroup),
        n().prop_map(MemChange::Assign),
        n().prop_map(MemChange::Unassign),
    ]
}

fn pick<T>(items: &mut [T], i: usize) -> Option<&mut T> {
    let len = items.len();
    items.get_mut(i.checked_rem(len)?)
}

fn id_at<T>(items: &[T], i: usize, id: impl Fn(&T) -> &String) -> Option<String> {
    items
        .get(i.checked_rem(items.len())?)
        .map(|t| id(t).clone())
}

fn remove_at<T>(items: &mut Vec<T>, i: usize) {
    if let Some(i) = i.checked_rem(items.len()) {
        items.remove(i);
    }
}

/// Applies one change the way an admin would: a deleted user or group
/// takes its memberships and assignments along.
fn mem_apply(d: &mut DirectoryData, change: &MemChange, serial: usize) {
    match change {
        MemChange::CreateUser => d.users.push(DirectoryUser::new(
            format!("n{serial}"),
            format!("n{serial}@acme.test"),
        )),
        MemChange::UpdateUser(i) => {
            if let Some(u) = pick(&mut d.users, *i) {
                u.display_name = Some(format!("Renamed {serial}").into());
            }
        }
        MemChange::SetStatus(i, s) => {
            if let Some(u) = pick(&mut d.users, *i) {
                u.status = s.clone();
            }
        }
        MemChange::DeleteUser(i) => {
            if let Some(id) = id_at(&d.users, *i, |u| &u.id) {
                d.users.retain(|u| u.id != id);
                d.memberships.retain(|m| m.user_id != id);
                d.app_assignments.retain(|a| a.user_id != id);
            }
        }
        _ => mem_apply_group(d, change, serial),
    }
}

fn mem_apply_group(d: &mut DirectoryData, change: &MemChange, serial: usize) {
    match change {
        MemChange::AddMember(g, u) => {
            let g = id_at(&d.groups, *g, |g| &g.id);
            let u = id_at(&d.users, *u, |u| &u.id);
            if let (Some(g), Some(u)) = (g, u) {
                let m = Membership::direct(g, u);
                if !d.memberships.contains(&m) {
                    d.memberships.push(m);
                }
            }
        }
        MemChange::RemoveMember(i) => remove_at(&mut d.memberships, *i),
        MemChange::CreateGroup => d
            .groups
            .push(DirectoryGroup::new(format!("g{serial}"), "New")),
        MemChange::RenameGroup(i) => {
            if let Some(g) = pick(&mut d.groups, *i) {
                g.name = format!("Renamed {serial}");
            }
        }
        MemChange::DeleteGroup(i) => {
            if let Some(id) = id_at(&d.groups, *i, |g| &g.id) {
                d.groups.retain(|g| g.id != id);
                d.memberships.retain(|m| m.group_id != id);
            }
        }
        MemChange::Assign(i) => {
            if let Some(u) = id_at(&d.users, *i, |u| &u.id) {
                d.app_assignments.push(AppAssignment::direct(u));
            }
        }
        MemChange::Unassign(i) => remove_at(&mut d.app_assignments, *i),
        _ => {}
    }
}

/// A round: `None` leaves the directory alone, `Some` updates it (even with
/// no change at all).
type MemRound = Option<Vec<MemChange>>;

async fn mem_rounds(rounds: &[MemRound]) -> std::result::Result<(), String> {
    let dir = directory("acme");
    let mut prev = first(&dir).await;
    let mut serial = 0;
    for (n, round) in rounds.iter().enumerate() {
        if let Some(changes) = round {
            dir.update(|d| {
                for c in changes {
                    serial += 1;
                    mem_apply(d, c, serial);
                }
            });
        }
        let next = next(&dir, &prev, &SyncOptions::default()).await;
        let skipped = next.report.round == RoundKind::Incremental;
        if skipped != round.is_none() || skipped != (next.report.requests == Some(0)) {
            return Err(format!("round {n} ({round:?}): {:?}", next.report));
        }
        let full = dir.snapshot().await.map_err(|e| e.to_string())?;
        if !next.snapshot.same_directory(&full) {
            let diff = SnapshotChanges::between(&full, &next.snapshot);
            return Err(format!("round {n} ({round:?}): {diff:?}"));
        }
        prev = next;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn every_round_of_the_in_memory_directory_equals_a_full_collection(
        rounds in prop::collection::vec(
            prop::option::of(prop::collection::vec(mem_change(), 0..6)),
            1..8,
        ),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let result = rt.block_on(mem_rounds(&rounds));
        prop_assert!(result.is_ok(), "{}", result.err().unwrap_or_default());
    }
}

#[tokio::test]
async fn a_directory_rebuilt_under_the_same_name_is_read_again() {
    // What a host restart looks like: the state comes back from storage,
    // the directory is built anew (its data changed meanwhile).
    let before = directory("acme");
    let one = first(&before).await;
    let after = InMemoryDirectory::builder("acme")
        .data(before.data())
        .user(DirectoryUser::new("u9", "eve@acme.test"))
        .build();
    let two = next(&after, &one, &SyncOptions::default()).await;
    assert!(two
        .snapshot
        .same_directory(&after.snapshot().await.unwrap()));
    match reason(&two) {
        Some(FullReason::Provider { detail }) => assert!(detail.contains("another instance")),
        other => panic!("expected a full round that says why, got {other:?}"),
    }
}
