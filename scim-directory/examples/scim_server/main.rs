//! A SCIM 2.0 server on 127.0.0.1 for the tenants in a SQLite file or a
//! PostgreSQL database, and their administration.
//!
//! ```text
//! cargo run -p scim-directory --example scim_server --features axum -- tenants create acme
//! cargo run -p scim-directory --example scim_server --features axum -- serve --port 8080
//! cargo run -p scim-directory --example scim_server --features axum -- --help
//! ```
//!
//! `tenants create` shows the endpoint and token once (or writes them to
//! `--token-file` and its `.url` for scripts); `serve` never creates or
//! rotates anything, so the token pasted into the IdP keeps working across
//! restarts. With `--features axum,postgres`, `--database postgres://...`
//! keeps the tenants in PostgreSQL, where several servers can share them.

mod cli;

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Arc;

use cli::{Cli, Command, Options};
use scim_directory::axum::{RateLimit, RouterConfig};
use scim_directory::{ScimService, ServiceConfig, SqliteStore, Store};

type Failure = Box<dyn std::error::Error>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cli = match cli::parse(&args, |var| std::env::var(var).ok()) {
        Ok(cli) => cli,
        Err(message) => {
            eprintln!("error: {message}\n\n{}", cli::USAGE);
            std::process::exit(2);
        }
    };
    if cli.command == Command::Help {
        println!("{}", cli::USAGE);
        return;
    }
    let runtime = tokio::runtime::Runtime::new();
    let done = runtime
        .map_err(Failure::from)
        .and_then(|rt| rt.block_on(run(cli)));
    if let Err(e) = done {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let store = open_store(&cli.options).await?;
    if let Command::Serve { url_file } = &cli.command {
        return serve(store, &cli.options, url_file.as_deref()).await;
    }
    let public_url = cli
        .options
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://127.0.0.1:{}", cli.options.port));
    let service = service(store, public_url);
    administer(&service, cli.command).await
}

fn service(store: Arc<dyn Store>, public_url: String) -> ScimService {
    let config = ServiceConfig {
        public_url,
        ..ServiceConfig::default()
    };
    ScimService::with_config(store, config)
}

async fn open_store(options: &Options) -> Result<Arc<dyn Store>, Failure> {
    let db = options.database.as_str();
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        return open_postgres(db, options).await;
    }
    if options.schema.is_some() {
        return Err("--schema applies to a PostgreSQL database only".into());
    }
    if options.db_connections.is_some() {
        return Err("--db-connections applies to a PostgreSQL database only".into());
    }
    Ok(Arc::new(SqliteStore::open(db)?))
}

#[cfg(feature = "postgres")]
async fn open_postgres(url: &str, options: &Options) -> Result<Arc<dyn Store>, Failure> {
    use scim_directory::PgStore;
    let mut pool = PgStore::pool_options();
    if let Some(n) = options.db_connections {
        pool = pool.max_connections(n);
    }
    let store = PgStore::connect_with_url(url, options.schema.as_deref(), pool).await?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(_url: &str, _options: &Options) -> Result<Arc<dyn Store>, Failure> {
    Err("this build has no PostgreSQL store: build with `--features axum,postgres`".into())
}

/// The request log (`scim_directory::request`, one event per request) and
/// the service's warnings and errors, to stderr; `RUST_LOG` overrides.
fn log_to_stderr() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,scim_directory=info"));
    let _already_set = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

async fn serve(
    store: Arc<dyn Store>,
    options: &Options,
    url_file: Option<&Path>,
) -> Result<(), Failure> {
    log_to_stderr();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port)).await?;
    let addr = listener.local_addr()?;
    let public_url = options
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let service = service(store, public_url);
    let tenants = service.tenants().await?;
    println!(
        "SCIM 2.0 server listening on {addr}, {} tenant(s):",
        tenants.len()
    );
    for t in &tenants {
        println!(
            "  {:<20} {:<9} {}",
            t.id,
            t.status.as_str(),
            service.endpoint(&t.id)
        );
    }
    if tenants.is_empty() {
        println!("  none yet: add one with `scim_server tenants create <ID>` (no restart needed)");
    }
    if let Some(path) = url_file {
        let prefix = format!(
            "{}{}",
            service.config().public_url,
            service.config().base_path
        );
        std::fs::write(path, prefix)?;
    }
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

