//! Okta's wire format, decoded from fixtures written from Okta's API
//! reference (the Users, Groups, Apps and System Log pages' example bodies
//! and object tables), not from the simulated org's encoder: each field the
//! reference documents lands where the model says, statuses map one to one,
//! and what Okta adds beyond the model (credentials, `_links`, AD group
//! attributes, app profiles) is skipped without failing the page.

use directory_core::{
    AppAssignment, AssignedVia, DirectoryGroup, DirectoryUser, GroupKind, Membership, UserStatus,
};
use okta_directory::wire::{app_users_page, groups_page, members_page, users_page};
use serde_json::json;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn user<'a>(users: &'a [DirectoryUser], id: &str) -> &'a DirectoryUser {
    users
        .iter()
        .find(|u| u.id == id)
        .unwrap_or_else(|| panic!("no user {id}"))
}

fn text(v: &Option<Box<str>>) -> Option<&str> {
    v.as_deref()
}

#[test]
fn a_listed_user_with_every_profile_attribute_maps_onto_the_model() {
    let users = users_page(&fixture("users.json")).unwrap();
    assert_eq!(users.len(), 8, "every user of the page, in order");
    let u = &users[0];
    assert_eq!(u.id, "00ub0oNGTSWTBKOLGLNR");
    assert_eq!(u.user_name, "eric.judy@example.com");
    assert_eq!(u.status, UserStatus::Active);
    assert_eq!(
        u.last_updated.map(|t| t.to_rfc3339()),
        Some("2013-07-02T21:36:25.344+00:00".to_string())
    );
    assert_eq!(u.external_id, None, "Okta users carry no upstream id");

    assert_eq!(text(&u.name.given_name), Some("Eric"));
    assert_eq!(text(&u.name.family_name), Some("Judy"));
    assert_eq!(text(&u.name.middle_name), Some("Alan"));
    assert_eq!(text(&u.name.honorific_prefix), Some("Dr."));
    assert_eq!(text(&u.name.honorific_suffix), Some("PhD"));
    assert_eq!(text(&u.display_name), Some("Eric Judy"));
    assert_eq!(text(&u.nick_name), Some("ej"));
    assert_eq!(text(&u.title), Some("Staff Engineer"));
    assert_eq!(text(&u.user_type), Some("Employee"));
    assert_eq!(text(&u.preferred_language), Some("en-US"));
    assert_eq!(text(&u.locale), Some("en_US"));
    assert_eq!(text(&u.timezone), Some("America/Los_Angeles"));
    assert_eq!(text(&u.organization), Some("Example Corp"));
    assert_eq!(text(&u.division), Some("R&D"));
    assert_eq!(text(&u.department), Some("Engineering"));
    assert_eq!(text(&u.cost_center), Some("CC-1042"));
    assert_eq!(text(&u.employee_number), Some("E-1187"));

    // `email` is the primary work address, `secondEmail` another one.
    let emails: Vec<(&str, Option<&str>, bool)> = u
        .emails
        .iter()
        .map(|e| (e.value.as_str(), e.kind.as_deref(), e.primary))
        .collect();
    assert_eq!(
        emails,
        [
            ("eric.judy@example.com", Some("work"), true),
            ("eric@example.org", Some("other"), false),
        ]
    );
    assert_eq!(u.primary_email(), Some("eric.judy@example.com"));
    let phones: Vec<(&str, Option<&str>, bool)> = u
        .phone_numbers
        .iter()
        .map(|p| (p.value.as_str(), p.kind.as_deref(), p.primary))
        .collect();
    assert_eq!(
        phones,
        [
            ("555-415-1000", Some("work"), true),
            ("555-415-2011", Some("mobile"), false),
        ]
    );

    // The flat address attributes make one primary work address.
    assert_eq!(u.addresses.len(), 1);
    let a = &u.addresses[0];
    assert_eq!(text(&a.kind), Some("work"));
    assert!(a.primary);
    assert_eq!(text(&a.street_address), Some("301 Brannan St"));
    assert_eq!(text(&a.locality), Some("San Francisco"));
    assert_eq!(text(&a.region), Some("CA"));
    assert_eq!(text(&a.postal_code), Some("94107"));
    assert_eq!(text(&a.country), Some("US"));
    assert_eq!(
        text(&a.formatted),
        Some("301 Brannan St, San Francisco, CA 94107, US")
    );

    // `managerId` is the manager's user id, `manager` their display name.
    let m = u.manager.as_ref().unwrap();
    assert_eq!(text(&m.value), Some("00u1ero7vZFVEIYLWPBN"));
    assert_eq!(text(&m.display_name), Some("Isaac Brock"));

    // Custom schema attributes keep their JSON types; a null one is dropped;
    // none of the mapped base attributes is repeated among them.
    let custom = &u.custom_attributes;
    assert_eq!(custom["boolAttr"], json!(true));
    assert_eq!(custom["intAttr"], json!(99));
    assert_eq!(custom["numAttr"], json!(8.88));
    assert_eq!(custom["strArray"], json!(["strArrayVal1", "strArrayVal2"]));
    assert_eq!(
        custom["profileUrl"],
        json!("https://profiles.example.com/ej")
    );
    assert!(custom.get("costCode").is_none(), "null custom attribute");
    for base in ["login", "email", "firstName", "managerId", "city", "title"] {
        assert!(custom.get(base).is_none(), "{base} is mapped, not custom");
    }
}

