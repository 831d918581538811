//! Access tokens: OAuth 2.0 client credentials with `private_key_jwt`, and
//! DPoP detected from the token endpoint's answer (with the nonce dance).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use directory_core::http::reqwest::RequestBuilder;
use directory_core::http::url::Url;
use directory_core::http::{
    AccessToken, HttpClient, HttpResponse, TokenSource, CLIENT_ASSERTION_TYPE,
};
use directory_core::{Error, ErrorKind, Result};

use crate::builder::DpopMode;
use crate::credential::{DpopKey, PrivateJwk};
use crate::errors::{token_error, OktaFailure};
use crate::ratelimit::OktaWaitHint;

/// How many `use_dpop_nonce` answers one token request follows.
const MAX_NONCE_RETRIES: u32 = 2;

/// DPoP state shared by the token source and resource requests.
pub(crate) struct Dpop {
    pub(crate) key: DpopKey,
    enabled: AtomicBool,
    /// Whether DPoP is decided by configuration rather than detected.
    forced: bool,
    /// Nonces are per server (RFC 9449 §8): the token endpoint's and the
    /// resource server's are kept apart.
    token_nonce: Mutex<Option<String>>,
    resource_nonce: Mutex<Option<String>>,
}

impl Dpop {
    pub(crate) fn new(mode: DpopMode) -> Result<Self> {
        Ok(Self {
            key: DpopKey::generate()?,
            enabled: AtomicBool::new(mode.starts_on()),
            forced: !mode.detects(),
            token_nonce: Mutex::new(None),
            resource_nonce: Mutex::new(None),
        })
    }

    pub(crate) fn nonce(&self, resource: bool) -> Option<String> {
        let slot = if resource {
            &self.resource_nonce
        } else {
            &self.token_nonce
        };
        slot.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn set_nonce(&self, resource: bool, nonce: &str) {
        let slot = if resource {
            &self.resource_nonce
        } else {
            &self.token_nonce
        };
        *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(nonce.to_string());
    }

    fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }
}

/// Fetches tokens from the org authorization server (`/oauth2/v1/token`).
pub(crate) struct OktaTokenSource {
    pub(crate) http: HttpClient,
    pub(crate) token_url: Url,
    pub(crate) client_id: String,
    pub(crate) key: PrivateJwk,
    pub(crate) scopes: Vec<&'static str>,
    pub(crate) dpop: Arc<Dpop>,
    pub(crate) provider: String,
}

#[async_trait]
impl TokenSource for OktaTokenSource {
    async fn fetch_token(&self) -> Result<AccessToken> {
        let mut nonce_retries = 0;
        let mut detected = false;
        loop {
            let use_dpop = self.dpop.enabled();
            let resp = self.post(use_dpop).await?;
            if resp.is_success() {
                return self.parse(&resp);
            }
            let failure = OktaFailure::read(&resp);
            let code = failure.code();
            if code == "invalid_dpop_proof" && !use_dpop && !self.dpop.forced && !detected {
                tracing::info!("the Okta app requires DPoP; switching to DPoP-bound tokens");
                self.dpop.enabled.store(true, Ordering::Relaxed);
                detected = true;
                continue;
            }
            if code == "use_dpop_nonce" && use_dpop && nonce_retries < MAX_NONCE_RETRIES {
                if let Some(nonce) = resp.header("dpop-nonce") {
                    tracing::debug!("Okta asked for a DPoP nonce; retrying with it");
                    self.dpop.set_nonce(false, nonce);
                    nonce_retries += 1;
                    continue;
                }
            }
            return Err(token_error(&failure, &self.provider, &self.client_id));
        }
    }
}

impl OktaTokenSource {
    /// One token request, retried by core on 429/5xx. Each attempt carries a
    /// fresh client assertion and (with DPoP) a fresh proof.
    async fn post(&self, use_dpop: bool) -> Result<HttpResponse> {
        self.http
            .try_execute(
                "Okta token request",
                || self.request(use_dpop),
                &OktaWaitHint::default(),
            )
            .await
            .map_err(|e| unreachable_org(e, &self.token_url, &self.provider))
    }

    fn request(&self, use_dpop: bool) -> Result<RequestBuilder> {
        let assertion = self
            .key
            .client_assertion(&self.client_id, &self.token_url)?;
        let scope = self.scopes.join(" ");
        let form = [
            ("grant_type", "client_credentials"),
            ("scope", scope.as_str()),
            ("client_assertion_type", CLIENT_ASSERTION_TYPE),
            ("client_assertion", assertion.expose_secret()),
        ];
        let mut req = self
            .http
            .reqwest()
            .post(self.token_url.clone())
            .header("accept", "application/json")
            .form(&form);
        if use_dpop {
            let nonce = self.dpop.nonce(false);
            let proof = self
                .dpop
                .key
                .proof("POST", &self.token_url, nonce.as_deref(), None)?;
            req = req.header("dpop", proof);
        }
        Ok(req)
    }

    /// The token, decoded by directory-core (a lenient `expires_in`, an
    /// hour when absent; errors never quote the body, which holds the
    /// token). A DPoP-bound token turns DPoP on for resource requests.
    fn parse(&self, resp: &HttpResponse) -> Result<AccessToken> {
        let token = AccessToken::from_token_response(&resp.body, Duration::from_secs(3600))
            .map_err(|e| e.with_provider(&self.provider))?;
        if token.token_type.eq_ignore_ascii_case("dpop") {
            self.dpop.enabled.store(true, Ordering::Relaxed);
        }
        Ok(token)
    }
}

/// A connection failure to the token endpoint usually means a wrong domain.
fn unreachable_org(e: Error, token_url: &Url, provider: &str) -> Error {
    if e.kind() != ErrorKind::Transient || !is_connect_failure(&e) {
        return e.with_provider(provider);
    }
    let origin = token_url.origin().ascii_serialization();
    Error::new(
        ErrorKind::InvalidConfig,
        format!(
            "could not connect to {origin}; check that `domain` is the Okta org's domain \
             (e.g. acme.okta.com) and that this host can reach it"
        ),
    )
    .with_provider(provider)
    .with_source(e)
}

fn is_connect_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<directory_core::http::reqwest::Error>() {
            if r.is_connect() {
                return true;
            }
        }
        cur = err.source();
    }
    false
}
