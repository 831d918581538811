//! The generated directory: seeded, quick and lean (100,000 users in a few
//! seconds in a debug build).

use chrono::{DateTime, TimeZone, Utc};
use directory_core::{
    Address, AppAssignment, DirectoryData, DirectoryGroup, DirectoryUser, GroupKind, Manager,
    Membership, PersonName, PhoneNumber, UserStatus,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How the generated directory looks.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    pub(crate) seed: u64,
    pub(crate) users: usize,
    pub(crate) groups: usize,
    pub(crate) memberships_per_user: usize,
    pub(crate) app_users: usize,
    pub(crate) direct_share: f64,
    /// Shares of non-active statuses: suspended, deprovisioned, staged,
    /// provisioned, locked out, password expired, recovery.
    pub(crate) inactive_share: f64,
    pub(crate) awkward: bool,
    /// 0 for groups of even size; higher values make the first groups much
    /// larger than the last (memberships drawn as `u^(1 + skew)`).
    pub(crate) group_skew: f64,
    /// Add Okta's built-in `Everyone` group holding every user.
    pub(crate) everyone: bool,
}

impl Default for Shape {
    fn default() -> Self {
        Self {
            seed: 7,
            users: 500,
            groups: 20,
            memberships_per_user: 3,
            app_users: 100,
            direct_share: 0.4,
            inactive_share: 0.1,
            awkward: true,
            group_skew: 0.0,
            everyone: false,
        }
    }
}

const FIRST: [&str; 12] = [
    "Ada", "Grace", "Alan", "Maria", "Li", "Omar", "Ines", "Kofi", "Yuki", "Sven", "Priya", "Noah",
];
const LAST: [&str; 12] = [
    "Lovelace", "Hopper", "Turing", "Lopez", "Wei", "Haddad", "Costa", "Mensah", "Sato", "Berg",
    "Nair", "Smith",
];
/// Names that break naive code: diacritics, apostrophes, CJK, RTL, emoji.
const AWKWARD_FIRST: [&str; 6] = ["Zoë", "Łukasz", "Seán", "美咲", "Renée-Claire", "محمد"];
const AWKWARD_LAST: [&str; 6] = [
    "O'Brien",
    "Müller-Lüdenscheidt",
    "Nguyễn",
    "山田",
    "van der Berg",
    "🙂",
];
const DEPARTMENTS: [&str; 6] = [
    "Platform", "Sales", "Finance", "Support", "Legal", "Research",
];
const CITIES: [(&str, &str); 5] = [
    ("Berlin", "DE"),
    ("Lisbon", "PT"),
    ("Osaka", "JP"),
    ("Austin", "US"),
    ("Nairobi", "KE"),
];
const STATUSES: [UserStatus; 7] = [
    UserStatus::Suspended,
    UserStatus::Deprovisioned,
    UserStatus::Staged,
    UserStatus::Provisioned,
    UserStatus::LockedOut,
    UserStatus::PasswordExpired,
    UserStatus::Recovery,
];

/// Okta-looking ids, 20 characters, sorting in creation order.
pub(crate) fn okta_id(prefix: &str, n: usize, salt: u64) -> String {
    format!(
        "{prefix}{n:010}{:07x}",
        (salt.wrapping_mul(0x9e37_79b9) ^ n as u64) & 0x0fff_ffff
    )
}

