//! What a connection to a simulated org holds: the provider settings of a
//! simulated Okta org or Entra tenant (real HTTP on 127.0.0.1), with its
//! secret handed over by name (the value goes into the host's secrets, never
//! into the connection).

use std::collections::BTreeMap;

use azure_directory::testkit::TenantHandle;
use okta_directory::testkit::OktaOrg;
use sync_runner::ProviderSettings;

/// A simulated org as connections point at it.
#[derive(Debug, Clone)]
pub struct SimulatedOrg {
    /// The settings a connection to it holds (`kind` okta or entra).
    pub provider: ProviderSettings,
    /// Its address: a base for IdP org keys (every simulated Entra tenant
    /// has the same tenant id, so keys go by address).
    pub key: String,
}

/// An Okta org's settings; its private JWK goes into `secrets` as `secret`.
pub fn okta(org: &OktaOrg, secret: &str, secrets: &mut BTreeMap<String, String>) -> SimulatedOrg {
    secrets.insert(secret.to_string(), org.private_jwk().to_string());
    SimulatedOrg {
        provider: ProviderSettings {
            kind: "okta".into(),
            settings: serde_json::json!({
                "domain": org.base_url(), "clientId": org.client_id(), "appId": org.app_id(),
            }),
            secrets: BTreeMap::from([("private_jwk".to_string(), secret.into())]),
        },
        key: org.base_url().to_string(),
    }
}

/// An Entra tenant's settings; its client secret goes into `secrets` as `secret`.
pub fn entra(
    tenant: &TenantHandle,
    secret: &str,
    secrets: &mut BTreeMap<String, String>,
) -> SimulatedOrg {
    secrets.insert(
        secret.to_string(),
        tenant.client_secret().expose_secret().to_string(),
    );
    SimulatedOrg {
        provider: ProviderSettings {
            kind: "entra".into(),
            settings: serde_json::json!({
                "endpoint": tenant.base_url(), "tenantId": tenant.tenant_id(),
                "clientId": tenant.client_id(), "servicePrincipalId": tenant.service_principal_id(),
            }),
            secrets: BTreeMap::from([("client_secret".to_string(), secret.into())]),
        },
        key: tenant.base_url().to_string(),
    }
}
