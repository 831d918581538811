//! `AzureDirectoryBuilder`: every setting, validated in `build()` with errors
//! that name the field; `from_env()` reads the documented variables.

use std::time::Duration;

use directory_core::http::url::Url;
use directory_core::http::{parse_endpoint, timeout_in_range, ClientSettings, RetryPolicy};
use directory_core::{Error, Result, SecretString};

use crate::cloud::Cloud;
use crate::credential::{ClientCertificate, ClientCredential};
use crate::provider::AzureDirectory;

/// The largest page Graph serves for users, groups and members.
pub const MAX_PAGE_SIZE: u32 = 999;

/// Settings for an [`AzureDirectory`]. `Debug` never shows the secret or
/// key: they are [`SecretString`]s, which print `[redacted]`.
#[derive(Clone, Debug, Default)]
pub struct AzureDirectoryBuilder {
    pub(crate) tenant_id: Option<String>,
    pub(crate) client_id: Option<String>,
    client_secret: Option<SecretString>,
    /// May hold the private key too (a combined PEM).
    certificate_pem: Option<SecretString>,
    credential: Option<ClientCredential>,
    certificate_key: Option<SecretString>,
    certificate_pss: bool,
    pub(crate) service_principal_id: Option<String>,
    cloud: Cloud,
    authority_host: Option<String>,
    graph_endpoint: Option<String>,
    settings: ClientSettings,
    extension_attributes: Vec<String>,
    budget: Option<(u32, Duration)>,
}

impl AzureDirectoryBuilder {
    directory_core::builder_setters! {
        /// The Directory (tenant) ID, a GUID, or a verified domain of the tenant.
        tenant_id: Option<String>,
        /// The Application (client) ID of the app registration used to read Graph.
        client_id: Option<String>,
        /// Sign certificate assertions with PS256 instead of RS256 (see
        /// [`ClientCertificate::with_pss`]); `AZURE_CLIENT_CERTIFICATE_PSS=true`.
        certificate_pss: bool,
        /// The Object ID of the SSO app's enterprise application (its service
        /// principal), whose assignments are the SSO users. Without it,
        /// `app_assignments()` is empty.
        service_principal_id: Option<String>,
        /// The national cloud (default global). Explicit endpoints win over it.
        cloud: Cloud,
        /// A custom login authority host, e.g. `https://login.partner.microsoftonline.cn`.
        authority_host: Option<String>,
        /// A custom Graph root, e.g. `https://graph.microsoft.us`. The token scope
        /// follows it.
        graph_endpoint: Option<String>,
    }

    /// Authenticate with a client secret (its *Value*, not its Secret ID).
    /// Setting both a secret and a certificate is refused by `build()`.
    pub fn client_secret(mut self, v: impl Into<SecretString>) -> Self {
        self.client_secret = Some(v.into());
        self.credential = None;
        self
    }

    /// Authenticate with a certificate: its PEM and its PEM private key, read
    /// in `build()`. Pass `key` as `None` when the key sits in the
    /// certificate file (a combined PEM, kept as a secret for that reason).
    pub fn client_certificate(
        mut self,
        pem: impl Into<SecretString>,
        key: Option<SecretString>,
    ) -> Self {
        self.certificate_pem = Some(pem.into());
        self.certificate_key = key;
        self.credential = None;
        self
    }

    /// Authenticate with a credential built already (a secret, or a
    /// [`ClientCertificate`] read once for many providers). Replaces a
    /// secret or certificate set before; it is used as given
    /// ([`certificate_pss`](Self::certificate_pss) applies only to a PEM
    /// given to [`client_certificate`](Self::client_certificate)).
    pub fn credential(mut self, credential: ClientCredential) -> Self {
        self.credential = Some(credential);
        self.client_secret = None;
        self.certificate_pem = None;
        self.certificate_key = None;
        self
    }

