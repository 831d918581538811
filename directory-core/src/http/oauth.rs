//! What every provider's token flow and error mapping share: the token
//! response decoder, the RFC 7523 client-assertion claims, and the one
//! constructor of an [`Error`] from a provider's failed answer.
//!
//! The flow itself stays in each provider (and is written by hand rather
//! than with `oauth2`: that crate has no DPoP and hides the `DPoP-Nonce`
//! header of an error answer, which Okta's nonce dance needs).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;
use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize};

use super::token::AccessToken;
use crate::error::{Error, ErrorKind, Result};
use crate::secret::SecretString;

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The claims of an RFC 7523 client assertion (`private_key_jwt`): `iss` and
/// `sub` are the client id, `aud` the token endpoint's URL, `jti` unique per
/// assertion, valid from `iat` (= `nbf`) to `exp`.
///
/// The provider signs it with its own key and header (a `kid` for an Okta
/// JWK, certificate thumbprints for Entra).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientAssertionClaims {
    /// The issuer: the client id.
    pub iss: String,
    /// The subject: the client id.
    pub sub: String,
    /// The audience: the token endpoint's URL.
    pub aud: String,
    /// A fresh random id, so the server can refuse a replay.
    pub jti: String,
    /// Issued at (seconds since the Unix epoch).
    pub iat: u64,
    /// Not before: the same as `iat`.
    pub nbf: u64,
    /// Expires at: `iat` plus the lifetime.
    pub exp: u64,
}

impl ClientAssertionClaims {
    /// Claims for `client_id` addressed to `token_url`, valid for `lifetime`
    /// from now.
    pub fn new(client_id: &str, token_url: &str, lifetime: Duration) -> Self {
        Self::at(client_id, token_url, lifetime, SystemTime::now())
    }

    /// Claims as [`ClientAssertionClaims::new`] makes them at `now`.
    pub fn at(client_id: &str, token_url: &str, lifetime: Duration, now: SystemTime) -> Self {
        let iat = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let jti: [u8; 16] = rand::thread_rng().gen();
        Self {
            iss: client_id.to_string(),
            sub: client_id.to_string(),
            aud: token_url.to_string(),
            jti: jti.iter().map(|b| format!("{b:02x}")).collect(),
            iat,
            nbf: iat,
            exp: iat.saturating_add(lifetime.as_secs()),
        }
    }
}

/// A token endpoint's success answer (RFC 6749 §5.1), as far as it is read.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_seconds")]
    expires_in: Option<u64>,
    #[serde(default)]
    scope: Option<String>,
}

/// `expires_in` as a number, or as a string holding one (servers send
/// both). Anything else is an error that does not quote the value.
fn lenient_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Seconds {
        Number(u64),
        Text(String),
    }
    match Option::<Seconds>::deserialize(d)? {
        None => Ok(None),
        Some(Seconds::Number(n)) => Ok(Some(n)),
        Some(Seconds::Text(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| D::Error::custom("expires_in is not a whole number of seconds")),
    }
}

impl AccessToken {
    /// Decodes a token endpoint's 2xx body: `access_token`, `token_type`
    /// (`Bearer` when absent), `expires_in` (a number or a numeric string;
    /// `default_lifetime` when absent; at least one second) and `scope`
    /// (into [`AccessToken::granted`]).
    ///
    /// A malformed body is an [`ErrorKind::InvalidResponse`] naming the JSON
    /// path and what was wrong, never quoting the body: it holds the token.
    pub fn from_token_response(body: &[u8], default_lifetime: Duration) -> Result<Self> {
        let body: TokenResponse = Error::decode_json_secret("token response", body)?;
        let lifetime = body
            .expires_in
            .map_or(default_lifetime, Duration::from_secs)
            .max(Duration::from_secs(1));
        let mut token = AccessToken::new(
            SecretString::new(body.access_token),
            body.token_type.unwrap_or_else(|| "Bearer".to_string()),
            lifetime,
        );
        token.granted = body
            .scope
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        Ok(token)
    }
}

/// What a provider's failed answer said, read by the provider from its own
/// error body and headers. [`ResponseFailure::error`] is the one way such an
/// answer becomes an [`Error`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseFailure {
    /// The HTTP status.
    pub status: u16,
    /// The provider's own error code (`E0000006`, `AADSTS7000222`,
    /// `Authorization_RequestDenied`).
    pub code: Option<String>,
    /// The provider's request id, for its support.
    pub request_id: Option<String>,
    /// The provider's own description of the failure, quoted after the
    /// message (at most [`ResponseFailure::EXCERPT_CHARS`] characters).
    pub said: Option<String>,
    /// The wait the provider asked for.
    pub retry_after: Option<Duration>,
}

impl ResponseFailure {
    /// The most characters of the provider's description an error quotes.
    pub const EXCERPT_CHARS: usize = 300;

