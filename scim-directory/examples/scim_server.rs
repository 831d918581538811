//! Runs the SCIM 2.0 server on 127.0.0.1 with one directory and a generated
//! token, and prints what an admin pastes into Okta or Entra.
//!
//! ```text
//! cargo run -p scim-directory --example scim_server --features axum -- \
//!     [--port 8080] [--tenant acme] [--db scim.sqlite] [--token-file token.txt]
//! ```
//!
//! Environment variables `SCIM_PORT`, `SCIM_TENANT`, `SCIM_DB` and
//! `SCIM_TOKEN_FILE` do the same. `--port 0` picks a free port. With
//! `--token-file` the token is written to that file (mode 0600 on Unix) and
//! the URL to `<file>.url`, for scripts; it is printed to the terminal
//! only without it. With `--db` the directory survives restarts (a new token
//! is issued on each start).

use std::num::NonZeroU32;
use std::sync::Arc;

use scim_directory::axum::{RateLimit, RouterConfig};

use scim_directory::{MemoryStore, ScimService, ServiceConfig, SqliteStore, Store};

struct Args {
    port: u16,
    tenant: String,
    db: Option<String>,
    token_file: Option<String>,
}

fn arg(args: &[String], flag: &str, env: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| std::env::var(env).ok())
}

fn parse_args() -> Result<Args, String> {
    let args: Vec<String> = std::env::args().collect();
    let port = arg(&args, "--port", "SCIM_PORT").unwrap_or_else(|| "8080".into());
    Ok(Args {
        port: port
            .parse()
            .map_err(|_| format!("--port: `{port}` is not a port number"))?,
        tenant: arg(&args, "--tenant", "SCIM_TENANT").unwrap_or_else(|| "acme".into()),
        db: arg(&args, "--db", "SCIM_DB"),
        token_file: arg(&args, "--token-file", "SCIM_TOKEN_FILE"),
    })
}

fn write_secret_file(path: &str, content: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    std::io::Write::write_all(&mut opts.open(path)?, content.as_bytes())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let store: Arc<dyn Store> = match &args.db {
        Some(path) => Arc::new(SqliteStore::open(path)?),
        None => Arc::new(MemoryStore::new()),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    let addr = listener.local_addr()?;
    let config = ServiceConfig {
        public_url: format!("http://{addr}"),
        ..ServiceConfig::default()
    };
    let service = ScimService::with_config(store, config);
    let token = match service.tenant(&args.tenant).await {
        Ok(_) => service.rotate_token(&args.tenant, std::time::Duration::ZERO).await?,
        Err(_) => {
            service
                .create_tenant(&args.tenant, &args.tenant)
                .await?
                .token
        }
    };
    let endpoint = service.endpoint(&args.tenant);

    println!(
        "SCIM 2.0 server for directory `{}` is listening.",
        args.tenant
    );
    println!();
    println!(
        "Okta: Applications > SCIM 2.0 Test App (OAuth Bearer Token) > Provisioning > Integration"
    );
    println!("  SCIM 2.0 Base Url:    {endpoint}");
    println!("  OAuth Bearer Token:   (below)");
    println!(
        "Entra ID: Enterprise application > Provisioning > Mode: Automatic > Admin Credentials"
    );
    println!("  Tenant URL:           {endpoint}");
    println!("  Secret Token:         (below)");
    println!();
    match &args.token_file {
        Some(path) => {
            write_secret_file(path, token.expose_secret())?;
            std::fs::write(format!("{path}.url"), &endpoint)?;
            println!("The token was written to {path} (and the URL to {path}.url).");
        }
        None => {
            println!("Token (shown once, copy it now): {}", token.expose_secret());
        }
    }
    println!(
        "Then enable Create Users, Update User Attributes and Deactivate Users, and assign people."
    );

    // The default limits, except a tenant rate high enough for a compliance
    // checker that sends its requests back to back.
    let fast = NonZeroU32::new(1000).ok_or("1000 is not zero")?;
    let router_config = RouterConfig {
        tenant_rate: RateLimit::new(fast, fast),
        ..RouterConfig::default()
    };
    scim_directory::axum::serve(listener, service, router_config).await;
    Ok(())
}
