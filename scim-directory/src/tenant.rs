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

/// A stored tenant: its id (the endpoint path segment), name and token hash.
#[derive(Clone, PartialEq, Eq)]
pub struct TenantRecord {
    /// The tenant id, used in the endpoint path (`/scim/v2/{id}`).
    pub id: String,
    /// A display name for admins.
    pub name: String,
    /// Hex SHA-256 of the current bearer token.
    pub token_hash: String,
    /// When the tenant was created.
    pub created: DateTime<Utc>,
    /// When the token was last issued (creation or rotation).
    pub token_issued: DateTime<Utc>,
}

impl fmt::Debug for TenantRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("token_hash", &"[redacted]")
            .field("created", &self.created)
            .field("token_issued", &self.token_issued)
            .finish()
    }
}

impl TenantRecord {
    /// Whether `presented` is this tenant's current token (constant time).
    pub fn token_matches(&self, presented: &str) -> bool {
        constant_time_eq(hash_token(presented).as_bytes(), self.token_hash.as_bytes())
    }
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
        let rec = TenantRecord {
            id: "acme".into(),
            name: "Acme".into(),
            token_hash: hash_token(a.expose_secret()),
            created: now,
            token_issued: now,
        };
        assert!(rec.token_matches(a.expose_secret()));
        assert!(!rec.token_matches(b.expose_secret()));
        assert!(!rec.token_matches(""));
        assert!(!rec.token_hash.contains(a.expose_secret()));
    }

    #[test]
    fn debug_shows_neither_token_nor_hash() {
        let t = generate_token();
        let now = Utc::now();
        let rec = TenantRecord {
            id: "acme".into(),
            name: "Acme".into(),
            token_hash: hash_token(t.expose_secret()),
            created: now,
            token_issued: now,
        };
        let new = NewTenant {
            tenant_id: "acme".into(),
            endpoint: "http://x/scim/v2/acme".into(),
            token: t.clone(),
        };
        for shown in [format!("{rec:?}"), format!("{new:?}"), format!("{new:#?}")] {
            assert!(!shown.contains(t.expose_secret()), "{shown}");
            assert!(!shown.contains(&rec.token_hash), "{shown}");
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