    directory_core::client_settings_setters! {
        settings,
        page_size: "Items per page for every listing (`$top` for users, groups and \
                    members): 1 to 999 (default 999, the most Graph serves).",
        max_concurrency: "Requests in flight at once across all streams, 1 to 1,024 \
                          (default 8).",
        member_concurrency: "Groups whose members are read at once during a snapshot, \
                             1 to 1,024 (default 4).",
    }

    /// The old name of [`retry_policy`](Self::retry_policy).
    #[deprecated(note = "use `retry_policy`, the name both providers share")]
    pub fn retry(self, policy: RetryPolicy) -> Self {
        self.retry_policy(policy)
    }

    /// Also `$select` this directory extension property
    /// (`extension_{appId}_{name}`); it lands in `custom_attributes`.
    pub fn extension_attribute(mut self, name: impl Into<String>) -> Self {
        self.extension_attributes.push(name.into());
        self
    }

    /// Paces requests to at most `units` resource units per `window`, so
    /// Graph never throttles this app (its app + tenant limit is 3,500, 5,000
    /// or 8,000 RU per 10 s for small, medium and large tenants; leave room
    /// for the customer's other integrations). `units` at least 1, `window`
    /// 1 ms to 1 h. Default: no pacing; 429s are waited out with
    /// `Retry-After`.
    pub fn resource_unit_budget(mut self, units: u32, window: Duration) -> Self {
        self.budget = Some((units, window));
        self
    }

    /// Reads the settings from the process environment (see the crate docs
    /// for the variable names).
    pub fn from_env() -> Result<Self> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `var`, e.g. from a map in tests.
    pub fn from_env_with(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let pem_or_file = |pem: &str, file: &str| -> Result<Option<String>> {
            match (get(pem), get(file)) {
                (Some(text), _) => Ok(Some(text)),
                (None, Some(path)) => read_file(file, &path).map(Some),
                (None, None) => Ok(None),
            }
        };
        let cloud = match get("AZURE_CLOUD") {
            Some(c) => Cloud::parse(&c).map_err(|_| {
                Error::config(
                    "AZURE_CLOUD",
                    format!("unknown cloud `{c}`; use global, usgov, usgov-dod or china"),
                )
            })?,
            None => Cloud::Global,
        };
        Ok(Self {
            tenant_id: get("AZURE_TENANT_ID"),
            client_id: get("AZURE_CLIENT_ID"),
            client_secret: get("AZURE_CLIENT_SECRET").map(SecretString::new),
            service_principal_id: get("AZURE_SERVICE_PRINCIPAL_ID"),
            certificate_pem: pem_or_file(
                "AZURE_CLIENT_CERTIFICATE_PEM",
                "AZURE_CLIENT_CERTIFICATE_FILE",
            )?
            .map(SecretString::new),
            certificate_key: pem_or_file(
                "AZURE_CLIENT_CERTIFICATE_KEY_PEM",
                "AZURE_CLIENT_CERTIFICATE_KEY_FILE",
            )?
            .map(SecretString::new),
            cloud,
            authority_host: get("AZURE_AUTHORITY_HOST"),
            graph_endpoint: get("AZURE_GRAPH_ENDPOINT"),
            certificate_pss: get("AZURE_CLIENT_CERTIFICATE_PSS")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
            ..Self::default()
        })
    }

    /// Validates everything and builds the provider.
    pub fn build(self) -> Result<AzureDirectory> {
        let config = self.validate()?;
        AzureDirectory::from_config(config)
    }

