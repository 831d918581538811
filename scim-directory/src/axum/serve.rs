//! Serving the router on a listener with a timeout on the request head.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};

use super::{router_with, RouterConfig};
use crate::service::ScimService;

/// Serves `service` on `listener` with `config` until the task is dropped.
///
/// Unlike `axum::serve`, each connection has a timeout on reading a request
/// head ([`RouterConfig::head_timeout`]): a client that sends half a request
/// line and stalls is disconnected instead of holding the socket. The peer
/// address reaches the router as `ConnectInfo<SocketAddr>`, so
/// unauthenticated requests are limited per address. Accept errors (out of
/// file descriptors) are logged and retried after a short pause.
pub async fn serve(listener: TcpListener, service: ScimService, config: RouterConfig) {
    let head_timeout = config.head_timeout;
    let app = router_with(service, config);
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::spawn(connection(stream, peer, app.clone(), head_timeout));
            }
            Err(error) => {
                tracing::warn!(%error, "accepting a SCIM connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn connection(stream: TcpStream, peer: SocketAddr, app: Router, head_timeout: Duration) {
    let svc = hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let mut app = app.clone();
        async move { tower_service::Service::call(&mut app, req).await }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(head_timeout)
        .serve_connection(TokioIo::new(stream), svc)
        .await;
    if let Err(error) = served {
        tracing::debug!(%peer, %error, "SCIM connection ended with an error");
    }
}
