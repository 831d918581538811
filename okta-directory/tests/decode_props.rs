//! The page decoders never panic, whatever a server sends, and the
//! simulated org's pages decode back to the model exactly.

use okta_directory::testkit::{users_page_body, OktaOrg};
use okta_directory::wire::{app_users_page, groups_page, members_page, users_page};
use proptest::prelude::*;

proptest! {
    #[test]
    fn decoders_never_panic_on_bytes(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = users_page(&body);
        let _ = groups_page(&body);
        let _ = members_page("00g1", &body);
        let _ = app_users_page(&body);
    }

    #[test]
    fn decoders_never_panic_on_json_shaped_input(
        id in "[a-z0-9]{0,8}",
        status in "[A-Z_]{0,12}",
        login in proptest::option::of(".{0,12}"),
        extra in proptest::collection::btree_map("[a-zA-Z]{1,8}", any::<i64>(), 0..4),
    ) {
        let user = serde_json::json!([{
            "id": id, "status": status, "profile": {"login": login, "extra": extra},
            "scope": status, "type": status,
        }]);
        let body = serde_json::to_vec(&user).unwrap();
        prop_assert!(users_page(&body).is_ok());
        prop_assert!(groups_page(&body).is_ok());
        prop_assert!(app_users_page(&body).is_ok());
    }
}

#[tokio::test]
async fn the_orgs_pages_decode_back_to_its_directory() {
    let org = OktaOrg::builder().users(300).start().await.unwrap();
    let truth = org.ground_truth();
    let decoded = users_page(&users_page_body(&truth.users)).unwrap();
    assert_eq!(decoded, truth.users);
}
