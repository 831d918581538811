//! Graph's error bodies turned into typed errors that say what to fix,
//! keeping Graph's code and request id (as Okta's errors.rs does for Okta).

use std::time::SystemTime;

use directory_core::http::{parse_retry_after, HttpResponse, ResponseFailure};
use directory_core::{Error, ErrorKind};
use serde::Deserialize;

use crate::client::Permission;

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error: Option<ErrorInner>,
}

#[derive(Deserialize, Default)]
struct ErrorInner {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "innerError")]
    inner: Option<serde_json::Value>,
}

/// Turns a Graph error response into an error that says what to fix: the
/// kind from the status, Graph's code and request id kept, Graph's own words
/// only where the kind does not say it all.
pub(crate) fn graph_error(
    provider: &str,
    what: &str,
    resp: &HttpResponse,
    need: Permission,
) -> Error {
    let body: ErrorBody = serde_json::from_slice(&resp.body).unwrap_or_default();
    let inner = body.error.unwrap_or_default();
    let code = inner.code;
    let (kind, message) = explain(what, resp.status, code.as_deref(), need);
    let failure = ResponseFailure {
        code,
        request_id: request_id(resp, inner.inner.as_ref()),
        // Graph's own words only where the kind does not say it all.
        said: inner.message.filter(|_| kind == ErrorKind::Rejected),
        retry_after: resp
            .header("retry-after")
            .and_then(|v| parse_retry_after(v, SystemTime::now())),
        ..ResponseFailure::new(resp.status)
    };
    failure.error(kind, message, provider, "Graph")
}

fn explain(what: &str, status: u16, code: Option<&str>, need: Permission) -> (ErrorKind, String) {
    match status {
        401 => (
            ErrorKind::Unauthenticated,
            format!(
            "{what}: Graph rejected a freshly issued access token. Check that the Graph endpoint \
             belongs to the same cloud as the login authority (tokens of one national cloud are \
             not valid in another)"),
        ),
        403 => (
            ErrorKind::PermissionDenied,
            format!(
                "{what}: access denied. The app needs the Microsoft Graph application permission \
             {need} with admin consent: App registrations -> API permissions -> Add a permission \
             -> Microsoft Graph -> Application permissions, then 'Grant admin consent'"
            ),
        ),
        404 => (ErrorKind::NotFound, format!("{what}: not found")),
        429 => (
            ErrorKind::RateLimited,
            format!(
            "{what}: Graph kept throttling the requests past the retry deadline; sync less often \
             or lower the concurrency"),
        ),
        500..=599 => (
            ErrorKind::Transient,
            format!("{what}: Graph failed (HTTP {status}); try again later"),
        ),
        _ if code.is_some_and(is_delta_reset) => (
            ErrorKind::Rejected,
            format!("{what}: the delta token is expired or was reset; a full sync is needed"),
        ),
        _ => (
            ErrorKind::Rejected,
            format!("{what}: Graph refused the request"),
        ),
    }
}

/// Graph codes that mean "the delta token is gone: start over".
pub(crate) fn is_delta_reset(code: &str) -> bool {
    [
        "syncStateNotFound",
        "resyncRequired",
        "syncStateInvalid",
        "fullSyncRequired",
        "badRequest_ExpiredSyncState",
    ]
    .iter()
    .any(|c| c.eq_ignore_ascii_case(code))
}

fn request_id(resp: &HttpResponse, inner: Option<&serde_json::Value>) -> Option<String> {
    resp.header("request-id")
        .map(String::from)
        .or_else(|| {
            inner
                .and_then(|i| i.get("request-id"))
                .and_then(|v| v.as_str())
                .map(String::from)
        })
        .or_else(|| resp.header("client-request-id").map(String::from))
}