    fn validate(self) -> Result<Config> {
        let tenant_id = validate_tenant(self.tenant_id.as_deref())?;
        let client_id = required_guid(
            "client_id",
            self.client_id.as_deref(),
            "the Application (client) ID on the app registration's Overview page",
        )?;
        let service_principal_id = self.validated_sp(&client_id)?;
        let credential = self.checked_credential()?;
        let authority = parse_endpoint(
            "authority_host",
            self.authority_host
                .as_deref()
                .unwrap_or(self.cloud.authority_host()),
            self.settings.allow_insecure_http,
        )?;
        let graph = parse_endpoint(
            "graph_endpoint",
            self.graph_endpoint
                .as_deref()
                .unwrap_or(self.cloud.graph_endpoint()),
            self.settings.allow_insecure_http,
        )?;
        self.check_numbers()?;
        let settings = self.settings;
        Ok(Config {
            tenant_id,
            client_id,
            service_principal_id,
            credential,
            authority,
            graph,
            page_size: settings.page_size.unwrap_or(MAX_PAGE_SIZE),
            member_concurrency: settings.member_concurrency.unwrap_or(4),
            max_concurrency: settings.max_concurrency.unwrap_or(8),
            retry: settings.retry,
            timeout: settings.timeout,
            extension_attributes: self.extension_attributes,
            budget: self.budget,
        })
    }

    /// Every number within its range, or an error naming the field.
    fn check_numbers(&self) -> Result<()> {
        self.settings
            .validate(MAX_PAGE_SIZE, "the range Graph accepts for $top")?;
        if let Some((units, window)) = self.budget {
            if units == 0 {
                return Err(Error::config(
                    "resource_unit_budget",
                    "0 units is outside 1..=4294967295",
                ));
            }
            timeout_in_range("resource_unit_budget", window)?;
        }
        Ok(())
    }

    fn validated_sp(&self, client_id: &str) -> Result<Option<String>> {
        let Some(sp) = self.service_principal_id.as_deref() else {
            return Ok(None);
        };
        let sp = required_guid(
            "service_principal_id",
            Some(sp),
            "the Object ID on the enterprise application's Overview page",
        )?;
        if sp.eq_ignore_ascii_case(client_id) {
            return Err(Error::config(
                "service_principal_id",
                "this is the Application (client) ID, not the service principal's object id; \
                 use the Object ID from Enterprise applications -> (your SSO app) -> Overview",
            ));
        }
        Ok(Some(sp))
    }

    fn checked_credential(&self) -> Result<ClientCredential> {
        if let Some(credential) = &self.credential {
            return match credential {
                ClientCredential::Secret(s) if s.is_blank() => {
                    Err(Error::config("client_secret", "is empty"))
                }
                c => Ok(c.clone()),
            };
        }
        match (&self.client_secret, &self.certificate_pem) {
            (Some(_), Some(_)) => Err(Error::config(
                "client_secret",
                "both a client secret and a certificate are set; set only one",
            )),
            (Some(s), None) if s.is_blank() => Err(Error::config("client_secret", "is empty")),
            (Some(s), None) => Ok(ClientCredential::Secret(s.clone())),
            (None, Some(pem)) => {
                let cert = ClientCertificate::from_pem(
                    pem.expose_secret(),
                    self.certificate_key.as_ref(),
                )?;
                Ok(ClientCredential::Certificate(
                    cert.with_pss(self.certificate_pss),
                ))
            }
            (None, None) => Err(Error::config(
                "client_secret",
                "no credential: set a client secret or a client certificate with its key",
            )),
        }
    }
}

/// Validated settings.
pub(crate) struct Config {
    pub tenant_id: String,
    pub client_id: String,
    pub service_principal_id: Option<String>,
    pub credential: ClientCredential,
    pub authority: Url,
    pub graph: Url,
    pub page_size: u32,
    pub member_concurrency: usize,
    pub max_concurrency: usize,
    pub retry: RetryPolicy,
    pub timeout: Duration,
    pub extension_attributes: Vec<String>,
    pub budget: Option<(u32, Duration)>,
}

fn read_file(field: &str, path: &str) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::config(field, format!("cannot read `{path}` ({e})")))
}

/// Whether `s` has the 8-4-4-4-12 hex shape of a GUID.
pub(crate) fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    parts.len() == 5
        && parts
            .iter()
            .zip(lens)
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn required_guid(field: &str, value: Option<&str>, what: &str) -> Result<String> {
    let v = value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::config(field, format!("is required: {what}")))?;
    if !is_guid(v) {
        return Err(Error::config(
            field,
            format!("`{v}` is not a GUID; expected {what}"),
        ));
    }
    Ok(v.to_ascii_lowercase())
}

