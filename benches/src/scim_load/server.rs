//! The `scim_server` example as a real process: built by cargo in this
//! binary's profile (a no-op when fresh), located from cargo's build
//! messages, started on a free port, killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::Failure;

/// Builds `scim_server` (see [`directory_core::testing::example_binary`])
/// and returns its path.
pub fn build() -> Result<PathBuf, Failure> {
    Ok(directory_core::testing::example_binary("scim_server")?)
}

/// A running `scim_server serve`; dropped, it is killed.
pub struct Server {
    child: Child,
    /// The endpoint prefix, `http://127.0.0.1:PORT/scim/v2`.
    pub prefix: String,
}

impl Server {
    /// Starts `serve --port 0` on the schema (with at most `db_connections`
    /// to the database, if given) and waits until it wrote its URL prefix;
    /// an exit before that is an error.
    pub async fn start(
        bin: &Path,
        url: &str,
        schema: &str,
        db_connections: Option<u32>,
        dir: &Path,
    ) -> Result<Self, Failure> {
        let url_file = dir.join(format!("url-{}", uuid::Uuid::new_v4().simple()));
        let mut command = Command::new(bin);
        if let Some(n) = db_connections {
            command.arg("--db-connections").arg(n.to_string());
        }
        let child = command
            .args([
                "--database",
                url,
                "--schema",
                schema,
                "serve",
                "--port",
                "0",
            ])
            .arg("--url-file")
            .arg(&url_file)
            // Errors only: a request log line per request would flood the
            // output (and, in the load bench, cost the servers CPU).
            .env(
                "RUST_LOG",
                std::env::var("SCIM_LOAD_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .spawn()?;
        let mut server = Self {
            child,
            prefix: String::new(),
        };
        loop {
            if let Ok(prefix) = std::fs::read_to_string(&url_file) {
                if !prefix.is_empty() {
                    server.prefix = prefix;
                    let _ = std::fs::remove_file(&url_file);
                    return Ok(server);
                }
            }
            if let Some(status) = server.child.try_wait()? {
                return Err(format!("scim_server exited before listening: {status}").into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Server {
    /// The process's peak resident memory so far (`VmHWM`, Linux), bytes.
    pub fn peak_rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
