//! Either API faked by a wiremock server, for what the simulated orgs cannot
//! serve: arbitrary bytes and headers in a page, and "another host" that must
//! never see a request.
//!
//! The token endpoint answers like the real one (a fixed bearer token); the
//! provider is the real `OktaDirectory` / `AzureDirectory`, so every page
//! goes through its own decoding, paging and retry.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use azure_directory::AzureDirectory;
use directory_core::http::RetryPolicy;
use directory_core::{DirectoryProvider, Result};
use futures::StreamExt;
use okta_directory::testkit::OktaOrg;
use okta_directory::OktaDirectory;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

use crate::orgs::{quick_retry, Kind, ATTEMPT_TIMEOUT};

pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT: &str = "0f3c5a7e-1111-4abc-9def-0123456789ab";
pub const SP: &str = "9d4e2c10-3b7f-4a61-8e09-f2c1d5a7b834";
pub const APP: &str = "0oawire0000000000001";
pub const OKTA_TOKEN: &str = "wire-okta-access-token-7f3a9c";
pub const AZURE_TOKEN: &str = "wire-azure-access-token-2b8e4d";
pub const AZURE_SECRET: &str = "wire-azure-client-secret-91c6";

/// A private JWK for the Okta client (EC, from a simulated org, made once).
pub async fn okta_jwk() -> String {
    static JWK: OnceLock<String> = OnceLock::new();
    if let Some(j) = JWK.get() {
        return j.clone();
    }
    let org = OktaOrg::builder()
        .users(1)
        .groups(1)
        .app_users(0)
        .start()
        .await;
    let jwk = org.expect("okta org starts").private_jwk().to_string();
    JWK.get_or_init(|| jwk).clone()
}

/// A wiremock server of its own, never one from wiremock's pool: a pooled
/// server can receive requests still in flight from the test that used it
/// before, which would look like credentials sent to "another host".
pub async fn fresh_server() -> MockServer {
    MockServer::builder().start().await
}

/// A wiremock server speaking enough of one API for a provider to sign in.
pub struct WireApi {
    pub kind: Kind,
    pub server: MockServer,
}

impl WireApi {
    pub async fn start(kind: Kind) -> WireApi {
        let api = WireApi {
            kind,
            server: fresh_server().await,
        };
        api.mount_token().await;
        api
    }

    /// Forgets every mock and mounts the token endpoint again.
    pub async fn reset(&self) {
        self.server.reset().await;
        self.mount_token().await;
    }

    /// Forgets every mock; the token endpoint answers with `resp`.
    pub async fn serve_token(&self, resp: ResponseTemplate) {
        self.server.reset().await;
        Mock::given(method("POST"))
            .respond_with(resp)
            .mount(&self.server)
            .await;
    }

    async fn mount_token(&self) {
        let (token_path, token) = match self.kind {
            Kind::Okta => ("/oauth2/v1/token".to_string(), OKTA_TOKEN),
            Kind::Azure => (format!("/{TENANT}/oauth2/v2.0/token"), AZURE_TOKEN),
        };
        let body = serde_json::json!({
            "token_type": "Bearer",
            "expires_in": 3600,
            "access_token": token,
            "scope": "okta.users.read okta.groups.read okta.apps.read",
        });
        Mock::given(method("POST"))
            .and(path(token_path))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&self.server)
            .await;
    }

    /// The user listing's path.
    pub fn users_path(&self) -> &'static str {
        match self.kind {
            Kind::Okta => "/api/v1/users",
            Kind::Azure => "/v1.0/users",
        }
    }

    /// Every GET under the API answers with `resp`.
    pub async fn serve_every_get(&self, resp: impl Respond + 'static) {
        let api = match self.kind {
            Kind::Okta => "^/api/",
            Kind::Azure => "^/v1.0/",
        };
        Mock::given(method("GET"))
            .and(path_regex(api))
            .respond_with(resp)
            .mount(&self.server)
            .await;
    }

    /// Every other listing (groups, members, the app's users) answers with
    /// an empty page, so that a sync fails only where a test breaks it: the
    /// streams run at once, and the first error to arrive is the one told.
    pub async fn serve_empty_lists(&self) {
        let (api, empty) = match self.kind {
            Kind::Okta => ("^/api/", serde_json::json!([])),
            Kind::Azure => ("^/v1.0/", serde_json::json!({ "value": [] })),
        };
        Mock::given(method("GET"))
            .and(path_regex(api))
            .respond_with(ResponseTemplate::new(200).set_body_json(empty))
            .with_priority(10)
            .mount(&self.server)
            .await;
    }

    /// A provider pointed at this server (test mode, quick retries).
    pub async fn provider(&self) -> Arc<dyn DirectoryProvider> {
        provider_at(self.kind, &self.server.uri(), quick_retry()).await
    }
}

/// A provider of `kind` whose API (and token endpoint) is at `base`.
pub async fn provider_at(kind: Kind, base: &str, retry: RetryPolicy) -> Arc<dyn DirectoryProvider> {
    provider_timed(kind, base, retry, ATTEMPT_TIMEOUT).await
}

/// [`provider_at`] with its own attempt timeout.
pub async fn provider_timed(
    kind: Kind,
    base: &str,
    retry: RetryPolicy,
    timeout: Duration,
) -> Arc<dyn DirectoryProvider> {
    match kind {
        Kind::Okta => Arc::new(
            OktaDirectory::builder()
                .domain(base)
                .client_id("0oawireclient0000001")
                .private_jwk(okta_jwk().await)
                .app_id(APP)
                .dpop(okta_directory::DpopMode::Never)
                .allow_insecure_http(true)
                .timeout(timeout)
                .retry_policy(retry)
                .build()
                .expect("okta provider builds"),
        ),
        Kind::Azure => Arc::new(azure_at(base, retry, timeout)),
    }
}

/// The Entra provider whose Graph (and login authority) is at `base`.
pub fn azure_at(base: &str, retry: RetryPolicy, timeout: Duration) -> AzureDirectory {
    AzureDirectory::builder()
        .tenant_id(TENANT)
        .client_id(CLIENT)
        .client_secret(AZURE_SECRET)
        .service_principal_id(SP)
        .authority_host(base)
        .graph_endpoint(base)
        .allow_insecure_http(true)
        .timeout(timeout)
        .retry_policy(retry)
        .build()
        .expect("azure provider builds")
}

/// Drains every listing of `p` (users, groups, one group's members, app
/// assignments) and returns the first error of each, if any.
pub async fn drain_all(p: &dyn DirectoryProvider) -> Vec<Result<usize>> {
    let mut out = Vec::new();
    for pages in [
        p.users().map(|r| r.map(|v| v.len())).boxed(),
        p.groups().map(|r| r.map(|v| v.len())).boxed(),
        p.group_members("00gwire1")
            .map(|r| r.map(|v| v.len()))
            .boxed(),
        p.app_assignments().map(|r| r.map(|v| v.len())).boxed(),
    ] {
        out.push(drain(pages).await);
    }
    out
}

async fn drain(mut pages: futures::stream::BoxStream<'static, Result<usize>>) -> Result<usize> {
    let mut n = 0;
    while let Some(page) = pages.next().await {
        n += page?;
    }
    Ok(n)
}

/// The first error of the user listing (it must end in one).
pub async fn first_users_error(p: &dyn DirectoryProvider) -> directory_core::Error {
    let mut pages = p.users();
    while let Some(page) = pages.next().await {
        if let Err(e) = page {
            return e;
        }
    }
    panic!("the listing ended without an error");
}
