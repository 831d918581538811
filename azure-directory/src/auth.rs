//! The client-credentials flow against the tenant's token endpoint, and the
//! AADSTS codes it answers with, mapped to what the admin must fix.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use directory_core::http::url::Url;
use directory_core::http::{
    AccessToken, HttpClient, HttpResponse, ResponseFailure, RetryAfter, TokenSource, WaitHint as _,
    CLIENT_ASSERTION_TYPE,
};
use directory_core::{Error, ErrorKind, Result, SecretString};
use serde::Deserialize;

use crate::credential::ClientCredential;

/// Fetches app-only tokens for Graph from `{authority}/{tenant}/oauth2/v2.0/token`.
pub(crate) struct AadTokenSource {
    pub http: HttpClient,
    pub token_url: Url,
    pub tenant_id: String,
    pub client_id: String,
    pub scope: String,
    pub credential: Arc<ClientCredential>,
    pub provider: String,
}

#[derive(Deserialize, Default)]
struct AadError {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_codes: Option<Vec<u64>>,
    #[serde(default)]
    trace_id: Option<String>,
    #[serde(default)]
    correlation_id: Option<String>,
}

#[async_trait]
impl TokenSource for AadTokenSource {
    async fn fetch_token(&self) -> Result<AccessToken> {
        // A fresh form (and client assertion, with its own jti) per attempt.
        let resp = self
            .http
            .try_execute(
                "token request",
                || {
                    Ok(self
                        .http
                        .reqwest()
                        .post(self.token_url.clone())
                        .form(&self.form()?))
                },
                &RetryAfter,
            )
            .await
            .map_err(|e| e.with_provider(&self.provider))?;
        if !resp.is_success() {
            return Err(self.token_error(&resp));
        }
        // Decoded by directory-core: a lenient `expires_in` (3599 s when
        // absent, as Entra issues), errors never quoting the body.
        let mut token = AccessToken::from_token_response(&resp.body, Duration::from_secs(3599))
            .map_err(|e| e.with_provider(&self.provider))?;
        token.granted = token_roles(&token.secret).unwrap_or_default();
        Ok(token)
    }
}

impl AadTokenSource {
    /// The form: client id, scope, grant type and the secret or a fresh
    /// client assertion. The form holds secrets; it is never logged.
    fn form(&self) -> Result<Vec<(&'static str, String)>> {
        let mut form = vec![
            ("client_id", self.client_id.clone()),
            ("scope", self.scope.clone()),
            ("grant_type", "client_credentials".to_string()),
        ];
        match self.credential.as_ref() {
            ClientCredential::Secret(s) => {
                form.push(("client_secret", s.expose_secret().to_string()))
            }
            ClientCredential::Certificate(c) => {
                let assertion = c.assertion(&self.client_id, self.token_url.as_str())?;
                form.push(("client_assertion_type", CLIENT_ASSERTION_TYPE.into()));
                form.push(("client_assertion", assertion));
            }
        }
        Ok(form)
    }

    fn token_error(&self, resp: &HttpResponse) -> Error {
        let body: AadError = serde_json::from_slice(&resp.body).unwrap_or_default();
        let code = body.error_codes.as_ref().and_then(|c| c.first().copied());
        let (kind, message) = match code {
            Some(code) => self.explain(code, body.error.as_deref()),
            None => by_status(resp.status, body.error.as_deref()),
        };
        let failure = ResponseFailure {
            code: match code {
                Some(code) => Some(format!("AADSTS{code}")),
                None => body.error.clone(),
            },
            request_id: body
                .trace_id
                .or(body.correlation_id)
                .or_else(|| resp.header("x-ms-request-id").map(String::from)),
            retry_after: RetryAfter.wait(resp),
            ..ResponseFailure::new(resp.status)
        };
        failure.error(kind, message, &self.provider, "Entra")
    }

