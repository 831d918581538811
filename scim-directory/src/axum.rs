//! An axum router serving a [`ScimService`] (feature `axum`).
//!
//! The router reads the body up to the service's limit (a larger body is a
//! SCIM 413, not a dropped connection) and runs the synchronous service on
//! tokio's blocking pool, so SQLite writes never stall the async workers.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use http::StatusCode;

use crate::errors::ScimError;
use crate::service::ScimService;

/// A router answering every path with the service (it does its own routing
/// under [`crate::ServiceConfig::base_path`]). Merge or nest it into a host's
/// router, or serve it alone.
pub fn router(service: ScimService) -> Router {
    Router::new().fallback(handle).with_state(service)
}

async fn handle(State(service): State<ScimService>, req: Request) -> Response {
    let limit = service.config().max_body_bytes;
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => return into_axum(too_large(limit)),
    };
    let req = http::Request::from_parts(parts, bytes);
    let resp = tokio::task::spawn_blocking(move || service.handle(req))
        .await
        .unwrap_or_else(|_| ScimError::internal().into_response());
    into_axum(resp)
}

fn too_large(limit: usize) -> http::Response<Bytes> {
    ScimError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is larger than {limit} bytes"),
    )
    .into_response()
}

fn into_axum(resp: http::Response<Bytes>) -> Response {
    resp.map(Body::from)
}
