//! SCIM error responses (RFC 7644 §3.12) and store errors.

use std::fmt;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use serde_json::json;

/// The SCIM error schema URN.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The media type of every SCIM response body.
pub const SCIM_MEDIA_TYPE: &str = "application/scim+json";

/// The `scimType` of a 400 or 409 error (RFC 7644 §3.12, table 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScimType {
    /// The filter syntax is invalid or names an unsupported operator.
    InvalidFilter,
    /// The filter yields too many results to process.
    TooMany,
    /// One or more attribute values are already in use (`userName`).
    Uniqueness,
    /// An attempt to change an immutable attribute.
    Mutability,
    /// The request body is not valid JSON or does not match the schema.
    InvalidSyntax,
    /// A PATCH path is malformed or names nothing.
    InvalidPath,
    /// A PATCH path filter matched no value.
    NoTarget,
    /// A required value is missing or a value has the wrong type.
    InvalidValue,
    /// The SCIM protocol version is not supported.
    InvalidVers,
    /// The request would disclose sensitive data.
    Sensitive,
}

impl ScimType {
    /// The wire name, e.g. `invalidFilter`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

/// An error answered to the SCIM client as an Error-schema body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    status: StatusCode,
    scim_type: Option<ScimType>,
    detail: String,
}

impl ScimError {
    /// An error with the given HTTP status and detail.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type: None,
            detail: detail.into(),
        }
    }

    /// A 400 with a `scimType`.
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail).with_type(scim_type)
    }

    /// A 400 `invalidValue`.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidValue, detail)
    }

    /// A 400 `invalidSyntax`.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidSyntax, detail)
    }

    /// A 400 `invalidFilter`.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidFilter, detail)
    }

    /// A 400 `invalidPath`.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidPath, detail)
    }

    /// A 404 naming what was not found.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// A 409 `uniqueness`.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, detail).with_type(ScimType::Uniqueness)
    }

    /// A 401 for a missing or wrong bearer token.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "a valid bearer token is required: paste the token shown when this \
             directory was created (or rotated) into the identity provider",
        )
    }

    /// A 401 for a good token of a suspended tenant (told only to a caller
    /// that presented the tenant's token).
    pub fn suspended() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "this directory is suspended: provisioning resumes when the service's \
             operator resumes it",
        )
    }

    /// A 409 for a write that lost a race with another writer more times
    /// than the service retries.
    pub fn stale() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "the resource was changed by other requests at the same time; retry",
        )
    }

    /// A 500 that hides internals from the client.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the directory store failed; the request was not applied, retry later",
        )
    }

    /// Sets the `scimType`.
    pub fn with_type(mut self, scim_type: ScimType) -> Self {
        self.scim_type = Some(scim_type);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `scimType`, if any.
    pub fn scim_type(&self) -> Option<ScimType> {
        self.scim_type
    }

    /// The human-readable detail.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The Error-schema JSON body.
    pub fn body(&self) -> serde_json::Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let (Some(t), Some(obj)) = (self.scim_type, body.as_object_mut()) {
            obj.insert("scimType".into(), json!(t.as_str()));
        }
        body
    }

    /// The HTTP response carrying this error.
    pub fn into_response(self) -> Response<Bytes> {
        let mut resp = json_response(self.status, &self.body());
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scim\""),
            );
        }
        resp
    }
}

impl fmt::Display for ScimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.status.as_u16())?;
        if let Some(t) = self.scim_type {
            write!(f, "{} ", t.as_str())?;
        }
        f.write_str(&self.detail)
    }
}

impl std::error::Error for ScimError {}

impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => {
                ScimError::uniqueness(format!("{what} is already in use"))
            }
            StoreError::Stale(_) => ScimError::stale(),
            StoreError::NoTenant(_) => ScimError::not_found(
                "this directory was deleted while the request was in flight; nothing was written",
            ),
            StoreError::Backend(msg) => {
                tracing::error!(error = %msg, "scim store failure");
                ScimError::internal()
            }
        }
    }
}

/// A JSON response with the SCIM media type.
pub(crate) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Bytes> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = Response::new(Bytes::from(bytes));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(SCIM_MEDIA_TYPE),
    );
    resp
}

/// What a [`crate::Store`] can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A unique key (a user's `userName`, a tenant id) is already taken.
    #[error("{0} is already in use")]
    Conflict(String),
    /// A [`crate::Write::Put`] was based on a version another writer has
    /// since replaced (or the resource is gone): read again and retry.
    #[error("{0} was changed by another writer")]
    Stale(String),
    /// A write to a tenant that does not exist (deleted while the request
    /// was in flight): nothing was written.
    #[error("there is no tenant {0}")]
    NoTenant(String),
    /// The storage backend failed (I/O, a corrupt row).
    #[error("directory store failure: {0}")]
    Backend(String),
}

impl From<StoreError> for directory_core::Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(_) | StoreError::Stale(_) => {
                directory_core::Error::new(directory_core::ErrorKind::Rejected, e.to_string())
            }
            StoreError::NoTenant(_) => {
                directory_core::Error::new(directory_core::ErrorKind::NotFound, e.to_string())
            }
            StoreError::Backend(_) => {
                directory_core::Error::new(directory_core::ErrorKind::Transient, e.to_string())
                    .with_provider("scim")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_schema_status_string_and_scim_type() {
        let e = ScimError::invalid_filter("bad");
        let body = e.body();
        assert_eq!(body["schemas"][0], ERROR_SCHEMA);
        assert_eq!(body["status"], "400");
        assert_eq!(body["scimType"], "invalidFilter");
        let resp = e.into_response();
        assert_eq!(resp.status(), 400);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], SCIM_MEDIA_TYPE);
    }

    #[test]
    fn unauthorized_has_www_authenticate_and_no_scim_type() {
        let resp = ScimError::unauthorized().into_response();
        assert_eq!(resp.status(), 401);
        assert!(resp.headers().contains_key(header::WWW_AUTHENTICATE));
        let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        assert!(body.get("scimType").is_none());
    }
}