    fn explain(&self, code: u64, error: Option<&str>) -> (ErrorKind, String) {
        use ErrorKind::*;
        let (t, c) = (&self.tenant_id, &self.client_id);
        match code {
            90002 | 900023 => (InvalidConfig, format!(
                "tenant `{t}` was not found. Check AZURE_TENANT_ID (the Directory (tenant) ID on the \
                 app registration's Overview page) and the cloud: a tenant of another national cloud \
                 is not found in this one")),
            90038 => (InvalidConfig, format!(
                "tenant `{t}` belongs to another national cloud; set AZURE_CLOUD (usgov, usgov-dod, china)")),
            700016 => (Unauthenticated, format!(
                "application `{c}` was not found in tenant `{t}`. Check AZURE_CLIENT_ID is the \
                 Application (client) ID of an app registered in (or consented to by) this tenant, \
                 in this cloud")),
            7000215 => (InvalidCredential, format!(
                "the client secret for application `{c}` is wrong. Use the secret's Value (shown once \
                 when it was created), not its Secret ID; create a new secret if the value was lost")),
            7000222 => (ExpiredCredential, format!(
                "the client secret of application `{c}` has expired and must be renewed: create a new \
                 one under App registrations -> Certificates & secrets and update AZURE_CLIENT_SECRET \
                 (or switch to a certificate)")),
            700027 | 700024 | 700023 | 7000274 | 7000277 => (InvalidCredential, format!(
                "the certificate assertion ({}) was rejected: upload this certificate under App \
                 registrations -> Certificates & secrets of application `{c}`, make sure the private key \
                 belongs to it, and check this machine's clock", self.credential.describe())),
            7000218 => (InvalidConfig, "the token request carried no credential; set a client secret or a certificate".to_string()),
            70011 => (InvalidConfig, format!("the scope `{}` was refused; check the Graph endpoint matches the tenant's cloud", self.scope)),
            7000112 => (Unauthenticated, format!("application `{c}` is disabled in tenant `{t}`; enable it under Enterprise applications -> Properties")),
            65001 => (PermissionDenied, format!("admin consent is missing for application `{c}`; grant it under App registrations -> API permissions")),
            500011 => (NotFound, "Microsoft Graph's service principal was not found in the tenant; check the Graph endpoint and cloud".to_string()),
            90055 | 90024 | 90006 => (Transient, "the token endpoint is busy; try again later".to_string()),
            _ => by_status(0, error),
        }
    }
}

fn by_status(status: u16, error: Option<&str>) -> (ErrorKind, String) {
    match (status, error) {
        (_, Some("invalid_client")) => (ErrorKind::InvalidCredential, "the token endpoint rejected the client credential".into()),
        (_, Some("unauthorized_client")) => (ErrorKind::Unauthenticated, "the token endpoint does not know this client".into()),
        (429, _) => (ErrorKind::RateLimited, "the token endpoint is throttling token requests; tokens are cached, so this means many clients share the app".into()),
        (500..=599, _) => (ErrorKind::Transient, format!("the token endpoint failed (HTTP {status}); try again later")),
        _ => (ErrorKind::Rejected, format!("the token request was refused ({})", error.unwrap_or("no error code"))),
    }
}

/// The `roles` claim of an app-only access token, read without verifying it
/// (only to explain a missing permission; Graph does the real check). `None`
/// when the token is not a readable JWT.
pub(crate) fn token_roles(token: &SecretString) -> Option<Vec<String>> {
    let payload = token.expose_secret().split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let roles = match claims.get("roles") {
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|r| r.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    };
    Some(roles)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_read_from_a_jwt_payload_and_garbage_is_none() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"roles":["User.Read.All","Group.Read.All"]}"#);
        let tok = SecretString::new(format!("eyJhbGciOiJIUzI1NiJ9.{payload}.sig"));
        assert_eq!(
            token_roles(&tok).unwrap(),
            vec!["User.Read.All", "Group.Read.All"]
        );
        let none = SecretString::new(format!("h.{}.s", URL_SAFE_NO_PAD.encode(b"{}")));
        assert_eq!(token_roles(&none).unwrap(), Vec::<String>::new());
        assert!(token_roles(&SecretString::new("opaque")).is_none());
    }
}
