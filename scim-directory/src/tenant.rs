//! Tenants (one directory per customer) and their bearer tokens.
//!
//! A token is 32 random bytes from the OS, base64url-encoded with a `scim_`
//! prefix so secret scanners can spot it. Only its SHA-256 is stored; a
//! presented token is hashed and compared with
//! [`directory_core::constant_time_eq`]. The plain token exists only in the
//! [`SecretString`] returned at creation or rotation.

use std::fmt;

use base64::Engine;
use chrono::{DateTime, Utc};
use directory_core::{constant_time_eq, SecretString};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix of every generated token.
pub const TOKEN_PREFIX: &str = "scim_";

/// Whether a tenant's directory answers SCIM requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TenantStatus {
    /// Answers every request with a good token.
    Active,
    /// Answers 401 to every SCIM request, good token or not; its data is
    /// kept and the host can still read it.
    Suspended,
}

impl TenantStatus {
    /// `active` or `suspended`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    /// The status stored as `s`; anything but `suspended` is active.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn from_stored(s: &str) -> Self {
        if s == "suspended" {
            Self::Suspended
        } else {
            Self::Active
        }
    }
}

impl fmt::Display for TenantStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored tenant: its id (the endpoint path segment), name, status and
/// token hashes.
#[derive(Clone, PartialEq, Eq)]
pub struct TenantRecord {
    /// The tenant id, used in the endpoint path (`/scim/v2/{id}`).
    pub id: String,
    /// A display name for admins.
    pub name: String,
    /// Hex SHA-256 of the current bearer token; `None` once revoked.
    pub token_hash: Option<String>,
    /// When the tenant was created.
    pub created: DateTime<Utc>,
    /// When the token was last issued (creation or rotation).
    pub token_issued: DateTime<Utc>,
    /// Hex SHA-256 of the token before the last rotation, which keeps
    /// working until [`TenantRecord::previous_token_expires`].
    pub previous_token_hash: Option<String>,
    /// When the previous token stops working.
    pub previous_token_expires: Option<DateTime<Utc>>,
    /// Active or suspended.
    pub status: TenantStatus,
}

impl fmt::Debug for TenantRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |h: &Option<String>| h.as_ref().map(|_| "[redacted]");
        f.debug_struct("TenantRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("token_hash", &shown(&self.token_hash))
            .field("created", &self.created)
            .field("token_issued", &self.token_issued)
            .field("previous_token_hash", &shown(&self.previous_token_hash))
            .field("previous_token_expires", &self.previous_token_expires)
            .field("status", &self.status)
            .finish()
    }
}

impl TenantRecord {
    /// A new active tenant whose token is `token`, issued `now`.
    pub(crate) fn new(id: &str, name: &str, token: &SecretString, now: DateTime<Utc>) -> Self {
        Self {
            id: id.to_string(),
            name: name.to_string(),
            token_hash: Some(hash_token(token.expose_secret())),
            created: now,
            token_issued: now,
            previous_token_hash: None,
            previous_token_expires: None,
            status: TenantStatus::Active,
        }
    }

    /// Whether `presented` is this tenant's current token, or its previous
    /// one before that expires, at `now` (constant time per hash). Says
    /// nothing of the status: a suspended tenant's token still matches.
    pub fn token_matches(&self, presented: &str, now: DateTime<Utc>) -> bool {
        let hash = hash_token(presented);
        let is = |h: &Option<String>| {
            h.as_ref()
                .is_some_and(|h| constant_time_eq(hash.as_bytes(), h.as_bytes()))
        };
        let previous_live = self.previous_token_expires.is_some_and(|end| now < end);
        is(&self.token_hash) | (previous_live & is(&self.previous_token_hash))
    }

    /// What an admin may see of this tenant: no token, no hash.
    pub fn info(&self) -> TenantInfo {
        TenantInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            status: self.status,
            created: self.created,
            token_issued: self.token_issued,
            has_token: self.token_hash.is_some(),
            previous_token_expires: self
                .previous_token_hash
                .as_ref()
                .and(self.previous_token_expires),
        }
    }
}

