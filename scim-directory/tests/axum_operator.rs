//! The router's operator features over real loopback sockets: rate limits,
//! head and body timeouts.
#![cfg(feature = "axum")]

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use scim_directory::axum::{RateLimit, RouterConfig};
use scim_directory::{MemoryStore, ScimService, ServiceConfig};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn rate(per_second: u32, burst: u32) -> RateLimit {
    RateLimit::new(
        NonZeroU32::new(per_second).unwrap(),
        NonZeroU32::new(burst).unwrap(),
    )
}

struct Server {
    addr: std::net::SocketAddr,
    endpoint: String,
    token: String,
}

async fn serve(config: RouterConfig) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service_config = ServiceConfig {
        public_url: format!("http://{addr}"),
        ..ServiceConfig::default()
    };
    let service = ScimService::with_config(Arc::new(MemoryStore::new()), service_config);
    let t = service.create_tenant("acme", "Acme").await.unwrap();
    tokio::spawn(scim_directory::axum::serve(listener, service, config));
    Server {
        addr,
        endpoint: t.endpoint,
        token: t.token.expose_secret().to_string(),
    }
}

/// Sends `n` GETs with `token`; the first 429 if any.
async fn first_429(url: &str, token: &str, n: usize) -> Option<reqwest::Response> {
    let http = reqwest::Client::new();
    for _ in 0..n {
        let resp = http.get(url).bearer_auth(token).send().await.unwrap();
        if resp.status() == 429 {
            return Some(resp);
        }
    }
    None
}

async fn assert_scim_429(resp: reqwest::Response) {
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["schemas"][0], scim_directory::ERROR_SCHEMA);
    assert_eq!(err["status"], "429");
}

#[tokio::test]
async fn a_tenant_past_its_rate_gets_a_scim_429_with_retry_after() {
    let server = serve(RouterConfig {
        tenant_rate: rate(1, 3),
        ..RouterConfig::default()
    })
    .await;
    let url = format!("{}/Users", server.endpoint);
    let resp = first_429(&url, &server.token, 30)
        .await
        .expect("30 requests at a 1/s rate with a burst of 3 were all answered");
    assert_scim_429(resp).await;
}

#[tokio::test]
async fn a_wrong_token_flood_is_limited_per_peer() {
    let server = serve(RouterConfig {
        unauthenticated_rate: rate(1, 5),
        ..RouterConfig::default()
    })
    .await;
    let url = format!("{}/Users", server.endpoint);
    let resp = first_429(&url, "wrong-token", 30)
        .await
        .expect("30 wrong-token requests at 1/s with a burst of 5 were all answered");
    assert_scim_429(resp).await;
}

/// Reads until the server closes the connection; what it sent, or `None`
/// if it kept the connection open for 30 s.
async fn read_until_closed(conn: &mut TcpStream) -> Option<String> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), conn.read_to_end(&mut got)).await;
    match read {
        Ok(Ok(_)) => Some(String::from_utf8_lossy(&got).into_owned()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => Some(String::new()),
        Ok(Err(e)) => panic!("reading: {e}"),
        Err(_) => None,
    }
}

#[tokio::test]
async fn a_half_sent_request_head_is_closed_by_the_timeout() {
    let server = serve(RouterConfig {
        head_timeout: Duration::from_secs(1),
        ..RouterConfig::default()
    })
    .await;
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    conn.write_all(b"GET /scim/v2/acme/Users HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let got = read_until_closed(&mut conn).await;
    assert!(got.is_some(), "the half-sent request stayed open for 30 s");
}

#[tokio::test]
async fn a_stalled_body_gets_a_scim_408() {
    let server = serve(RouterConfig {
        body_timeout: Duration::from_secs(1),
        ..RouterConfig::default()
    })
    .await;
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /scim/v2/acme/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: 100\r\n\r\n{{\"userName\"",
        server.token
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut got = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(30), conn.read(&mut got))
        .await
        .expect("no answer to a stalled body within 30 s")
        .unwrap();
    let text = String::from_utf8_lossy(&got[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains(scim_directory::ERROR_SCHEMA), "{text}");
}

#[tokio::test]
async fn an_unauthenticated_large_body_is_refused_before_it_is_read() {
    let server = serve(RouterConfig::default()).await;
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    let head = "POST /scim/v2/acme/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n\
                Content-Length: 104857600\r\n\r\n";
    conn.write_all(head.as_bytes()).await.unwrap();
    // Not a byte of the 100 MiB body is sent: the 401 comes from the head.
    let mut got = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(30), conn.read(&mut got))
        .await
        .expect("no answer from the head alone within 30 s")
        .unwrap();
    let text = String::from_utf8_lossy(&got[..n]);
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
}
