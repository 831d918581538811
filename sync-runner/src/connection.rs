//! Connections: one customer's link to one directory, with its policy and
//! schedule. Secrets are never stored in plaintext: each is a name the
//! host's [`SecretResolver`] knows, or sealed under the host's key.

use std::collections::BTreeMap;

use directory_core::{Error as DirectoryError, SecretString};
use recipient_reconcile::Policy;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::schedule::Schedule;
use crate::secrets::{SecretRef, SecretResolver};

/// Setting names that look like a secret: refused in
/// [`ProviderSettings::settings`], so no secret is stored in plaintext by
/// mistake. Name the secret in [`ProviderSettings::secrets`] instead.
const SECRET_LIKE: [&str; 6] = [
    "secret",
    "password",
    "token",
    "privatekey",
    "private_key",
    "jwk",
];

/// Which provider to build and how, as data: the host's
/// [`ProviderFactory`](crate::ProviderFactory) reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderSettings {
    /// The provider kind the factory knows, e.g. `"okta"`, `"entra"`, `"memory"`.
    pub kind: String,
    /// Plain settings (domain, tenant id, client id, app id): never secrets.
    pub settings: serde_json::Value,
    /// Secrets by purpose (`"private_jwk"`, `"client_secret"`): the name the
    /// host's [`SecretResolver`] knows each by, or the secret sealed under
    /// the host's key ([`EncryptedSecrets`](crate::EncryptedSecrets)).
    /// Never the plaintext.
    pub secrets: BTreeMap<String, SecretRef>,
}

/// One customer's connection to one directory. Serializes to JSON a store
/// can keep as it is: secrets appear as names or ciphertext only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    /// The connection's id, unique in the store.
    pub id: String,
    /// The host's tenant (customer) the records belong to.
    pub tenant_id: String,
    /// Which provider and how to reach it.
    pub provider: ProviderSettings,
    /// Connections with the same key never run at once: two connections to
    /// one Okta org share its rate limit. Usually the org's domain or tenant id.
    pub idp_org_key: String,
    /// The customer's sync policy.
    pub policy: Policy,
    /// When it runs.
    pub schedule: Schedule,
    /// Whether it runs at all.
    pub enabled: bool,
}

impl Connection {
    /// Checks everything a store needs before keeping the connection; the
    /// error names the field and what to fix.
    pub fn validate(&self) -> Result<()> {
        for (field, value) in [
            ("id", &self.id),
            ("tenant_id", &self.tenant_id),
            ("idp_org_key", &self.idp_org_key),
            ("provider.kind", &self.provider.kind),
        ] {
            if value.trim().is_empty() {
                return Err(Error::invalid(field, "is empty"));
            }
        }
        self.schedule.validate()?;
        self.policy
            .validate()
            .map_err(|e| Error::invalid("policy", e.to_string()))?;
        check_no_plain_secret(&self.provider.settings, "provider.settings")
    }

    /// The secret this connection keeps for `purpose` (`"private_jwk"`,
    /// `"client_secret"`): resolved by name through `resolver`, or opened if
    /// sealed. What a [`ProviderFactory`](crate::ProviderFactory) calls; the
    /// error is a config error naming `provider.secrets.<purpose>` and what
    /// to fix.
    pub async fn secret(
        &self,
        purpose: &str,
        resolver: &dyn SecretResolver,
    ) -> Result<SecretString, DirectoryError> {
        let field = format!("provider.secrets.{purpose}");
        let found = match self.provider.secrets.get(purpose) {
            None => return Err(DirectoryError::config(
                &field,
                "is missing: name the secret in the host's store, or seal it with EncryptedSecrets",
            )),
            Some(SecretRef::Named(name)) => resolver.resolve(&self.tenant_id, name).await,
            Some(SecretRef::Sealed(sealed)) => resolver.open(self, purpose, sealed),
        };
        found.map_err(|e| DirectoryError::config(&field, e))
    }
}

/// Refuses settings whose names look like secrets, at any depth.
fn check_no_plain_secret(value: &serde_json::Value, path: &str) -> Result<()> {
    match value {
        serde_json::Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            let here = format!("{path}.{k}");
            let folded = k.to_ascii_lowercase();
            if SECRET_LIKE.iter().any(|s| folded.contains(s)) {
                return Err(Error::invalid(
                    &here,
                    "looks like a secret: keep it in the host's secret store and name it in provider.secrets",
                ));
            }
            check_no_plain_secret(v, &here)
        }),
        serde_json::Value::Array(items) => items
            .iter()
            .try_for_each(|v| check_no_plain_secret(v, path)),
        _ => Ok(()),
    }
}
