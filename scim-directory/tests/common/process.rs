//! The `scim_server` example as a real process on a test's PostgreSQL
//! schema: built by cargo (a no-op when fresh), located from cargo's own
//! build messages, started on a free port, and killed with SIGKILL.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Builds `scim_server` (see [`directory_core::testing::example_binary`])
/// and returns its path.
pub fn build() -> PathBuf {
    directory_core::testing::example_binary("scim_server").unwrap()
}

/// `scim_server --database URL --schema SCHEMA ARGS...`, which must succeed.
pub fn admin(bin: &Path, url: &str, schema: &str, args: &[&str]) {
    let status = Command::new(bin)
        .args(["--database", url, "--schema", schema])
        .args(args)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "scim_server {args:?} exited {status}");
}

/// A running `scim_server serve`; dropped, it is killed.
pub struct Server {
    child: Child,
    /// The endpoint prefix, `http://127.0.0.1:PORT/scim/v2`.
    pub prefix: String,
}

impl Server {
    /// Starts `serve --port 0` and waits until it wrote its URL prefix (or
    /// exited, which fails the test).
    pub async fn start(bin: &Path, url: &str, schema: &str, dir: &Path) -> Self {
        let url_file = dir.join(format!("url-{}", uuid::Uuid::new_v4().simple()));
        let child = Command::new(bin)
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
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut server = Self {
            child,
            prefix: String::new(),
        };
        loop {
            if let Ok(prefix) = std::fs::read_to_string(&url_file) {
                if !prefix.is_empty() {
                    server.prefix = prefix;
                    return server;
                }
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("scim_server exited before listening: {status}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL (`Child::kill` on Unix), then reaps the process.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
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
