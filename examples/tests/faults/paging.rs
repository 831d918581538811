//! Faults in what a page says: truncated and malformed JSON, an empty page
//! in the middle, a next link that cycles, a next link to another host.

use directory_core::ErrorKind;

use crate::both_orgs;
use crate::orgs::{assert_complete, assert_error, sync, Fault, Injection, Kind, Sim, Target};

both_orgs!(
    truncated_json_is_an_invalid_response,
    truncated_json_on_a_member_page_is_an_invalid_response,
    malformed_json_is_an_invalid_response_naming_the_path,
    an_empty_page_in_the_middle_is_followed,
    an_empty_member_page_is_followed,
    a_next_link_that_cycles_is_refused,
    a_next_link_to_another_host_is_refused,
);

async fn truncated_json_is_an_invalid_response(kind: Kind) {
    let sim = Sim::start(kind).await;
    let p = sim.provider();
    sim.inject(Injection::new(Fault::TruncatedJson, Target::Users).after(2));
    let e = assert_error(&sim, sync(p.as_ref()).await, ErrorKind::InvalidResponse);
    assert!(e.provider().is_some(), "the provider is named: {e}");
}

async fn truncated_json_on_a_member_page_is_an_invalid_response(kind: Kind) {
    let sim = Sim::start(kind).await;
    let p = sim.provider();
    sim.inject(Injection::new(Fault::TruncatedJson, Target::Members).after(5));
    assert_error(&sim, sync(p.as_ref()).await, ErrorKind::InvalidResponse);
}

async fn malformed_json_is_an_invalid_response_naming_the_path(kind: Kind) {
    let sim = Sim::start(kind).await;
    let p = sim.provider();
    sim.inject(Injection::new(Fault::MalformedJson, Target::Users).after(1));
    let e = assert_error(&sim, sync(p.as_ref()).await, ErrorKind::InvalidResponse);
    // The decode error names where in the JSON it broke.
    let text = e.to_string();
    assert!(text.contains("[0]"), "the JSON path is named: {text}");
}

async fn an_empty_page_in_the_middle_is_followed(kind: Kind) {
    let sim = Sim::start(kind).await;
    let p = sim.provider();
    sim.inject(Injection::new(Fault::EmptyPage, Target::Users).after(2));
    assert_complete(&sim, sync(p.as_ref()).await);
}

async fn an_empty_member_page_is_followed(kind: Kind) {
    let sim = Sim::start(kind).await;
    let p = sim.provider();
    sim.inject(
        Injection::new(Fault::EmptyPage, Target::Members)
            .after(1)
            .times(3),
    );
    assert_complete(&sim, sync(p.as_ref()).await);
}

async fn a_next_link_that_cycles_is_refused(kind: Kind) {
    let sim = Sim::start(kind).await;
    let p = sim.provider();
    sim.inject(Injection::new(Fault::CyclicNext, Target::Users).after(2));
    let e = assert_error(&sim, sync(p.as_ref()).await, ErrorKind::InvalidResponse);
    assert!(e.to_string().contains("repeats"), "{e}");
}

async fn a_next_link_to_another_host_is_refused(kind: Kind) {
    let sim = Sim::start(kind).await;
    let p = sim.provider();
    sim.inject(Injection::new(Fault::ForeignNext, Target::Users).after(1));
    let e = assert_error(&sim, sync(p.as_ref()).await, ErrorKind::InvalidResponse);
    let text = e.to_string();
    assert!(text.contains("outside the configured origin"), "{text}");
    assert!(
        text.contains(&sim.base_url()),
        "names the allowed origin: {text}"
    );
}