#[test]
fn every_documented_user_status_maps_to_its_own_model_status() {
    let mut users = users_page(&fixture("users.json")).unwrap();
    users.extend(users_page(&fixture("users_deprovisioned.json")).unwrap());
    let status = |id: &str| user(&users, id).status.clone();
    assert_eq!(status("00ub0oNGTSWTBKOLGLNR"), UserStatus::Active);
    assert_eq!(status("00ub0oNGTSWTBKOLGLNS"), UserStatus::Staged);
    assert_eq!(status("00u19uiKQa0xXkbdGLNR"), UserStatus::Provisioned);
    assert_eq!(status("00u1ero7vZFVEIYLWPBN"), UserStatus::Suspended);
    assert_eq!(status("00u2lockedoutuser0001"), UserStatus::LockedOut);
    assert_eq!(status("00u2recoveryuser00001"), UserStatus::Recovery);
    assert_eq!(status("00u2passwordexpired01"), UserStatus::PasswordExpired);
    assert_eq!(status("00u3deprovisioned0001"), UserStatus::Deprovisioned);
    // `transitioningToStatus` does not change the status Okta reports.
    assert_eq!(status("00u2activatinguser001"), UserStatus::Provisioned);
}

#[test]
fn sparse_users_decode_with_nulls_and_missing_attributes() {
    let users = users_page(&fixture("users.json")).unwrap();
    // STAGED, never activated: null dates, no second email, only a mobile.
    let staged = user(&users, "00ub0oNGTSWTBKOLGLNS");
    assert_eq!(staged.user_name, "isaac.brock@example.com");
    assert_eq!(staged.emails.len(), 1);
    assert_eq!(staged.primary_email(), Some("isaac.brock@example.com"));
    assert_eq!(staged.phone_numbers.len(), 1);
    assert_eq!(staged.phone_numbers[0].kind.as_deref(), Some("mobile"));
    assert!(!staged.phone_numbers[0].primary);
    assert!(
        staged.addresses.is_empty(),
        "no address attribute, no address"
    );
    assert!(staged.manager.is_none());
    assert!(staged.custom_attributes.get("secondEmail").is_none());

    // The reference's array-search example: an empty `secondEmail` is no
    // address, a null `mobilePhone` no phone.
    let provisioned = user(&users, "00u19uiKQa0xXkbdGLNR");
    let emails: Vec<&str> = provisioned
        .emails
        .iter()
        .map(|e| e.value.as_str())
        .collect();
    assert_eq!(emails, ["u7@test.com"]);
    assert!(provisioned.phone_numbers.is_empty());

    // A deactivated user with null manager attributes has no manager.
    let gone = users_page(&fixture("users_deprovisioned.json")).unwrap();
    assert_eq!(gone[0].manager, None);
    assert_eq!(text(&gone[0].department), Some("Sales"));
}