/// A tenant as [`crate::ScimService::tenants`] lists it: never a token or
/// a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantInfo {
    /// The tenant id.
    pub id: String,
    /// The display name.
    pub name: String,
    /// Active or suspended.
    pub status: TenantStatus,
    /// When the tenant was created.
    pub created: DateTime<Utc>,
    /// When its token was last issued.
    pub token_issued: DateTime<Utc>,
    /// `false` once its tokens were revoked (until the next rotation).
    pub has_token: bool,
    /// When the token before the last rotation stops (or stopped) working.
    pub previous_token_expires: Option<DateTime<Utc>>,
}

/// What [`crate::ScimService::create_tenant`] returns: the only time the
/// token is available in clear.
#[derive(Debug, Clone)]
pub struct NewTenant {
    /// The tenant id.
    pub tenant_id: String,
    /// The SCIM base URL to paste into Okta ("SCIM connector base URL") or
    /// Entra ("Tenant URL").
    pub endpoint: String,
    /// The bearer token ("Secret Token" in Entra). Shown once; store it nowhere.
    pub token: SecretString,
}

/// A new random token.
pub(crate) fn generate_token() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    SecretString::new(format!("{TOKEN_PREFIX}{encoded}"))
}

/// Hex SHA-256 of a token.
pub(crate) fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks a tenant id: 1 to 64 of `a-z 0-9 - _`, so it is safe in a URL path.
pub(crate) fn validate_tenant_id(id: &str) -> Result<(), directory_core::Error> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(directory_core::Error::config(
            "tenant_id",
            "use 1 to 64 characters from a-z, 0-9, `-` and `_`",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_verified_by_hash() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        assert!(a.expose_secret().starts_with(TOKEN_PREFIX));
        assert!(a.expose_secret().len() > 40);
        let now = Utc::now();
        let rec = TenantRecord::new("acme", "Acme", &a, now);
        assert!(rec.token_matches(a.expose_secret(), now));
        assert!(!rec.token_matches(b.expose_secret(), now));
        assert!(!rec.token_matches("", now));
        assert!(!rec.token_hash.unwrap().contains(a.expose_secret()));
    }

    #[test]
    fn the_previous_token_matches_until_it_expires_and_a_revoked_one_never() {
        let (old, new) = (generate_token(), generate_token());
        let now = Utc::now();
        let end = now + chrono::Duration::hours(1);
        let rec = TenantRecord {
            previous_token_hash: Some(hash_token(old.expose_secret())),
            previous_token_expires: Some(end),
            ..TenantRecord::new("acme", "Acme", &new, now)
        };
        assert!(rec.token_matches(old.expose_secret(), now));
        assert!(rec.token_matches(old.expose_secret(), end - chrono::Duration::seconds(1)));
        assert!(!rec.token_matches(old.expose_secret(), end));
        assert!(rec.token_matches(new.expose_secret(), end));
        let revoked = TenantRecord {
            token_hash: None,
            previous_token_hash: None,
            previous_token_expires: None,
            ..rec
        };
        assert!(!revoked.token_matches(new.expose_secret(), now));
        assert!(!revoked.token_matches(old.expose_secret(), now));
        assert!(!revoked.token_matches("", now));
    }

    #[test]
    fn debug_shows_neither_token_nor_hash() {
        let t = generate_token();
        let now = Utc::now();
        let old = generate_token();
        let rec = TenantRecord {
            previous_token_hash: Some(hash_token(old.expose_secret())),
            previous_token_expires: Some(now),
            ..TenantRecord::new("acme", "Acme", &t, now)
        };
        let hashes = [
            rec.token_hash.clone().unwrap(),
            hash_token(old.expose_secret()),
        ];
        let new = NewTenant {
            tenant_id: "acme".into(),
            endpoint: "http://x/scim/v2/acme".into(),
            token: t.clone(),
        };
        let info = rec.info();
        for shown in [
            format!("{rec:?}"),
            format!("{new:?}"),
            format!("{new:#?}"),
            format!("{info:?}"),
        ] {
            assert!(!shown.contains(t.expose_secret()), "{shown}");
            assert!(!shown.contains(old.expose_secret()), "{shown}");
            assert!(
                hashes.iter().all(|h| !shown.contains(h.as_str())),
                "{shown}"
            );
        }
    }

    #[test]
    fn tenant_ids_are_url_safe() {
        assert!(validate_tenant_id("acme-01").is_ok());
        for bad in ["", "Acme", "a/b", "a b", &"x".repeat(65)] {
            assert!(validate_tenant_id(bad).is_err(), "{bad}");
        }
    }
}
