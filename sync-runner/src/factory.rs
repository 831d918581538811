//! Building a provider from a connection's settings: the host's side, so
//! the runner hard-codes no provider's configuration.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use directory_core::{DirectoryProvider, Error as DirectoryError, InMemoryDirectory};

use crate::connection::Connection;
use crate::secrets::SecretResolver;

/// Builds the provider for a connection, resolving its secrets through the
/// host's [`SecretResolver`]. A host registers its providers here (Okta,
/// Entra, a SCIM store); an error is a directory-core config error that
/// names the setting to fix.
#[async_trait]
pub trait ProviderFactory: Send + Sync + 'static {
    /// The provider for `connection`.
    async fn build(
        &self,
        connection: &Connection,
        secrets: &dyn SecretResolver,
    ) -> Result<Arc<dyn DirectoryProvider>, DirectoryError>;
}

/// A registered directory and the token that reaches it.
type Registered = (InMemoryDirectory, Option<directory_core::SecretString>);

/// Provider kind `"memory"`: in-memory directories registered by name, for
/// tests and the demo. Settings: `{"directory": "<name>"}`; with a secret
/// named `"token"`, the resolved secret must equal the one registered with
/// the directory, as a real provider's credentials would have to.
#[derive(Clone, Default)]
pub struct MemoryFactory {
    directories: Arc<RwLock<BTreeMap<String, Registered>>>,
}

impl std::fmt::Debug for MemoryFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let map = self
            .directories
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        f.debug_set().entries(map.keys()).finish()
    }
}

impl MemoryFactory {
    /// A factory with no directories.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `directory` under `name`; `token`, if given, is the
    /// credential a connection must resolve to reach it.
    pub fn register(
        &self,
        name: &str,
        directory: InMemoryDirectory,
        token: Option<directory_core::SecretString>,
    ) {
        let mut map = self
            .directories
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        map.insert(name.to_string(), (directory, token));
    }

    fn lookup(&self, name: &str) -> Option<Registered> {
        let map = self
            .directories
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(name).cloned()
    }
}

#[async_trait]
impl ProviderFactory for MemoryFactory {
    async fn build(
        &self,
        connection: &Connection,
        secrets: &dyn SecretResolver,
    ) -> Result<Arc<dyn DirectoryProvider>, DirectoryError> {
        let settings = &connection.provider;
        if settings.kind != "memory" {
            return Err(DirectoryError::config(
                "provider.kind",
                format!("{:?} is not known here: use \"memory\"", settings.kind),
            ));
        }
        let name = settings
            .settings
            .get("directory")
            .and_then(|v| v.as_str())
            .ok_or_else(|| {
                DirectoryError::config(
                    "provider.settings.directory",
                    "is missing: name a registered directory",
                )
            })?;
        let (directory, token) = self.lookup(name).ok_or_else(|| {
            DirectoryError::config(
                "provider.settings.directory",
                format!("{name} is not registered"),
            )
        })?;
        if let Some(expected) = token {
            check_token(connection, secrets, &expected).await?;
        }
        Ok(Arc::new(directory))
    }
}

/// Resolves the connection's `"token"` secret and compares it with the
/// directory's, in constant time.
async fn check_token(
    connection: &Connection,
    secrets: &dyn SecretResolver,
    expected: &directory_core::SecretString,
) -> Result<(), DirectoryError> {
    let token = connection.secret("token", secrets).await?;
    let same = directory_core::constant_time_eq(
        token.expose_secret().as_bytes(),
        expected.expose_secret().as_bytes(),
    );
    if same {
        Ok(())
    } else {
        Err(DirectoryError::new(
            directory_core::ErrorKind::InvalidCredential,
            "the token was refused: set the connection's token secret to the directory's",
        ))
    }
}
