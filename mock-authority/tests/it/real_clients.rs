//! Running the real MSAL clients (installed by `scripts/test.sh --setup`) as child processes
//! against an in-process HTTPS mock; no request may leave for any other host.

use std::path::PathBuf;
use std::time::Duration;

use mock_authority::ServerHandle;

use crate::support::workspace;

const SETUP: &str = "run `scripts/test.sh --setup` to install the real MSAL clients";

/// MSAL Python's interpreter (`TOKENSCOPE_PYTHON`, default `<workspace>/.venv/bin/python`).
pub fn python() -> PathBuf {
    let p = std::env::var_os("TOKENSCOPE_PYTHON")
        .map_or_else(|| workspace().join(".venv/bin/python"), PathBuf::from);
    assert!(
        p.exists(),
        "MSAL Python interpreter not found at {}: {SETUP}",
        p.display()
    );
    p
}

/// msal-node's node_modules (`TOKENSCOPE_NODE_MODULES`, default `<workspace>/scripts/clients/node_modules`).
pub fn node_modules() -> PathBuf {
    let p = std::env::var_os("TOKENSCOPE_NODE_MODULES").map_or_else(
        || workspace().join("scripts/clients/node_modules"),
        PathBuf::from,
    );
    assert!(
        p.join("@azure/msal-node").is_dir(),
        "@azure/msal-node not found under {}: {SETUP}",
        p.display()
    );
    p
}

/// A client script under `tests/clients/`.
pub fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
}

/// Runs a client with the mock's CA trusted and every proxy pointing at a dead loopback
/// port (so a request to any host but the mock fails loudly); returns its JSON output.
pub async fn run(
    program: PathBuf,
    args: &[PathBuf],
    arg: &str,
    server: &ServerHandle,
    env: &[(&str, String)],
) -> serde_json::Value {
    let ca = server.ca_path.clone().expect("CA file");
    let mut cmd = tokio::process::Command::new(&program);
    cmd.args(args).arg(arg).kill_on_drop(true);
    cmd.env("REQUESTS_CA_BUNDLE", &ca)
        .env("NODE_EXTRA_CA_CERTS", &ca);
    for k in [
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "https_proxy",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env(k, "http://127.0.0.1:9");
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    cmd.env("MOCK_BASE", &server.base_url);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{} {arg} timed out", program.display()))
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; {SETUP}", program.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{} {arg} failed: {stdout}\n{stderr}",
        program.display()
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON from {arg}: {stdout}\n{stderr}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON from {arg} ({e}): {line}"))
}
