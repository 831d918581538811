//! Connections: one customer's link to one directory, with its policy and
//! schedule. Secrets are named, never held: a [`SecretResolver`] the host
//! supplies turns a name into the secret when a provider is built.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use directory_core::SecretString;
use recipient_reconcile::Policy;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::delta;
use crate::error::{Error, Result};

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

/// The longest schedule interval or jitter accepted.
const MAX_SCHEDULE: Duration = Duration::from_secs(366 * 24 * 3600);

/// Which provider to build and how, as data: the host's
/// [`ProviderFactory`](crate::ProviderFactory) reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderSettings {
    /// The provider kind the factory knows, e.g. `"okta"`, `"entra"`, `"memory"`.
    pub kind: String,
    /// Plain settings (domain, tenant id, client id, app id): never secrets.
    pub settings: serde_json::Value,
    /// Secrets by purpose (`"private_jwk"`, `"client_secret"`) to the name the
    /// host's [`SecretResolver`] knows them by. Only the names are stored.
    pub secrets: BTreeMap<String, String>,
}

/// When a connection runs: every `every`, plus a fixed per-connection
/// offset within `jitter` so a thousand nightly runs do not start in the
/// same second. (Cron expressions are not supported yet: an interval only.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// The interval between runs.
    pub every: Duration,
    /// The spread: each connection gets its own offset in `[0, jitter)`.
    pub jitter: Duration,
}

impl Schedule {
    /// The next run after one that finished at `finished`.
    pub fn next_after(&self, connection_id: &str, finished: DateTime<Utc>) -> DateTime<Utc> {
        finished + delta(self.every) + self.offset(connection_id)
    }

    /// This connection's fixed offset within the jitter: the same on every
    /// machine, so no worker's clock or random state decides it.
    pub fn offset(&self, connection_id: &str) -> TimeDelta {
        let millis = u64::try_from(self.jitter.as_millis()).unwrap_or(u64::MAX);
        if millis == 0 {
            return TimeDelta::zero();
        }
        let digest = Sha256::digest(connection_id.as_bytes());
        let mut bytes = [0u8; 8];
        for (b, d) in bytes.iter_mut().zip(digest.iter()) {
            *b = *d;
        }
        delta(Duration::from_millis(u64::from_le_bytes(bytes) % millis))
    }
}

/// One customer's connection to one directory.
#[derive(Debug, Clone, PartialEq)]
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
        self.validate_schedule()?;
        self.policy
            .validate()
            .map_err(|e| Error::invalid("policy", e.to_string()))?;
        check_no_plain_secret(&self.provider.settings, "provider.settings")
    }

    fn validate_schedule(&self) -> Result<()> {
        if self.schedule.every.is_zero() {
            return Err(Error::invalid("schedule.every", "must be more than zero"));
        }
        if self.schedule.every > MAX_SCHEDULE || self.schedule.jitter > MAX_SCHEDULE {
            return Err(Error::invalid(
                "schedule",
                "interval and jitter must be under a year",
            ));
        }
        Ok(())
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

/// A secret could not be resolved. The message names the secret's name,
/// never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("secret {name} of tenant {tenant_id}: {problem}")]
pub struct SecretError {
    /// The tenant.
    pub tenant_id: String,
    /// The secret's name.
    pub name: String,
    /// What is wrong.
    pub problem: String,
}

/// Turns a secret's name into the secret, from the host's own secret store
/// (a vault, a KMS, columns encrypted under the host's key). The runner never
/// stores what it returns.
#[async_trait]
pub trait SecretResolver: Send + Sync + 'static {
    /// The secret `name` of `tenant_id`.
    async fn resolve(&self, tenant_id: &str, name: &str) -> Result<SecretString, SecretError>;
}

/// Secrets held in memory, for tests and the demo. `Debug` shows names only.
#[derive(Clone, Default)]
pub struct MemorySecrets {
    secrets: Arc<std::sync::RwLock<BTreeMap<(String, String), SecretString>>>,
}

impl MemorySecrets {
    /// Keeps `value` as the secret `name` of `tenant_id`.
    pub fn insert(&self, tenant_id: &str, name: &str, value: SecretString) {
        let mut map = self
            .secrets
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert((tenant_id.to_string(), name.to_string()), value);
    }
}

impl fmt::Debug for MemorySecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let map = self
            .secrets
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f.debug_set().entries(map.keys()).finish()
    }
}

#[async_trait]
impl SecretResolver for MemorySecrets {
    async fn resolve(&self, tenant_id: &str, name: &str) -> Result<SecretString, SecretError> {
        let map = self
            .secrets
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&(tenant_id.to_string(), name.to_string()))
            .cloned()
            .ok_or_else(|| SecretError {
                tenant_id: tenant_id.to_string(),
                name: name.to_string(),
                problem: "not found in the secret store".to_string(),
            })
    }
}
