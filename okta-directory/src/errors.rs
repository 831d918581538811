//! Turning Okta's answers into errors that say what the admin must fix.
//!
//! Okta speaks three error shapes: the Management API's JSON (`errorCode`,
//! `errorSummary`, `errorId`), OAuth JSON (`error`, `error_description`) and,
//! for token problems on resource calls, a `WWW-Authenticate` header with an
//! often empty body. All three are read; the code and `X-Okta-Request-Id`
//! are kept on every error.

use directory_core::http::{HttpResponse, ResponseFailure};
use directory_core::{Error, ErrorKind};
use serde::Deserialize;

use crate::ratelimit::rate_limit_wait;

/// Everything Okta said about a failure: status, code, request id and
/// summary in directory-core's [`ResponseFailure`], and the scope an
/// endpoint needs.
#[derive(Debug, Default, Clone)]
pub(crate) struct OktaFailure {
    pub(crate) answer: ResponseFailure,
    /// `scope` from `WWW-Authenticate` (the scope an endpoint needs).
    pub(crate) scope: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ApiErrorBody {
    error_code: Option<String>,
    error_summary: Option<String>,
    error_id: Option<String>,
    error: Option<String>,
    #[serde(rename = "error_description")]
    error_description: Option<String>,
}

impl OktaFailure {
    pub(crate) fn read(resp: &HttpResponse) -> Self {
        let body: ApiErrorBody = serde_json::from_slice(&resp.body).unwrap_or_default();
        let www = resp.header("www-authenticate").map(parse_www_authenticate);
        let www_param = |name: &str| {
            www.as_ref()
                .and_then(|p| p.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        };
        let answer = ResponseFailure {
            code: body
                .error_code
                .or(body.error)
                .or_else(|| www_param("error")),
            request_id: resp
                .header("x-okta-request-id")
                .map(str::to_string)
                .or(body.error_id),
            said: body
                .error_summary
                .or(body.error_description)
                .or_else(|| www_param("error_description")),
            ..ResponseFailure::new(resp.status)
        };
        Self {
            answer,
            scope: www_param("scope"),
        }
    }

    pub(crate) fn code(&self) -> &str {
        self.answer.code.as_deref().unwrap_or("")
    }

    /// An error of `kind` with `message`, keeping status, code, request id
    /// and a bounded excerpt of what Okta said.
    pub(crate) fn error(&self, kind: ErrorKind, message: String, provider: &str) -> Error {
        self.answer.error(kind, message, provider, "Okta")
    }
}

/// Parses `WWW-Authenticate: DPoP algs="..", error="..", scope=".."` into
/// `(name, value)` pairs. Quoted values may contain commas.
pub(crate) fn parse_www_authenticate(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let rest = value.trim();
    // Skip the scheme ("Bearer" / "DPoP").
    let mut rest = match rest.find(' ') {
        Some(i) if !rest[..i].contains('=') => &rest[i + 1..],
        _ => rest,
    };
    while let Some(eq) = rest.find('=') {
        let name = rest[..eq]
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = &rest[eq + 1..];
        let (val, tail) = if let Some(stripped) = after.strip_prefix('"') {
            match stripped.find('"') {
                Some(end) => (&stripped[..end], &stripped[end + 1..]),
                None => (stripped, ""),
            }
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim(), &after[end..])
        };
        out.push((name, val.to_string()));
        rest = tail.trim_start_matches([',', ' ']);
    }
    out
}

/// What a failed resource call (users, groups, members, app users) means.
pub(crate) fn resource_error(resp: &HttpResponse, provider: &str, what: &str) -> Error {
    let mut f = OktaFailure::read(resp);
    let code = f.code().to_string();
    let (kind, message) = match (f.answer.status, code.as_str()) {
        (403, "insufficient_scope") => (
            ErrorKind::PermissionDenied,
            format!(
                "{what}: the access token lacks the scope {}; grant it on the API Services \
                 app's 'Okta API Scopes' tab",
                f.scope.as_deref().unwrap_or("this endpoint needs")
            ),
        ),
        (403, "E0000006") => (
            ErrorKind::AdminRoleMissing,
            format!(
                "{what}: the API Services app has no admin role that may read this; assign it \
                 an admin role (e.g. Read-Only Administrator) under the app's 'Admin roles' tab"
            ),
        ),
        (404, "E0000007") if what.contains("app") => (
            ErrorKind::NotFound,
            format!(
                "{what}: Okta has no app with the configured app_id; copy the SAML app's id \
                 from its admin console URL (it starts with 0oa)"
            ),
        ),
        (404, _) => (
            ErrorKind::NotFound,
            format!("{what}: Okta says it does not exist; check the configured id"),
        ),
        (400 | 401, "invalid_dpop_proof") => (ErrorKind::InvalidCredential, dpop_message(what)),
        (401, _) => (
            ErrorKind::Unauthenticated,
            format!(
                "{what}: Okta refused the access token even after a refresh; check that the \
                 app is active and its grants are intact"
            ),
        ),
        (403, _) => (
            ErrorKind::PermissionDenied,
            format!("{what}: Okta refused access; check the app's scopes and admin roles"),
        ),
        (429, _) => {
            f.answer.retry_after = rate_limit_wait(resp);
            return f.error(
                ErrorKind::RateLimited,
                format!(
                    "{what}: Okta's rate limit was still exceeded after waiting; lower the \
                     concurrency or raise the app's rate-limit share"
                ),
                provider,
            );
        }
        (500..=599, _) => (
            ErrorKind::Transient,
            format!("{what}: Okta had a server error; try again later"),
        ),
        _ => (
            ErrorKind::Rejected,
            format!("{what}: Okta refused the request"),
        ),
    };
    f.error(kind, message, provider)
}

fn dpop_message(what: &str) -> String {
    format!(
        "{what}: Okta rejected the DPoP proof; DPoP is handled by this library, so check that \
         the machine's clock is right and that nothing between this host and Okta rewrites \
         URLs or headers. DPoP need not be turned off"
    )
}

/// What a failed token request means.
pub(crate) fn token_error(f: &OktaFailure, provider: &str, client_id: &str) -> Error {
    let desc = f.answer.said.as_deref().unwrap_or("").to_ascii_lowercase();
    let (kind, message) = match (f.answer.status, f.code()) {
        (_, "invalid_client") => invalid_client(&desc, client_id),
        (_, "invalid_dpop_proof") => (ErrorKind::InvalidCredential, dpop_message("token request")),
        (_, "consent_required" | "invalid_scope") => (
            ErrorKind::PermissionDenied,
            "token request: the API Services app has not been granted the scopes this sync \
             needs; grant okta.users.read, okta.groups.read (and okta.apps.read for SSO users) \
             on the app's 'Okta API Scopes' tab"
                .to_string(),
        ),
        (_, "unauthorized_client") => (
            ErrorKind::InvalidConfig,
            "token request: the app may not use client credentials; create an 'API Services' \
             app integration and use its client id"
                .to_string(),
        ),
        (_, "access_denied") => (
            ErrorKind::PermissionDenied,
            "token request: Okta denied access (a network zone or policy blocks this host)"
                .to_string(),
        ),
        (404, _) => (
            ErrorKind::InvalidConfig,
            "token request: no Okta org answers at the configured domain; check `domain` \
             (e.g. acme.okta.com, without -admin)"
                .to_string(),
        ),
        (429, _) => (
            ErrorKind::RateLimited,
            "token request: rate limited".to_string(),
        ),
        (500..=599, _) => (
            ErrorKind::Transient,
            "token request: Okta's token endpoint failed; try again later".to_string(),
        ),
        _ => (
            ErrorKind::Rejected,
            "token request: Okta refused it".to_string(),
        ),
    };
    f.error(kind, message, provider)
}

fn invalid_client(desc: &str, client_id: &str) -> (ErrorKind, String) {
    if desc.contains("kid") {
        (
            ErrorKind::InvalidCredential,
            "token request: the key id (kid) of private_jwk is not registered on the app; add \
             the key's public half under the app's 'Public Keys', or use the key Okta shows"
                .to_string(),
        )
    } else if desc.contains("issued at")
        || desc.contains("in the future")
        || desc.contains("expired")
    {
        (
            ErrorKind::InvalidCredential,
            "token request: Okta says the client assertion's time is wrong; the clock of this \
             machine is skewed, synchronize it (NTP)"
                .to_string(),
        )
    } else if desc.contains("signature") || desc.contains("jwks") || desc.contains("key") {
        (
            ErrorKind::InvalidCredential,
            "token request: the client assertion's signature does not verify with the app's \
             registered keys; private_jwk is not the key registered on this app"
                .to_string(),
        )
    } else if desc.contains("application_type") || desc.contains("service") {
        (
            ErrorKind::InvalidConfig,
            "token request: the client id belongs to an app that is not an 'API Services' app"
                .to_string(),
        )
    } else {
        (
            ErrorKind::Unauthenticated,
            format!(
                "token request: Okta does not know client id {client_id}; check client_id is \
                 the 'Client ID' of the API Services app in this org"
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn www_authenticate_with_commas_in_quotes() {
        let v = r#"DPoP algs="RS256 ES256", realm="x", error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", scope="okta.groups.read", resource="/api/v1/groups""#;
        let p = parse_www_authenticate(v);
        let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("error"), Some("insufficient_scope"));
        assert_eq!(get("scope"), Some("okta.groups.read"));
        assert_eq!(get("algs"), Some("RS256 ES256"));
        assert!(parse_www_authenticate("garbage ,,== \"").len() < 5);
    }
}