    /// A failure with this status and nothing else read yet.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            ..Self::default()
        }
    }

    /// An error of `kind` whose message says what to fix, followed by
    /// `({speaker} said: …)` with a bounded excerpt of the provider's
    /// description when there is one, and keeping the provider name, the
    /// status, code, request id and requested wait.
    pub fn error(
        &self,
        kind: ErrorKind,
        message: impl Into<String>,
        provider: &str,
        speaker: &str,
    ) -> Error {
        let mut message = message.into();
        if let Some(said) = &self.said {
            let excerpt: String = said
                .chars()
                .take(Self::EXCERPT_CHARS)
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            message = format!("{message} ({speaker} said: {excerpt})");
        }
        let mut e = Error::new(kind, message)
            .with_provider(provider)
            .with_status(self.status);
        if let Some(code) = &self.code {
            e = e.with_code(code.clone());
        }
        if let Some(id) = &self.request_id {
            e = e.with_request_id(id.clone());
        }
        if let Some(wait) = self.retry_after {
            e = e.with_retry_after(wait);
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_in_as_a_number_or_a_numeric_string() {
        for body in [
            &br#"{"access_token":"t","expires_in":120}"#[..],
            &br#"{"access_token":"t","expires_in":" 120 "}"#[..],
        ] {
            let t = AccessToken::from_token_response(body, Duration::from_secs(3600)).unwrap();
            assert_eq!(t.expires_at - t.issued_at, Duration::from_secs(120));
            assert_eq!(t.token_type, "Bearer");
        }
        let t = AccessToken::from_token_response(
            br#"{"access_token":"t","token_type":"DPoP","expires_in":0,"scope":"a b"}"#,
            Duration::from_secs(3600),
        )
        .unwrap();
        assert_eq!(t.expires_at - t.issued_at, Duration::from_secs(1));
        assert_eq!(t.token_type, "DPoP");
        assert_eq!(t.granted, ["a", "b"]);
        let t =
            AccessToken::from_token_response(br#"{"access_token":"t"}"#, Duration::from_secs(7))
                .unwrap();
        assert_eq!(t.expires_at - t.issued_at, Duration::from_secs(7));
    }

    #[test]
    fn a_malformed_token_response_names_the_field_not_the_token() {
        for body in [
            &br#"{"access_token":"eyJ-secret-token","expires_in":"soon"}"#[..],
            &br#"{"access_token":"eyJ-secret-token","expires_in":-5}"#[..],
            &br#"{"access_token":"eyJ-secret-token","expires_in":1.5}"#[..],
            &br#"{"access_token":"eyJ-secret-token""#[..],
        ] {
            let e = AccessToken::from_token_response(body, Duration::from_secs(1)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidResponse);
            assert!(e.message().contains("token response"), "{e}");
            assert!(!format!("{e} {e:?}").contains("secret-token"), "{e:?}");
        }
        let e = AccessToken::from_token_response(br#"{"expires_in":"soon"}"#, Duration::ZERO)
            .unwrap_err();
        assert!(e.message().contains("expires_in"), "{e}");
    }

    #[test]
    fn client_assertion_claims_follow_rfc_7523() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let a = ClientAssertionClaims::at("cid", "https://t/token", Duration::from_secs(300), now);
        let b = ClientAssertionClaims::at("cid", "https://t/token", Duration::from_secs(300), now);
        assert_eq!((a.iss.as_str(), a.sub.as_str()), ("cid", "cid"));
        assert_eq!(a.aud, "https://t/token");
        assert_eq!(
            (a.iat, a.nbf, a.exp),
            (1_700_000_000, 1_700_000_000, 1_700_000_300)
        );
        assert_eq!(a.jti.len(), 32);
        assert_ne!(a.jti, b.jti, "every assertion has its own jti");
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["sub"], "cid");
        assert_eq!(json["exp"], 1_700_000_300u64);
    }

    #[test]
    fn a_failure_keeps_status_code_and_request_id_and_bounds_the_excerpt() {
        let mut f = ResponseFailure::new(403);
        f.code = Some("E0000006".into());
        f.request_id = Some("req-1".into());
        f.retry_after = Some(Duration::from_secs(3));
        let e = f.error(
            ErrorKind::AdminRoleMissing,
            "assign a role",
            "okta(x)",
            "Okta",
        );
        assert_eq!(
            e.to_string(),
            "okta(x): assign a role [HTTP 403, code E0000006, request id req-1]"
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        f.said = Some(format!("line one\nline two {}", "x".repeat(1000)));
        let e = f.error(ErrorKind::Rejected, "refused", "okta(x)", "Okta");
        assert!(e
            .message()
            .starts_with("refused (Okta said: line one line two x"));
        assert!(e.message().len() < 340, "{}", e.message());
    }
}
