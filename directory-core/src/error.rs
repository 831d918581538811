//! The one public error type, classified by what the admin must fix.

use std::fmt;
use std::time::Duration;

/// What went wrong, in terms of what someone must do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration is wrong (a field is missing or malformed, an unknown
    /// domain or tenant). The message names the field.
    InvalidConfig,
    /// The provider did not accept our identity (unknown client id, no token).
    Unauthenticated,
    /// The key, secret or certificate was rejected (wrong, not registered,
    /// bad signature, clock skew).
    InvalidCredential,
    /// The secret or certificate has expired and must be renewed.
    ExpiredCredential,
    /// A scope or permission the sync needs was not granted, or admin consent
    /// is missing.
    PermissionDenied,
    /// The service app has no admin role that allows reading the directory.
    AdminRoleMissing,
    /// A configured object (app, service principal, group) does not exist.
    NotFound,
    /// The provider's rate limit was hit and the wait did not fit the deadline.
    RateLimited,
    /// A failure that may pass: 5xx, a timeout, a cut connection.
    Transient,
    /// The provider sent something we cannot use: malformed JSON, a missing
    /// field, a next link that repeats or leaves the configured origin.
    InvalidResponse,
    /// The provider's request was refused for a reason not listed above.
    Rejected,
}

impl ErrorKind {
    /// A short stable name, for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidConfig => "invalid_config",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::InvalidCredential => "invalid_credential",
            ErrorKind::ExpiredCredential => "expired_credential",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::AdminRoleMissing => "admin_role_missing",
            ErrorKind::NotFound => "not_found",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Transient => "transient",
            ErrorKind::InvalidResponse => "invalid_response",
            ErrorKind::Rejected => "rejected",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error from a directory provider or from snapshot collection.
///
/// The message says what the admin must fix. The provider's own error code
/// (`E0000006`, `AADSTS7000222`, `Authorization_RequestDenied`...), its request
/// id and the HTTP status are kept beside it. Messages never contain secrets:
/// providers build them from codes and names, never from credentials or tokens.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: String,
    provider: Option<String>,
    code: Option<String>,
    request_id: Option<String>,
    status: Option<u16>,
    retry_after: Option<Duration>,
    source: Option<Source>,
}

/// Shorthand for results in this crate family.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of the given kind with a message that says what to fix.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                provider: None,
                code: None,
                request_id: None,
                status: None,
                retry_after: None,
                source: None,
            }),
        }
    }

    /// A configuration error naming the field and what is wrong with it.
    pub fn config(field: &str, problem: impl fmt::Display) -> Self {
        Self::new(ErrorKind::InvalidConfig, format!("{field}: {problem}"))
    }

    /// A response that could not be used, naming where in it the problem is.
    pub fn invalid_response(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidResponse, message)
    }

    /// Decodes JSON into `T`; on failure the error names the JSON path
    /// (`$.users[3].profile.login`) and a bounded snippet of the body.
    pub fn decode_json<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) -> Result<T> {
        // Decode without tracking the path first: tracking costs on every
        // value, and only a failure needs it. A body that fails is decoded
        // again, tracked, to say where.
        if let Ok(value) = T::deserialize(&mut serde_json::Deserializer::from_slice(body)) {
            return Ok(value);
        }
        let de = &mut serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize(de).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner();
            let near = snippet(body, inner.column(), inner.line());
            Self::invalid_response(format!(
                "could not decode {what} at $.{path}: {inner} (near: {near})"
            ))
        })
    }

    /// Like [`Error::decode_json`] but without the snippet: for bodies that
    /// carry secrets (token responses), the error names the JSON path and
    /// what was wrong, never the body.
    pub fn decode_json_secret<T: serde::de::DeserializeOwned>(
        what: &str,
        body: &[u8],
    ) -> Result<T> {
        if let Ok(value) = T::deserialize(&mut serde_json::Deserializer::from_slice(body)) {
            return Ok(value);
        }
        let de = &mut serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize(de).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner();
            Self::invalid_response(format!(
                "could not decode {what} at $.{path}: {} at line {} column {}",
                classify(&inner),
                inner.line(),
                inner.column()
            ))
        })
    }

    /// Sets the provider name shown in the message (`okta(acme.okta.com)`).
    pub fn with_provider(mut self, provider: impl fmt::Display) -> Self {
        self.inner.provider = Some(provider.to_string());
        self
    }

    /// Keeps the provider's own error code.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.inner.code = Some(code.into());
        self
    }

    /// Keeps the provider's request id (Okta `X-Okta-Request-Id`, Graph
    /// `request-id`, AAD `trace_id`).
    pub fn with_request_id(mut self, id: impl Into<String>) -> Self {
        self.inner.request_id = Some(id.into());
        self
    }

    /// Keeps the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.inner.status = Some(status);
        self
    }

    /// Keeps the server's requested wait.
    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.inner.retry_after = Some(wait);
        self
    }

    /// Attaches the underlying cause, returned from [`std::error::Error::source`].
    pub fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    /// The classification.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The message, without provider, code or request id.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The provider this error came from, if set.
    pub fn provider(&self) -> Option<&str> {
        self.inner.provider.as_deref()
    }

    /// The provider's own error code.
    pub fn code(&self) -> Option<&str> {
        self.inner.code.as_deref()
    }

    /// The provider's request id.
    pub fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }

    /// The HTTP status, when the error came from a response.
    pub fn status(&self) -> Option<u16> {
        self.inner.status
    }

    /// The wait the server asked for, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// Whether trying the same thing again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.inner.kind,
            ErrorKind::RateLimited | ErrorKind::Transient
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.inner.provider {
            write!(f, "{p}: ")?;
        }
        f.write_str(&self.inner.message)?;
        let mut extra = Vec::new();
        if let Some(s) = self.inner.status {
            extra.push(format!("HTTP {s}"));
        }
        if let Some(c) = &self.inner.code {
            extra.push(format!("code {c}"));
        }
        if let Some(r) = &self.inner.request_id {
            extra.push(format!("request id {r}"));
        }
        if !extra.is_empty() {
            write!(f, " [{}]", extra.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind)
            .field("message", &self.inner.message);
        if let Some(p) = &self.inner.provider {
            d.field("provider", p);
        }
        if let Some(c) = &self.inner.code {
            d.field("code", c);
        }
        if let Some(r) = &self.inner.request_id {
            d.field("request_id", r);
        }
        if let Some(s) = &self.inner.status {
            d.field("status", s);
        }
        if let Some(s) = &self.inner.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

/// What kind of JSON error, without serde's message (which can quote input).
fn classify(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "malformed JSON",
        serde_json::error::Category::Data => "unexpected value",
        serde_json::error::Category::Eof => "the body ends too early",
    }
}

