//! What a host would write: a factory that builds Okta and Entra providers
//! (against the simulated orgs, over plain HTTP on 127.0.0.1) from a
//! connection's settings and its secrets (through the host's resolver).

use std::sync::Arc;

use async_trait::async_trait;
use azure_directory::AzureDirectory;
use directory_core::{DirectoryProvider, Error};
use okta_directory::OktaDirectory;
use sync_runner::{Connection, ProviderFactory, SecretResolver};

/// What a host would write: providers from settings, secrets from its resolver.
pub struct HostFactory;

fn setting<'a>(c: &'a Connection, name: &str) -> Result<&'a str, Error> {
    c.provider
        .settings
        .get(name)
        .and_then(|v| v.as_str())
        .ok_or_else(|| Error::config(&format!("provider.settings.{name}"), "is missing"))
}

#[async_trait]
impl ProviderFactory for HostFactory {
    async fn build(
        &self,
        c: &Connection,
        secrets: &dyn SecretResolver,
    ) -> Result<Arc<dyn DirectoryProvider>, Error> {
        match c.provider.kind.as_str() {
            "okta" => {
                let jwk = c.secret("private_jwk", secrets).await?;
                let okta = OktaDirectory::builder()
                    .domain(setting(c, "domain")?)
                    .client_id(setting(c, "clientId")?)
                    .private_jwk(jwk.expose_secret())
                    .app_id(setting(c, "appId")?)
                    .allow_insecure_http(true)
                    .build()?;
                Ok(Arc::new(okta))
            }
            "entra" => {
                let base = setting(c, "endpoint")?;
                let entra = AzureDirectory::builder()
                    .tenant_id(setting(c, "tenantId")?)
                    .client_id(setting(c, "clientId")?)
                    .service_principal_id(setting(c, "servicePrincipalId")?)
                    .authority_host(base)
                    .graph_endpoint(base)
                    .client_secret(c.secret("client_secret", secrets).await?)
                    .allow_insecure_http(true)
                    .build()?;
                Ok(Arc::new(entra))
            }
            other => Err(Error::config(
                "provider.kind",
                format!("{other} is not known"),
            )),
        }
    }
}
