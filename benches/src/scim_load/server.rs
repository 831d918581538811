//! The `scim_server` example as a real process: built by cargo in this
//! binary's profile (a no-op when fresh), located from cargo's build
//! messages, started on a free port, killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::Failure;

/// Builds `scim_server` (features `axum,postgres`) and returns its path.
pub fn build() -> Result<PathBuf, Failure> {
    let exe = std::env::current_exe()?;
    let release = exe.ancestors().any(|p| p.ends_with("release"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "--message-format=json", "-p"])
        .args(["scim-directory", "--example", "scim_server"])
        .args(["--features", "axum,postgres"])
        .stderr(Stdio::inherit());
    // What cargo sets for a running test or `cargo run` is no setting for
    // the build: a build script watching CARGO_MANIFEST_DIR (ring's) would
    // rebuild half the dependency tree, and the next cargo call all of it.
    for (var, _) in std::env::vars_os() {
        let var = var.to_string_lossy();
        let per_target = [
            "CARGO_PKG_",
            "CARGO_BIN_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
        ]
        .iter()
        .any(|p| var.starts_with(p));
        let single = ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"];
        if per_target || single.contains(&&*var) {
            cmd.env_remove(&*var);
        }
    }
    if release {
        cmd.arg("--release");
    }
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(format!("cargo build of scim_server exited {}", out.status).into());
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["target"]["name"] == "scim_server")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo named no scim_server executable".into())
}

/// A running `scim_server serve`; dropped, it is killed.
pub struct Server {
    child: Child,
    /// The endpoint prefix, `http://127.0.0.1:PORT/scim/v2`.
    pub prefix: String,
}

impl Server {
    /// Starts `serve --port 0` on the schema and waits until it wrote its
    /// URL prefix; an exit before that is an error.
    pub async fn start(bin: &Path, url: &str, schema: &str, dir: &Path) -> Result<Self, Failure> {
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

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
