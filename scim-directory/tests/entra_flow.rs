//! Microsoft Entra ID's provisioning flow in the shapes it sends:
//! matching query, create with the enterprise extension, capitalized PATCH
//! ops with filter paths, `"False"`/`"True"` strings, the path-less
//! multi-attribute replace of `aadOptscim062020`, group create, member add
//! and removal by value list, periodic no-op `active: true`, hard delete.

mod common;

use common::{kinds, Harness};
use directory_core::{Membership, UserStatus};
use http::Method;
use scim_directory::Change;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

async fn entra_provisioning_flow_ends_in_the_right_snapshot_and_events(mut h: Harness) {
    // Entra first asks whether the user exists.
    let q = h.get("/Users?filter=userName+eq+%22pat.jones%40contoso.com%22");
    assert_eq!(q.body["totalResults"], 0);
    let manager = h
        .send(
            Method::POST,
            "/Users",
            r#"{"userName":"boss@contoso.com","displayName":"The Boss"}"#,
        )
        .id();
    let user = h
        .fixture(Method::POST, "/Users", "entra/create_user.json", &[], 201)
        .id();
    let vars = [("USER_ID", user.as_str()), ("MANAGER_ID", manager.as_str())];
    assert_eq!(kinds(&h.new_changes()), ["user_created", "user_created"]);

    let upd = h.fixture(
        Method::PATCH,
        &format!("/Users/{user}"),
        "entra/update_user.json",
        &vars,
        200,
    );
    assert_eq!(
        upd.body["emails"][0]["value"],
        "pat.jones-smith@contoso.com"
    );
    assert_eq!(upd.body["emails"].as_array().unwrap().len(), 1);
    assert_eq!(upd.body["phoneNumbers"][0]["type"], "mobile");
    assert_eq!(upd.body[ENTERPRISE]["manager"]["value"], manager.as_str());
    assert_eq!(kinds(&h.new_changes()), ["user_updated"]);

    let off = h.fixture(
        Method::PATCH,
        &format!("/Users/{user}"),
        "entra/disable_user.json",
        &vars,
        200,
    );
    assert_eq!(
        off.body["active"], false,
        "the string \"False\" is a boolean false"
    );
    assert_eq!(kinds(&h.new_changes()), ["user_deactivated"]);
    h.fixture(
        Method::PATCH,
        &format!("/Users/{user}"),
        "entra/enable_user.json",
        &vars,
        200,
    );
    assert_eq!(kinds(&h.new_changes()), ["user_reactivated"]);
    // Entra re-sends active=true on later cycles: nothing changes.
    h.fixture(
        Method::PATCH,
        &format!("/Users/{user}"),
        "entra/enable_user.json",
        &vars,
        200,
    );
    assert!(h.new_changes().is_empty());

    let pl = h.fixture(
        Method::PATCH,
        &format!("/Users/{user}"),
        "entra/update_user_pathless.json",
        &vars,
        200,
    );
    assert_eq!(pl.body["name"]["givenName"], "Patricia");
    assert_eq!(
        pl.body["name"]["familyName"], "Jones-Smith",
        "sibling sub-attributes stay"
    );
    assert_eq!(pl.body[ENTERPRISE]["department"], "Treasury");
    assert_eq!(pl.body[ENTERPRISE]["employeeNumber"], "701984");

    let group = h
        .fixture(Method::POST, "/Groups", "entra/create_group.json", &[], 201)
        .id();
    let lookup =
        h.get("/Groups?excludedAttributes=members&filter=displayName+eq+%22Finance+Team%22");
    assert_eq!(lookup.body["Resources"][0]["id"], group.as_str());
    assert!(lookup.body["Resources"][0].get("members").is_none());
    h.fixture(
        Method::PATCH,
        &format!("/Groups/{group}"),
        "entra/add_member.json",
        &vars,
        204,
    );

    let snap = h.snapshot().await;
    let pat = snap.user(&user).unwrap();
    assert_eq!(pat.status, UserStatus::Active);
    assert_eq!(pat.primary_email(), Some("pat.jones-smith@contoso.com"));
    assert_eq!(pat.display_name.as_deref(), Some("Pat Jones-Smith"));
    assert_eq!(pat.department.as_deref(), Some("Treasury"));
    assert_eq!(
        pat.manager.as_ref().and_then(|m| m.value.as_deref()),
        Some(manager.as_str())
    );
    assert_eq!(pat.custom_attributes["costCenterCode"], "T-9");
    assert_eq!(
        pat.external_id.as_deref(),
        Some("0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef")
    );
    assert_eq!(snap.memberships, vec![Membership::direct(&group, &user)]);
    assert_eq!(snap.groups[0].name, "Finance Team");

    h.fixture(
        Method::PATCH,
        &format!("/Groups/{group}"),
        "entra/remove_member.json",
        &vars,
        204,
    );
    assert!(h.snapshot().await.memberships.is_empty());
    h.fixture(
        Method::PATCH,
        &format!("/Groups/{group}"),
        "entra/add_member.json",
        &vars,
        204,
    );

    // Hard delete 30 days after soft delete: the user leaves its groups too.
    let _ = h.new_changes();
    assert_eq!(
        h.send(Method::DELETE, &format!("/Users/{user}"), "").status,
        204
    );
    let changes = h.new_changes();
    assert_eq!(kinds(&changes), ["membership_removed", "user_deleted"]);
    assert!(matches!(&changes[1], Change::UserDeleted { user_id } if *user_id == user));
    let snap = h.snapshot().await;
    assert!(snap.user(&user).is_none() && snap.memberships.is_empty());
    assert_eq!(h.get(&format!("/Users/{user}")).status, 404);
}

fn entra_capitalized_ops_and_remove_by_filter_path_on_groups(h: Harness) {
    let a = h
        .send(Method::POST, "/Users", r#"{"userName":"a@x.test"}"#)
        .id();
    let b = h
        .send(Method::POST, "/Users", r#"{"userName":"b@x.test"}"#)
        .id();
    let g = h
        .send(
            Method::POST,
            "/Groups",
            &format!(r#"{{"displayName":"G","members":[{{"value":"{a}"}},{{"value":"{b}"}}]}}"#),
        )
        .id();
    let body = format!(
        r#"{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations":[{{"op":"Remove","path":"members[value eq \"{a}\"]"}}]}}"#
    );
    let r = h.send(Method::PATCH, &format!("/Groups/{g}"), &body);
    assert_eq!(r.status, 204, "{}", r.body);
    let r = h.get(&format!("/Groups/{g}"));
    let members: Vec<&str> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, [b.as_str()]);
}

fn unknown_member_is_rejected_and_nothing_changes(h: Harness) {
    let g = h
        .send(Method::POST, "/Groups", r#"{"displayName":"G"}"#)
        .id();
    let body = r#"{"Operations":[{"op":"add","path":"members","value":[{"value":"not-a-user"}]}]}"#;
    let r = h.send(Method::PATCH, &format!("/Groups/{g}"), body);
    assert_eq!(
        (r.status.as_u16(), r.body["scimType"].as_str()),
        (400, Some("invalidValue"))
    );
    assert!(h.get(&format!("/Groups/{g}")).body.get("members").is_none());
}

on_every_store!(sync: entra_capitalized_ops_and_remove_by_filter_path_on_groups, unknown_member_is_rejected_and_nothing_changes);
on_every_store!(async: entra_provisioning_flow_ends_in_the_right_snapshot_and_events);
