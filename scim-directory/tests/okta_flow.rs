//! Okta's provisioning flow, request by request, in the shapes Okta sends:
//! its SCIM 2.0 spec test, then create, PUT update, path-less deactivation
//! and reactivation, group push, membership changes and group delete.

mod common;

use common::{kinds, Harness};
use directory_core::{Membership, UserStatus};
use http::Method;

fn okta_spec_test_checks(h: Harness) {
    let list = h.get("/Users?count=1&startIndex=1");
    assert_eq!(list.status, 200);
    assert!(list.body["itemsPerPage"].is_number() && list.body["startIndex"].is_number());
    assert!(list.body["totalResults"].is_number());

    let none =
        h.get("/Users?filter=userName%20eq%20%22nobody%40okta.local%22&startIndex=1&count=100");
    assert_eq!(
        (none.status.as_u16(), none.body["totalResults"].as_u64()),
        (200, Some(0))
    );

    let created = h.fixture(Method::POST, "/Users", "okta/create_user.json", &[], 201);
    assert_eq!(created.headers["content-type"], "application/scim+json");
    assert!(created.headers["location"]
        .to_str()
        .unwrap()
        .ends_with(&created.id()));

    let dup = h.fixture(Method::POST, "/Users", "okta/create_user.json", &[], 409);
    assert_eq!(dup.body["scimType"], "uniqueness");
    assert_eq!(dup.body["status"], "409");

    let found = h.get("/Users?filter=userName%20eq%20%22TEST.USER%40OKTA.LOCAL%22");
    assert_eq!(
        found.body["totalResults"], 1,
        "userName is case-insensitive"
    );

    let missing = h.get("/Users/010101001010101");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["schemas"][0], scim_directory::ERROR_SCHEMA);
    assert!(missing.body["detail"].is_string());
}

fn okta_create_never_stores_or_returns_the_password(h: Harness) {
    let created = h.fixture(Method::POST, "/Users", "okta/create_user.json", &[], 201);
    assert!(created.body.get("password").is_none());
    assert!(!created.body.to_string().contains("1mz050nq"));
    let again = h.get(&format!("/Users/{}", created.id()));
    assert!(!again.body.to_string().contains("1mz050nq"));
}