/// At most 120 characters of `body` around the 1-based `line`/`column` a JSON
/// error points at, lossily decoded; never the whole body.
fn snippet(body: &[u8], column: usize, line: usize) -> String {
    const WIDTH: usize = 120;
    let text = String::from_utf8_lossy(body);
    let offset: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum::<usize>()
        + column.saturating_sub(1);
    let start = offset.saturating_sub(WIDTH / 2);
    let chars: String = text
        .char_indices()
        .skip_while(|(i, _)| *i < start)
        .take(WIDTH)
        .map(|(_, c)| c)
        .collect();
    chars.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_keeps_codes_and_request_id() {
        let e = Error::new(
            ErrorKind::AdminRoleMissing,
            "assign the Read-only Administrator role",
        )
        .with_provider("okta(acme.okta.com)")
        .with_code("E0000006")
        .with_request_id("req-1")
        .with_status(403);
        let s = e.to_string();
        assert_eq!(
            s,
            "okta(acme.okta.com): assign the Read-only Administrator role [HTTP 403, code E0000006, request id req-1]"
        );
        assert!(!e.is_retryable());
    }

    #[test]
    fn decode_error_names_path_and_bounds_snippet() {
        let body = format!("{{\"users\": [{}, {{\"id\": }}]}}", "1,".repeat(500));
        let e = Error::decode_json::<serde_json::Value>("Okta users page", body.as_bytes())
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse);
        assert!(e.message().contains("Okta users page"));
        assert!(e.message().len() < 400, "{}", e.message());
    }

    #[test]
    fn secret_decode_errors_never_quote_the_body() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Token {
            access_token: String,
            expires_in: u64,
        }
        for body in [
            &br#"{"access_token":"eyJsecret-token-value","expires_in":"soon"}"#[..],
            &br#"{"access_token":"eyJsecret-token-value"#[..],
            &br#"{"access_token":"eyJsecret-token-value","expires_in":3600,}"#[..],
        ] {
            let e = Error::decode_json_secret::<Token>("token response", body).unwrap_err();
            assert!(!e.to_string().contains("secret-token"), "{e}");
            assert!(!format!("{e:?}").contains("secret-token"), "{e:?}");
        }
    }

    #[test]
    fn decode_error_names_the_json_path() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Page {
            users: Vec<U>,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct U {
            id: String,
        }
        let body = br#"{"users":[{"id":"a"},{"id":7}]}"#;
        let e = Error::decode_json::<Page>("users page", body).unwrap_err();
        assert!(e.message().contains("$.users[1].id"), "{}", e.message());
    }

    #[test]
    fn retryable_kinds() {
        assert!(Error::new(ErrorKind::Transient, "x").is_retryable());
        assert!(Error::new(ErrorKind::RateLimited, "x").is_retryable());
        assert!(!Error::new(ErrorKind::InvalidResponse, "x").is_retryable());
    }
}
