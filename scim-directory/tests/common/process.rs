//! The `scim_server` example as a real process on a test's PostgreSQL
//! schema: built by cargo (a no-op when fresh), located from cargo's own
//! build messages, started on a free port, and killed with SIGKILL.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Builds `scim_server` (features `axum,postgres`, the profile this test
/// was built with) and returns its path. Cargo names the executable in its
/// JSON messages, so a custom `CARGO_TARGET_DIR` or `--target` is honoured.
pub fn build() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let release = exe.ancestors().any(|p| p.ends_with("release"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "--message-format=json", "-p"])
        .args(["scim-directory", "--example", "scim_server"])
        .args(["--features", "axum,postgres"])
        .stderr(Stdio::inherit());
    // What cargo sets for a running test is no setting for the build: a
    // build script watching CARGO_MANIFEST_DIR (ring's) would rebuild half
    // the dependency tree, and the next `cargo test` all of it again.
    for (var, _) in std::env::vars_os() {
        let var = var.to_string_lossy();
        let per_test = [
            "CARGO_PKG_",
            "CARGO_BIN_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
        ]
        .iter()
        .any(|p| var.starts_with(p));
        if per_test || ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"].contains(&&*var)
        {
            cmd.env_remove(&*var);
        }
    }
    if release {
        cmd.arg("--release");
    }
    let out = cmd.output().expect("cargo runs");
    assert!(out.status.success(), "cargo build of scim_server failed");
    let messages = String::from_utf8_lossy(&out.stdout);
    messages
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["target"]["name"] == "scim_server")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo named the scim_server executable")
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