async fn okta_provisioning_flow_ends_in_the_right_snapshot_and_events(mut h: Harness) {
    let user = h
        .fixture(Method::POST, "/Users", "okta/create_user.json", &[], 201)
        .id();
    let vars = [("USER_ID", user.as_str())];
    assert_eq!(kinds(&h.new_changes()), ["user_created"]);

    // Update: Okta (AIW integrations) PUTs the whole user.
    let put = h.fixture(
        Method::PUT,
        &format!("/Users/{user}"),
        "okta/replace_user.json",
        &vars,
        200,
    );
    assert_eq!(
        put.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Engineering"
    );
    assert_eq!(kinds(&h.new_changes()), ["user_updated"]);

    // The same PUT again changes nothing and logs nothing.
    h.fixture(
        Method::PUT,
        &format!("/Users/{user}"),
        "okta/replace_user.json",
        &vars,
        200,
    );
    assert!(h.new_changes().is_empty());

    // Deactivate (unassign) and reactivate: path-less PATCH.
    let off = h.fixture(
        Method::PATCH,
        &format!("/Users/{user}"),
        "okta/deactivate_user.json",
        &vars,
        200,
    );
    assert_eq!(off.body["active"], false);
    assert_eq!(kinds(&h.new_changes()), ["user_deactivated"]);
    let snap = h.snapshot().await;
    assert_eq!(snap.users[0].status, UserStatus::Disabled);
    assert!(
        snap.app_assignments.is_empty(),
        "a deactivated user is not assigned"
    );

    h.fixture(
        Method::PATCH,
        &format!("/Users/{user}"),
        "okta/reactivate_user.json",
        &vars,
        200,
    );
    assert_eq!(kinds(&h.new_changes()), ["user_reactivated"]);

    // Group push: create, rename (with the id in the value), add and remove a member.
    let group = h
        .fixture(Method::POST, "/Groups", "okta/create_group.json", &[], 201)
        .id();
    let gvars = [("USER_ID", user.as_str()), ("GROUP_ID", group.as_str())];
    let renamed = h.fixture(
        Method::PATCH,
        &format!("/Groups/{group}"),
        "okta/rename_group.json",
        &gvars,
        204,
    );
    assert_eq!(renamed.body, serde_json::Value::Null, "204 No Content");
    let renamed = h.get(&format!("/Groups/{group}"));
    assert_eq!(renamed.body["displayName"], "Berlin HQ");
    assert_eq!(renamed.body["id"], group.as_str());
    h.fixture(
        Method::PATCH,
        &format!("/Groups/{group}"),
        "okta/add_member.json",
        &gvars,
        204,
    );
    assert_eq!(
        kinds(&h.new_changes()),
        ["group_created", "group_updated", "membership_added"]
    );

    let snap = h.snapshot().await;
    assert_eq!(snap.groups[0].name, "Berlin HQ");
    assert_eq!(snap.memberships, vec![Membership::direct(&group, &user)]);
    let u = &snap.users[0];
    assert_eq!(
        (
            u.user_name.as_str(),
            u.external_id.as_deref(),
            u.status.clone()
        ),
        (
            "test.user@okta.local",
            Some("00ujl29u0le5T6Aj10h7"),
            UserStatus::Active
        )
    );
    assert_eq!(u.name.family_name.as_deref(), Some("User-Smith"));
    assert_eq!(u.employee_number.as_deref(), Some("4711"));
    assert_eq!(
        u.manager.as_ref().and_then(|m| m.display_name.as_deref()),
        Some("Grace Hopper")
    );
    let user_json = h.get(&format!("/Users/{user}")).body;
    assert_eq!(user_json["groups"][0]["value"], group.as_str());

    h.fixture(
        Method::PATCH,
        &format!("/Groups/{group}"),
        "okta/remove_member.json",
        &gvars,
        204,
    );
    // Removing again (a retry) is not an error and logs nothing.
    h.fixture(
        Method::PATCH,
        &format!("/Groups/{group}"),
        "okta/remove_member.json",
        &gvars,
        204,
    );
    assert_eq!(kinds(&h.new_changes()), ["membership_removed"]);
    assert!(h.snapshot().await.memberships.is_empty());

    let del = h.send(Method::DELETE, &format!("/Groups/{group}"), "");
    assert_eq!(del.status, 204);
    assert_eq!(kinds(&h.new_changes()), ["group_deleted"]);
    assert_eq!(h.get(&format!("/Groups/{group}")).status, 404);
}

fn put_without_active_keeps_the_user_deactivated(mut h: Harness) {
    let user = h
        .fixture(Method::POST, "/Users", "okta/create_user.json", &[], 201)
        .id();
    let vars = [("USER_ID", user.as_str())];
    h.fixture(
        Method::PATCH,
        &format!("/Users/{user}"),
        "okta/deactivate_user.json",
        &vars,
        200,
    );
    let _ = h.new_changes();
    let mut body: serde_json::Value =
        serde_json::from_str(&common::fixture("okta/replace_user.json", &vars)).unwrap();
    body.as_object_mut().unwrap().remove("active");
    let put = h.send(Method::PUT, &format!("/Users/{user}"), &body.to_string());
    assert_eq!(put.body["active"], false);
    assert_eq!(kinds(&h.new_changes()), ["user_updated"]);
}

on_every_store!(sync: okta_spec_test_checks, okta_create_never_stores_or_returns_the_password, put_without_active_keeps_the_user_deactivated);
on_every_store!(async: okta_provisioning_flow_ends_in_the_right_snapshot_and_events);