async fn administer(service: &ScimService, command: Command) -> Result<(), Failure> {
    match command {
        Command::Create {
            id,
            name,
            token_file,
        } => {
            let name = name.unwrap_or_else(|| id.clone());
            let created = service.create_tenant(&id, &name).await?;
            show_credentials(
                &id,
                &created.endpoint,
                created.token.expose_secret(),
                token_file.as_deref(),
            )?;
        }
        Command::List => list(service).await?,
        Command::Rotate {
            id,
            overlap,
            token_file,
        } => {
            let token = service.rotate_token(&id, overlap).await?;
            let endpoint = service.endpoint(&id);
            show_credentials(&id, &endpoint, token.expose_secret(), token_file.as_deref())?;
            let info = service.tenants().await?.into_iter().find(|t| t.id == id);
            match info.and_then(|t| t.previous_token_expires) {
                Some(end) => println!("The previous token keeps working until {}.", time(end)),
                None => println!("The previous token stopped working."),
            }
        }
        Command::Revoke { id } => {
            service.revoke_tokens(&id).await?;
            println!("Every token of `{id}` is revoked; `tenants rotate {id}` issues a new one.");
        }
        Command::Suspend { id } => {
            service.suspend_tenant(&id).await?;
            println!(
                "`{id}` is suspended: every SCIM request gets 401 until `tenants resume {id}`."
            );
        }
        Command::Resume { id } => {
            service.resume_tenant(&id).await?;
            println!("`{id}` is active again.");
        }
        Command::Delete { id } => {
            service.delete_tenant(&id).await?;
            println!("`{id}` and all its users, groups and events are deleted.");
        }
        Command::Help | Command::Serve { .. } => {}
    }
    Ok(())
}

async fn list(service: &ScimService) -> Result<(), Failure> {
    println!(
        "{:<20} {:<9} {:<20} {:<20} {:<20} NAME",
        "ID", "STATUS", "CREATED", "TOKEN ISSUED", "OLD TOKEN UNTIL"
    );
    for t in service.tenants().await? {
        let issued = match t.has_token {
            true => time(t.token_issued),
            false => "(revoked)".into(),
        };
        let old_until = t.previous_token_expires.map(time).unwrap_or_default();
        println!(
            "{:<20} {:<9} {:<20} {issued:<20} {old_until:<20} {}",
            t.id,
            t.status.as_str(),
            time(t.created),
            t.name
        );
    }
    Ok(())
}

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Prints where to paste the endpoint and token, and the token itself
/// once, or writes both to files for scripts.
fn show_credentials(
    id: &str,
    endpoint: &str,
    token: &str,
    token_file: Option<&Path>,
) -> Result<(), Failure> {
    println!("SCIM directory `{id}`:");
    println!("  Okta (SCIM 2.0 Test App, OAuth Bearer Token): SCIM 2.0 Base Url = endpoint, OAuth Bearer Token = token");
    println!("  Entra ID (Provisioning, Automatic): Tenant URL = endpoint, Secret Token = token");
    println!("  Endpoint: {endpoint}");
    match token_file {
        Some(path) => {
            write_secret_file(path, token)?;
            let url_path = format!("{}.url", path.display());
            std::fs::write(&url_path, endpoint)?;
            println!(
                "  Token:    written to {} (the endpoint to {url_path})",
                path.display()
            );
        }
        None => println!("  Token:    {token}\n(shown once: copy it now; only its hash is stored)"),
    }
    Ok(())
}

fn write_secret_file(path: &Path, content: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    std::io::Write::write_all(&mut opts.open(path)?, content.as_bytes())
}
