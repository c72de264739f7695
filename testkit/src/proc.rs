//! Process helpers shared by the servers: finding binaries, running commands, polling.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// Finds `bin` on PATH, or panics with the install command.
pub(crate) fn require_binary(bin: &str, package: &str) -> PathBuf {
    if let Some(found) = which(bin) {
        return found;
    }
    panic!("{bin} not found: run scripts/test.sh --setup (or apt-get install -y {package})");
}

pub(crate) fn which(bin: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(bin))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Runs a command to completion, panicking with its output when it fails.
pub(crate) fn run(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{what} failed ({}): {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// Polls `ready` every 50 ms until it returns true or `limit` passes.
pub(crate) fn wait_until(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if ready() {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGKILLs a child and reaps it; a child that already exited is fine.
pub(crate) fn kill_child(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Cleans up after a server if this test process dies without running destructors
/// (SIGKILL, abort, a harness timeout): a `sh` that blocks reading a pipe from us and runs
/// `cleanup` when the pipe closes. Dropping the watchdog disarms it (kills the `sh`) so the
/// owner can clean up itself; no libc, no prctl.
#[derive(Debug)]
pub(crate) struct Watchdog {
    sh: Child,
}

impl Watchdog {
    /// Arms a watchdog running the shell snippet `cleanup` once this process is gone.
    pub(crate) fn arm(cleanup: &str) -> Option<Watchdog> {
        let sh = Command::new("sh")
            .arg("-c")
            .arg(format!("read _ignored; {cleanup}"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        Some(Watchdog { sh })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        kill_child(&mut self.sh);
    }
}

/// The last `n` lines of a log file, for failure messages.
pub(crate) fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Whether this process runs as root (`id -u` prints 0).
pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(
        expected = "tokenscope-no-such-server not found: run scripts/test.sh --setup (or apt-get install -y some-package)"
    )]
    fn a_missing_binary_fails_with_the_install_command() {
        require_binary("tokenscope-no-such-server", "some-package");
    }

    #[test]
    fn binaries_on_path_are_found() {
        assert!(which("sh").is_some());
        assert!(which("tokenscope-no-such-server").is_none());
    }
}