#[test]
fn groups_of_every_type_map_with_their_names_and_dates() {
    let groups = groups_page(&fixture("groups.json")).unwrap();
    let kinds: Vec<(&str, &GroupKind)> = groups.iter().map(|g| (g.id.as_str(), &g.kind)).collect();
    assert_eq!(
        kinds,
        [
            ("00g1emaKYZTWRYYRRTSK", &GroupKind::Directory),
            ("00garwpuyxHaWOkdV0g4", &GroupKind::Application),
            ("00g1everyone00000001", &GroupKind::BuiltIn),
            ("00g1noprofile0000001", &GroupKind::Directory),
        ]
    );
    let west: &DirectoryGroup = &groups[0];
    assert_eq!(west.name, "West Coast Users");
    assert_eq!(
        west.description.as_deref(),
        Some("All Users West of The Rockies")
    );
    assert_eq!(
        west.last_updated.map(|t| t.to_rfc3339()),
        Some("2015-10-05T19:16:43+00:00".to_string())
    );
    assert_eq!(
        west.last_membership_updated.map(|t| t.to_rfc3339()),
        Some("2015-11-28T19:15:32+00:00".to_string())
    );
    // An AD-imported group (`okta:windows_security_principal` profile).
    let ad = &groups[1];
    assert_eq!(ad.name, "Engineering Users");
    assert_eq!(
        ad.description.as_deref(),
        Some("corp.example.com/Engineering/Engineering Users")
    );
    assert_eq!(groups[2].name, "Everyone");
    // A group without a name is named by its id; null dates stay unknown.
    let bare = &groups[3];
    assert_eq!(bare.name, "00g1noprofile0000001");
    assert_eq!(bare.description, None);
    assert_eq!(bare.last_updated, None);
    assert_eq!(bare.last_membership_updated, None);
}

#[test]
fn group_members_are_the_listed_users_ids_deprovisioned_included() {
    let members = members_page("00g1emaKYZTWRYYRRTSK", &fixture("group_members.json")).unwrap();
    assert_eq!(
        members,
        [
            Membership::direct("00g1emaKYZTWRYYRRTSK", "00u118oQYT4TBGuay0g4"),
            Membership::direct("00g1emaKYZTWRYYRRTSK", "00u3deprovisioned0001"),
        ]
    );
}

#[test]
fn app_users_are_direct_or_through_the_group_their_links_name() {
    let assignments = app_users_page(&fixture("app_users.json")).unwrap();
    assert_eq!(
        assignments,
        [
            AppAssignment::direct("00u15s1KDETTQMQYABRL"),
            AppAssignment::via_group("00u1dnq5S0RIYOEKLLCH", "00garwpuyxHaWOkdV0g4"),
            AppAssignment {
                user_id: "00u1jrvDUAKYBOLGXRCY".into(),
                via: AssignedVia::Group { group_id: None },
                role: None,
            },
        ]
    );
}

#[test]
fn a_fixture_with_a_wrong_typed_field_is_an_error_naming_its_path() {
    let mut users: serde_json::Value = serde_json::from_slice(&fixture("users.json")).unwrap();
    users[3]["profile"]["email"] = json!(["not", "a", "string"]);
    let e = users_page(&serde_json::to_vec(&users).unwrap()).unwrap_err();
    assert!(e.message().contains("[3].profile.email"), "{e}");

    let mut groups: serde_json::Value = serde_json::from_slice(&fixture("groups.json")).unwrap();
    groups[1]["lastUpdated"] = json!("yesterday");
    let e = groups_page(&serde_json::to_vec(&groups).unwrap()).unwrap_err();
    assert!(e.message().contains("[1].lastUpdated"), "{e}");
}
