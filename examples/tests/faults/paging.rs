//! Faults in what a page says: truncated and malformed JSON, an empty page
//! in the middle, a next link that cycles, a next link to another host.

use directory_core::ErrorKind;

use crate::both_orgs;
use crate::orgs::{
    assert_error, assert_survived, clean_sync_requests, provider, start, sync, Fault, Injection,
    Kind, Target,
};

both_orgs!(
    truncated_json_is_an_invalid_response,
    truncated_json_on_a_member_page_is_an_invalid_response,
    malformed_json_is_an_invalid_response_naming_the_path,
    an_empty_page_in_the_middle_is_followed,
    an_empty_member_page_is_followed,
    a_next_link_that_cycles_is_refused,
    a_next_link_to_another_host_is_refused,
    a_truncated_page_of_each_listing_is_an_invalid_response,
    a_malformed_page_of_each_listing_fails_the_sync,
);

async fn truncated_json_is_an_invalid_response(kind: Kind) {
    let sim = start(kind).await;
    let p = provider(&sim);
    sim.inject(Injection::new(Fault::TruncatedJson, Target::Users).after(2));
    let e = assert_error(&sim, sync(p.as_ref()).await, ErrorKind::InvalidResponse);
    assert!(e.provider().is_some(), "the provider is named: {e}");
}

async fn truncated_json_on_a_member_page_is_an_invalid_response(kind: Kind) {
    let sim = start(kind).await;
    let p = provider(&sim);
    sim.inject(Injection::new(Fault::TruncatedJson, Target::Members).after(5));
    assert_error(&sim, sync(p.as_ref()).await, ErrorKind::InvalidResponse);
}

async fn malformed_json_is_an_invalid_response_naming_the_path(kind: Kind) {
    let sim = start(kind).await;
    let p = provider(&sim);
    sim.inject(Injection::new(Fault::MalformedJson, Target::Users).after(1));
    let e = assert_error(&sim, sync(p.as_ref()).await, ErrorKind::InvalidResponse);
    // The decode error names where in the JSON it broke.
    let text = e.to_string();
    assert!(text.contains("[0]"), "the JSON path is named: {text}");
}

async fn an_empty_page_in_the_middle_is_followed(kind: Kind) {
    let sim = start(kind).await;
    let p = provider(&sim);
    let clean = clean_sync_requests(&sim).await;
    sim.inject(Injection::new(Fault::EmptyPage, Target::Users).after(2));
    assert_survived(&sim, clean, p.as_ref()).await;
}

async fn an_empty_member_page_is_followed(kind: Kind) {
    let sim = start(kind).await;
    let p = provider(&sim);
    let clean = clean_sync_requests(&sim).await;
    sim.inject(
        Injection::new(Fault::EmptyPage, Target::Members)
            .after(1)
            .times(3),
    );
    assert_survived(&sim, clean, p.as_ref()).await;
}

async fn a_next_link_that_cycles_is_refused(kind: Kind) {
    let sim = start(kind).await;
    let p = provider(&sim);
    sim.inject(Injection::new(Fault::CyclicNext, Target::Users).after(2));
    let e = assert_error(&sim, sync(p.as_ref()).await, ErrorKind::InvalidResponse);
    assert!(e.to_string().contains("repeats"), "{e}");
}

async fn a_next_link_to_another_host_is_refused(kind: Kind) {
    let sim = start(kind).await;
    let p = provider(&sim);
    sim.inject(Injection::new(Fault::ForeignNext, Target::Users).after(1));
    let e = assert_error(&sim, sync(p.as_ref()).await, ErrorKind::InvalidResponse);
    let text = e.to_string();
    assert!(text.contains("outside the configured origin"), "{text}");
    assert!(
        text.contains(sim.base_url()),
        "names the allowed origin: {text}"
    );
}

/// Users, groups, members and app assignments: a truncated page in any
/// of them fails the whole sync.
async fn a_truncated_page_of_each_listing_is_an_invalid_response(kind: Kind) {
    for target in [Target::Users, Target::Groups, Target::Members, Target::Apps] {
        let e = broken_sync(kind, Fault::TruncatedJson, target.clone()).await;
        assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{target:?}: {e}");
    }
}

/// A well-formed page of the wrong shape fails the sync with a typed error.
/// Each org serves one malformed body (a user whose login is a list; Graph:
/// an object whose id is a number) for every listing. Okta's is only wrong
/// as a user: as a group it decodes to a group that then does not exist
/// (a typed error too), as a member or app user it is a valid one.
async fn a_malformed_page_of_each_listing_fails_the_sync(kind: Kind) {
    let targets = match kind {
        Kind::Okta => vec![Target::Users, Target::Groups],
        Kind::Azure => vec![Target::Users, Target::Groups, Target::Members],
    };
    for target in targets {
        broken_sync(kind, Fault::MalformedJson, target).await;
    }
}

/// Entra: app role assignments without `principalId` / `principalType`
/// (which Graph always sends) are a malformed page, not "no assignments".
#[tokio::test]
async fn azure_a_malformed_app_assignment_page_fails_the_sync() {
    crate::orgs::within_limit("azure malformed assignments", async {
        let e = broken_sync(Kind::Azure, Fault::MalformedJson, Target::Apps).await;
        assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    })
    .await;
}

/// A sync of a fresh org with `fault` once on `target`: it must fail. A
/// fresh org each time, as requests of an aborted sync still in flight
/// would take the next fault.
async fn broken_sync(kind: Kind, fault: Fault, target: Target) -> directory_core::Error {
    let sim = start(kind).await;
    sim.inject(Injection::new(fault.clone(), target.clone()));
    match sync(provider(&sim).as_ref()).await {
        Err(e) => e,
        Ok(s) => panic!(
            "{kind:?} {target:?} {fault:?}: a snapshot of {} users, {} assignments despite a broken page",
            s.users.len(),
            s.app_assignments.len()
        ),
    }
}