fn time(rng: &mut StdRng) -> DateTime<Utc> {
    let secs = 1_704_067_200 + rng.gen_range(0..60_000_000i64);
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// Generates a directory of the given shape.
pub(crate) fn generate(shape: &Shape) -> DirectoryData {
    let mut rng = StdRng::seed_from_u64(shape.seed);
    let users: Vec<DirectoryUser> = (0..shape.users).map(|i| user(i, shape, &mut rng)).collect();
    let mut groups: Vec<DirectoryGroup> = (0..shape.groups)
        .map(|i| group(i, shape, &mut rng))
        .collect();
    let mut memberships = memberships(&users, &groups, shape, &mut rng);
    let app_assignments = assignments(&users, &memberships, shape, &mut rng);
    if shape.everyone {
        let mut everyone = group(shape.groups, shape, &mut rng);
        everyone.name = "Everyone".to_string();
        everyone.description = Some("All users in your organization".to_string());
        everyone.kind = GroupKind::BuiltIn;
        memberships.extend(
            users
                .iter()
                .map(|u| Membership::direct(everyone.id.clone(), u.id.clone())),
        );
        groups.push(everyone);
    }
    DirectoryData {
        users,
        groups,
        memberships,
        app_assignments,
    }
}

fn user(i: usize, shape: &Shape, rng: &mut StdRng) -> DirectoryUser {
    let awkward = shape.awkward && i % 17 == 3;
    let (first, last) = if awkward {
        (nth(&AWKWARD_FIRST, i % 6), nth(&AWKWARD_LAST, (i / 6) % 6))
    } else {
        {
            let first = nth(&FIRST, rng.gen_range(0..12));
            (first, nth(&LAST, rng.gen_range(0..12)))
        }
    };
    let login = format!("user{i}@example.test");
    let mut u = DirectoryUser::new(okta_id("00u", i, shape.seed), login.clone());
    if !(shape.awkward && i % 23 == 5) {
        u = u.with_email(login, true);
    }
    if i % 11 == 0 {
        u = u.with_email(format!("u{i}.private@example.net"), false);
    }
    u.name = PersonName {
        given_name: Some(first.into()),
        family_name: Some(last.into()),
        ..PersonName::default()
    };
    u.display_name = Some(format!("{first} {last}").into());
    u.department = Some(nth(&DEPARTMENTS, rng.gen_range(0..6)).into());
    u.title = (i % 3 == 0).then(|| "Engineer".into());
    u.employee_number = Some(format!("E-{i:06}").into());
    u.status = status(shape, rng);
    u.last_updated = Some(time(rng));
    add_extras(&mut u, i, shape, rng);
    u
}

fn add_extras(u: &mut DirectoryUser, i: usize, shape: &Shape, rng: &mut StdRng) {
    if i % 4 == 1 {
        let (city, country) = nth(&CITIES, rng.gen_range(0..5));
        u.addresses.push(Address {
            kind: Some("work".into()),
            locality: Some(city.into()),
            country: Some(country.into()),
            primary: true,
            ..Address::default()
        });
    }
    if i % 5 == 2 {
        u.phone_numbers.push(PhoneNumber {
            value: format!("+1 555 {:04}", i % 10_000),
            kind: Some("mobile".into()),
            primary: false,
        });
    }
    if i > 0 && i % 7 == 0 {
        u.manager = Some(Manager {
            value: Some(okta_id("00u", i / 7, shape.seed).into()),
            display_name: None,
        });
    }
    if shape.awkward && i % 9 == 4 {
        let mut custom = directory_core::Attributes::new();
        custom.insert("badgeNumber".to_string(), serde_json::json!(i as u64 * 3));
        custom.insert(
            "costCenterCode".to_string(),
            serde_json::json!(format!("CC-{}", i % 40)),
        );
        custom.insert("remote".to_string(), serde_json::json!(i % 2 == 0));
        u.custom_attributes = custom;
    }
}

/// `items[i]`, or the default when `i` is out of range (never, for the
/// callers' constant tables and in-range indexes).
fn nth<T: Copy + Default>(items: &[T], i: usize) -> T {
    items.get(i).copied().unwrap_or_default()
}

fn status(shape: &Shape, rng: &mut StdRng) -> UserStatus {
    if rng.gen_bool(shape.inactive_share.clamp(0.0, 1.0)) {
        STATUSES
            .get(rng.gen_range(0..STATUSES.len()))
            .cloned()
            .unwrap_or(UserStatus::Active)
    } else {
        UserStatus::Active
    }
}

fn group(i: usize, shape: &Shape, rng: &mut StdRng) -> DirectoryGroup {
    let mut g = DirectoryGroup::new(okta_id("00g", i, shape.seed), format!("Group {i}"));
    if shape.awkward && i % 10 == 9 {
        g.name = format!("Équipe Zürich – {i}");
        g.kind = GroupKind::Application;
    }
    g.description = (i % 2 == 0).then(|| format!("Generated group {i}"));
    g.last_updated = Some(time(rng));
    g.last_membership_updated = Some(time(rng));
    g
}

fn memberships(
    users: &[DirectoryUser],
    groups: &[DirectoryGroup],
    shape: &Shape,
    rng: &mut StdRng,
) -> Vec<Membership> {
    if groups.is_empty() {
        return Vec::new();
    }
    let per_user = shape.memberships_per_user.min(groups.len());
    let mut out = Vec::with_capacity(users.len() * per_user);
    let mut picked: Vec<usize> = Vec::with_capacity(per_user);
    for u in users {
        picked.clear();
        let mut tries = 0;
        while picked.len() < per_user {
            tries += 1;
            let g = pick_group(groups.len(), shape.group_skew, tries, rng);
            if !picked.contains(&g) {
                picked.push(g);
            }
        }
        for g in picked.iter().filter_map(|&g| groups.get(g)) {
            out.push(Membership::direct(g.id.clone(), u.id.clone()));
        }
    }
    out
}

/// A group index, skewed towards the first groups; uniform once a user's
/// draws keep colliding.
fn pick_group(n: usize, skew: f64, tries: u32, rng: &mut StdRng) -> usize {
    if skew <= 0.0 || tries > 20 {
        return rng.gen_range(0..n);
    }
    let u: f64 = rng.gen();
    ((u.powf(1.0 + skew) * n as f64) as usize).min(n - 1)
}

/// Every `users/app_users`-th user is assigned: directly, or through one of
/// their groups.
fn assignments(
    users: &[DirectoryUser],
    memberships: &[Membership],
    shape: &Shape,
    rng: &mut StdRng,
) -> Vec<AppAssignment> {
    if shape.app_users == 0 || users.is_empty() {
        return Vec::new();
    }
    let per_user = shape.memberships_per_user.min(memberships.len().max(1));
    let step = (users.len() / shape.app_users.min(users.len())).max(1);
    let mut out = Vec::with_capacity(shape.app_users);
    for (i, u) in users.iter().enumerate().step_by(step).take(shape.app_users) {
        let group = memberships.get(i * per_user).filter(|m| m.user_id == u.id);
        match group {
            Some(m) if !rng.gen_bool(shape.direct_share.clamp(0.0, 1.0)) => {
                out.push(AppAssignment::via_group(u.id.clone(), m.group_id.clone()))
            }
            _ => out.push(AppAssignment::direct(u.id.clone())),
        }
    }
    out
}