fn validate_tenant(value: Option<&str>) -> Result<String> {
    const WHAT: &str = "the Directory (tenant) ID on the app registration's Overview page";
    let v = value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::config("tenant_id", format!("is required: {WHAT}")))?;
    if is_guid(v) {
        return Ok(v.to_ascii_lowercase());
    }
    if matches!(
        v.to_ascii_lowercase().as_str(),
        "common" | "organizations" | "consumers"
    ) {
        return Err(Error::config(
            "tenant_id",
            format!("`{v}` cannot be used with client credentials (AADSTS9001023); use {WHAT}"),
        ));
    }
    let is_domain = v.contains('.')
        && v.split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if !is_domain {
        return Err(Error::config(
            "tenant_id",
            format!("`{v}` is neither a GUID nor a domain name; use {WHAT}"),
        ));
    }
    Ok(v.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use directory_core::ErrorKind;

    const T: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const C: &str = "0f3c5a7e-1111-4abc-9def-0123456789ab";

    fn base() -> AzureDirectoryBuilder {
        AzureDirectory::builder()
            .tenant_id(T)
            .client_id(C)
            .client_secret("s3cr3t")
    }

    fn field_of(b: AzureDirectoryBuilder) -> String {
        let e = b.validate().err().expect("should fail");
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        e.message()
            .split(':')
            .next()
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field_of(base().tenant_id("not a tenant")), "tenant_id");
        assert_eq!(field_of(base().tenant_id("common")), "tenant_id");
        assert_eq!(field_of(base().client_id("my-app")), "client_id");
        assert_eq!(
            field_of(base().service_principal_id("xyz")),
            "service_principal_id"
        );
        assert_eq!(
            field_of(base().service_principal_id(C)),
            "service_principal_id"
        );
        assert_eq!(
            field_of(base().graph_endpoint("http://graph.test")),
            "graph_endpoint"
        );
        assert_eq!(field_of(base().authority_host("ftp://x")), "authority_host");
        assert_eq!(field_of(base().page_size(1000)), "page_size");
        assert_eq!(field_of(base().client_secret("  ")), "client_secret");
        assert_eq!(field_of(base().page_size(0)), "page_size");
        let no_cred = AzureDirectory::builder().tenant_id(T).client_id(C);
        assert_eq!(field_of(no_cred), "client_secret");
    }

    /// Issue 13: `max_concurrency(usize::MAX)` reached `Semaphore::new` and
    /// panicked. Every number is checked in `build()`, naming its range.
    #[test]
    fn every_number_out_of_range_is_refused_naming_it() {
        let long = Duration::from_secs(u64::MAX);
        let cases = [
            (base().max_concurrency(usize::MAX), "max_concurrency"),
            (base().max_concurrency(0), "max_concurrency"),
            (base().member_concurrency(usize::MAX), "member_concurrency"),
            (base().member_concurrency(0), "member_concurrency"),
            (base().timeout(Duration::ZERO), "timeout"),
            (base().timeout(long), "timeout"),
            (
                base().resource_unit_budget(0, Duration::from_secs(10)),
                "resource_unit_budget",
            ),
            (
                base().resource_unit_budget(100, Duration::ZERO),
                "resource_unit_budget",
            ),
            (
                base().resource_unit_budget(100, long),
                "resource_unit_budget",
            ),
            (
                base().retry_policy(RetryPolicy {
                    deadline: long,
                    ..RetryPolicy::default()
                }),
                "retry_policy",
            ),
            (
                base().retry_policy(RetryPolicy {
                    max_attempts: 0,
                    ..RetryPolicy::default()
                }),
                "retry_policy",
            ),
        ];
        for (b, field) in cases {
            let e = b.build().expect_err(field);
            assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{e}");
            assert!(e.message().starts_with(&format!("{field}: ")), "{e}");
            assert!(
                e.message().contains("outside") || e.message().contains("must be"),
                "names the range: {e}"
            );
        }
        let edge = base()
            .max_concurrency(1024)
            .member_concurrency(1024)
            .timeout(Duration::from_secs(3600))
            .resource_unit_budget(1, Duration::from_millis(1));
        assert!(edge.build().is_ok());
    }

    /// A credential built once is accepted as given; the last credential
    /// setter wins, and a blank secret is refused either way.
    #[test]
    fn a_built_credential_is_accepted_and_replaces_the_others() {
        const CERT: &str = include_str!("testkit/keys/client.cert.pem");
        const KEY: &str = include_str!("testkit/keys/client.key.pem");
        let key = SecretString::new(KEY);
        let cert = ClientCertificate::from_pem(CERT, Some(&key)).unwrap();
        let thumbprint = cert.thumbprint();
        let b = base().credential(ClientCredential::Certificate(cert));
        assert!(!format!("{b:?}").contains("MII"), "{b:?}");
        let c = b.clone().validate().unwrap();
        assert_eq!(
            c.credential.describe(),
            format!("certificate with thumbprint {thumbprint}")
        );
        let secret = b.clone().client_secret("s3cr3t").validate().unwrap();
        assert_eq!(secret.credential.describe(), "client secret");
        let blank = base().credential(ClientCredential::Secret(SecretString::new(" ")));
        assert_eq!(field_of(blank), "client_secret");
        // A combined PEM given as the certificate is a secret: never printed.
        let combined = AzureDirectory::builder()
            .tenant_id(T)
            .client_id(C)
            .client_certificate(format!("{CERT}\n{KEY}"), None);
        assert!(!format!("{combined:?}").contains("PRIVATE KEY"));
        assert!(combined.validate().is_ok());
    }

    #[test]
    fn http_only_in_test_mode_and_domains_accepted() {
        let b = base()
            .graph_endpoint("http://127.0.0.1:9")
            .authority_host("http://127.0.0.1:9");
        assert!(b.clone().validate().is_err());
        assert!(b.allow_insecure_http(true).validate().is_ok());
        let c = base()
            .tenant_id("Contoso.onmicrosoft.com")
            .validate()
            .unwrap();
        assert_eq!(c.tenant_id, "contoso.onmicrosoft.com");
    }

    #[test]
    fn cloud_sets_both_endpoints() {
        let c = base().cloud(Cloud::UsGovL5Dod).validate().unwrap();
        assert_eq!(c.graph.as_str(), "https://dod-graph.microsoft.us/");
        assert_eq!(c.authority.as_str(), "https://login.microsoftonline.us/");
    }

    #[test]
    fn from_env_reads_the_documented_names_and_debug_hides_the_secret() {
        let vars = [
            ("AZURE_TENANT_ID", T),
            ("AZURE_CLIENT_ID", C),
            ("AZURE_CLIENT_SECRET", "very-secret-value"),
            ("AZURE_CLOUD", "china"),
            (
                "AZURE_SERVICE_PRINCIPAL_ID",
                "9d4e2c10-3b7f-4a61-8e09-f2c1d5a7b834",
            ),
        ];
        let b = AzureDirectoryBuilder::from_env_with(|n| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        })
        .unwrap();
        assert!(!format!("{b:?}").contains("very-secret-value"));
        let c = b.validate().unwrap();
        assert_eq!(c.graph.as_str(), "https://microsoftgraph.chinacloudapi.cn/");
        assert_eq!(
            c.service_principal_id.as_deref(),
            Some("9d4e2c10-3b7f-4a61-8e09-f2c1d5a7b834")
        );
        let bad = AzureDirectoryBuilder::from_env_with(|n| {
            (n == "AZURE_CLOUD").then(|| "mars".to_string())
        });
        assert!(bad.unwrap_err().message().starts_with("AZURE_CLOUD:"));
    }
}
