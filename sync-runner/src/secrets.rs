//! How a connection refers to its secrets, and how they are resolved: by
//! name through the host's [`SecretResolver`], or sealed in the connection
//! under the host's key ([`EncryptedSecrets`](crate::EncryptedSecrets)).
//! Either way no plaintext is stored.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use directory_core::SecretString;
use serde::{Deserialize, Serialize};

use crate::connection::Connection;
use crate::sealed::SealedSecret;

/// Where one of a connection's secrets is: a name the host's resolver
/// knows, or the secret sealed here under the host's key. Stored as a string
/// (the name) or as `{"key_id", "nonce", "ciphertext"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "a secret's name (a string) or a sealed secret {\"key_id\", \"nonce\", \"ciphertext\"}"
)]
pub enum SecretRef {
    /// The name the host's [`SecretResolver`] knows it by.
    Named(String),
    /// The secret, encrypted under the host's key.
    Sealed(SealedSecret),
}

impl From<&str> for SecretRef {
    fn from(name: &str) -> Self {
        SecretRef::Named(name.to_string())
    }
}

impl From<String> for SecretRef {
    fn from(name: String) -> Self {
        SecretRef::Named(name)
    }
}

impl From<SealedSecret> for SecretRef {
    fn from(sealed: SealedSecret) -> Self {
        SecretRef::Sealed(sealed)
    }
}

/// Why a secret could not be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretErrorKind {
    /// The resolver has no secret by that name.
    NotFound,
    /// The host's secret store could not answer.
    Unavailable,
    /// Sealed under a key the runner does not hold.
    UnknownKey,
    /// Sealed, but it does not open: a wrong key, an altered ciphertext, or
    /// one copied from another connection or secret.
    CannotOpen,
    /// This resolver cannot open sealed secrets.
    NotSupported,
}

impl SecretErrorKind {
    /// A short stable name, e.g. for a run record: `"secret_cannot_open"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretErrorKind::NotFound => "secret_not_found",
            SecretErrorKind::Unavailable => "secret_unavailable",
            SecretErrorKind::UnknownKey => "secret_unknown_key",
            SecretErrorKind::CannotOpen => "secret_cannot_open",
            SecretErrorKind::NotSupported => "secret_not_supported",
        }
    }
}

/// A secret could not be resolved or opened. The message names the secret
/// and what to do, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("secret {name} of tenant {tenant_id}: {problem}")]
pub struct SecretError {
    /// Why.
    pub kind: SecretErrorKind,
    /// The tenant.
    pub tenant_id: String,
    /// The secret's name (for a sealed secret, its purpose in the connection).
    pub name: String,
    /// What is wrong and how to fix it.
    pub problem: String,
}

impl SecretError {
    /// An error of `kind` on `tenant_id`'s secret `name`.
    pub fn new(
        kind: SecretErrorKind,
        tenant_id: &str,
        name: &str,
        problem: impl Into<String>,
    ) -> Self {
        SecretError {
            kind,
            tenant_id: tenant_id.to_string(),
            name: name.to_string(),
            problem: problem.into(),
        }
    }
}

/// Turns a secret's name into the secret, from the host's own secret store
/// (a vault, a KMS, columns encrypted under the host's key). The runner never
/// stores what it returns.
#[async_trait]
pub trait SecretResolver: Send + Sync + 'static {
    /// The secret `name` of `tenant_id`.
    async fn resolve(&self, tenant_id: &str, name: &str) -> Result<SecretString, SecretError>;

    /// Opens the secret `purpose` sealed in `connection`'s settings. Only
    /// [`EncryptedSecrets`](crate::EncryptedSecrets) holds keys; other
    /// resolvers refuse.
    fn open(
        &self,
        connection: &Connection,
        purpose: &str,
        sealed: &SealedSecret,
    ) -> Result<SecretString, SecretError> {
        let _ = sealed;
        Err(SecretError::new(
            SecretErrorKind::NotSupported,
            &connection.tenant_id,
            purpose,
            "is sealed, but the runner's resolver holds no keys: give the runner EncryptedSecrets with the key it was sealed under",
        ))
    }
}

#[async_trait]
impl<T: SecretResolver + ?Sized> SecretResolver for Arc<T> {
    async fn resolve(&self, tenant_id: &str, name: &str) -> Result<SecretString, SecretError> {
        (**self).resolve(tenant_id, name).await
    }

    fn open(
        &self,
        connection: &Connection,
        purpose: &str,
        sealed: &SealedSecret,
    ) -> Result<SecretString, SecretError> {
        (**self).open(connection, purpose, sealed)
    }
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
            .ok_or_else(|| {
                SecretError::new(
                    SecretErrorKind::NotFound,
                    tenant_id,
                    name,
                    "not found in the secret store",
                )
            })
    }
}
