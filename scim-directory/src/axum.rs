//! An axum router serving a [`ScimService`] (feature `axum`).
//!
//! The router checks the bearer token from the request head before it reads
//! a byte of the body, so a client without the token gets its 401 at once
//! and cannot make the server buffer anything. It then refuses a declared
//! `Content-Length` above the service's limit, reads the body up to that
//! limit (a larger body is a SCIM 413, not a dropped connection) and runs the
//! service on tokio's blocking pool, so SQLite writes never stall the async
//! workers.

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
    let checker = service.clone();
    let checked = off_workers(async move {
        let verdict = checker.authorize(&parts).await;
        (parts, verdict)
    })
    .await;
    let parts = match checked {
        Some((parts, Ok(()))) => parts,
        Some((_, Err(denied))) => return into_axum(denied.into_response()),
        None => return into_axum(ScimError::internal().into_response()),
    };
    if declared_length(&parts.headers).is_some_and(|n| n > limit) {
        return into_axum(too_large(limit));
    }
    let bytes = match to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => return into_axum(too_large(limit)),
    };
    let req = http::Request::from_parts(parts, bytes);
    let resp = off_workers(async move { service.handle(req).await })
        .await
        .unwrap_or_else(|| ScimError::internal().into_response());
    into_axum(resp)
}

/// Runs the service on tokio's blocking pool (driven by the runtime's
/// handle), so a store that blocks (SQLite's fsync) never stalls the async
/// workers. `None` if the task panicked.
async fn off_workers<T, F>(fut: F) -> Option<T>
where
    T: Send + 'static,
    F: std::future::Future<Output = T> + Send + 'static,
{
    let rt = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || rt.block_on(fut))
        .await
        .ok()
}

fn declared_length(headers: &http::HeaderMap) -> Option<usize> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
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
