//! Shared helpers: running the binary, paths, reading a report.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `loadgen ARGS` from the repository root: (exit code, stdout, stderr).
pub fn loadgen(args: &[&str]) -> (i32, String, String) {
    loadgen_env(args, &[])
}

/// `loadgen ARGS` with extra environment variables: (exit code, stdout, stderr).
pub fn loadgen_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(repo())
        .output()
        .expect("run loadgen");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read report")).expect("json")
}

/// A two-worker runtime, as the binary runs with on this machine's two cores.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Runs a scenario text in process (its own two-worker runtime); never interrupted.
pub fn run_text(text: &str) -> (loadgen::scenario::Scenario, loadgen::run::RunOutput) {
    let scn = loadgen::scenario::parse("test.yaml", text, &[]).unwrap_or_else(|e| panic!("{e}"));
    let out = runtime()
        .block_on(loadgen::run::run(&scn, std::future::pending()))
        .expect("run");
    (scn, out)
}

/// Runs that measure timing or load the machine take turns, so one does not skew another.
pub fn heavy() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    HEAVY.lock().unwrap_or_else(|p| p.into_inner())
}
