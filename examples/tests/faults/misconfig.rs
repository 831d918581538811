//! Set-up mistakes every provider has, made through the provider-neutral
//! `Misconfiguration`: `check()` reports each one with the kind of error
//! that says what to fix, and reports nothing once it is undone.

use directory_core::testing::Misconfiguration;
use directory_core::ErrorKind;

use crate::both_orgs;
use crate::orgs::{provider, start, Kind};

both_orgs!(each_misconfiguration_is_reported_by_check_until_cleared);

/// The error kind `check()` reports for a misconfiguration.
fn reported_as(kind: Kind, m: Misconfiguration) -> ErrorKind {
    match (m, kind) {
        (Misconfiguration::UnknownOrg, _) => ErrorKind::InvalidConfig,
        (Misconfiguration::UnknownClient, _) => ErrorKind::Unauthenticated,
        (Misconfiguration::WrongCredential, _) => ErrorKind::InvalidCredential,
        (Misconfiguration::NoAccess, Kind::Okta) => ErrorKind::AdminRoleMissing,
        (Misconfiguration::NoAccess, Kind::Azure) => ErrorKind::PermissionDenied,
        _ => ErrorKind::NotFound,
    }
}

async fn each_misconfiguration_is_reported_by_check_until_cleared(kind: Kind) {
    let sim = start(kind).await;
    let p = provider(&sim);
    assert!(p.check().await.is_ok(), "a well set-up org");
    for m in [
        Misconfiguration::UnknownOrg,
        Misconfiguration::UnknownClient,
        Misconfiguration::WrongCredential,
        Misconfiguration::NoAccess,
        Misconfiguration::UnknownApp,
    ] {
        sim.misconfigure(m);
        let report = provider(&sim).check().await;
        let kinds: Vec<ErrorKind> = report.problems().map(|(_, e)| e.kind()).collect();
        let want = reported_as(kind, m);
        assert!(
            kinds.contains(&want),
            "{kind:?} {m:?}: {kinds:?}, {want:?} expected"
        );
        sim.clear_misconfig();
        let report = provider(&sim).check().await;
        assert!(report.is_ok(), "{kind:?} {m:?} cleared: {report}");
    }
}
