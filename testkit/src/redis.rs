//! A standalone `redis-server` on a free loopback port, with kill / restart / pause for outage tests.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::proc::{kill_child, require_binary, tail, wait_until, Watchdog};
use crate::{free_port, resp, START_ATTEMPTS};

const READY_LIMIT: Duration = Duration::from_secs(10);

/// One `redis-server` child process: its port, directory, extra arguments.
#[derive(Debug)]
pub(crate) struct RedisProcess {
    pub(crate) port: u16,
    dir: PathBuf,
    extra: Vec<String>,
    child: Option<Child>,
    /// Kills the server if the test process dies without dropping us.
    watchdog: Option<Watchdog>,
}

impl RedisProcess {
    /// Spawns redis-server on `port` with its files in `dir` and waits until it answers PING.
    pub(crate) fn spawn(port: u16, dir: &Path, extra: &[String]) -> Result<Self, String> {
        let mut process = RedisProcess {
            port,
            dir: dir.to_owned(),
            extra: extra.to_vec(),
            child: None,
            watchdog: None,
        };
        process.start()?;
        Ok(process)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("redis.log")
    }

    /// (Re)starts the server on the same port and directory.
    pub(crate) fn start(&mut self) -> Result<(), String> {
        let bin = require_binary("redis-server", "redis-server redis-tools");
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| format!("open redis log: {e}"))?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let port = self.port.to_string();
        let mut child = Command::new(bin)
            .args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--daemonize", "no", "--protected-mode", "yes"])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("spawn redis-server: {e}"))?;
        let mut exited = None;
        let ready = wait_until(READY_LIMIT, || {
            if let Ok(Some(status)) = child.try_wait() {
                exited = Some(status);
                return true;
            }
            resp::ping(self.port)
        });
        if let Some(status) = exited {
            return Err(format!(
                "redis-server on port {} exited ({status}):\n{}",
                self.port,
                tail(&self.log_path(), 15)
            ));
        }
        if !ready {
            kill_child(&mut child);
            return Err(format!(
                "redis-server on port {} did not answer PING within {READY_LIMIT:?}:\n{}",
                self.port,
                tail(&self.log_path(), 15)
            ));
        }
        self.watchdog = Watchdog::arm(&format!(
            "kill -9 {}; rm -rf '{}'",
            child.id(),
            self.dir.display()
        ));
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILLs the server and waits for it to exit.
    pub(crate) fn kill(&mut self) {
        // Disarm first: the watchdog must never signal a reaped (reusable) pid.
        self.watchdog = None;
        if let Some(mut child) = self.child.take() {
            kill_child(&mut child);
        }
    }

    pub(crate) fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A standalone Redis server for one test. Dropping it kills the server.
#[derive(Debug)]
pub struct RedisServer {
    process: RedisProcess,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts `redis-server` on a free 127.0.0.1 port (no persistence) and waits for PING.
    ///
    /// Panics with the install command when `redis-server` is missing, and with the server's
    /// log when it does not come up after a few ports.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Like [`RedisServer::start`], with extra `redis-server` arguments (e.g. `--maxmemory`).
    pub fn start_with(extra: &[&str]) -> Self {
        require_binary("redis-server", "redis-server redis-tools");
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            let dir = tempfile::Builder::new()
                .prefix("testkit-redis-")
                .tempdir()
                .expect("create a temporary directory for redis");
            match RedisProcess::spawn(free_port(), dir.path(), &extra) {
                Ok(process) => return RedisServer { process, _dir: dir },
                Err(e) => last = e,
            }
        }
        panic!("redis-server did not start after {START_ATTEMPTS} attempts: {last}");
    }

    pub fn port(&self) -> u16 {
        self.process.port
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.process.port)
    }

    /// SIGKILLs the server (no shutdown, like a crash) and waits for it to exit.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts the server again on the same port (after [`RedisServer::kill`]); data is gone.
    pub fn restart(&mut self) {
        self.process.kill();
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            match self.process.start() {
                Ok(()) => return,
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "redis-server did not restart on port {}: {last}",
            self.port()
        );
    }

    pub fn is_running(&self) -> bool {
        self.process.is_running()
    }

    /// Suspends all clients for `d` (`CLIENT PAUSE ms ALL`): commands hang, connections stay up.
    pub fn pause(&self, d: Duration) {
        let ms = d.as_millis().to_string();
        let reply = resp::command(self.port(), &["CLIENT", "PAUSE", &ms, "ALL"])
            .expect("send CLIENT PAUSE");
        assert_eq!(reply, "OK", "CLIENT PAUSE failed: {reply}");
    }

    /// Sends one command with the raw RESP client and returns the reply as text.
    pub fn command(&self, args: &[&str]) -> String {
        resp::command(self.port(), args).expect("send a command to redis")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_answers_ping_dies_and_restarts_on_the_same_port() {
        let mut server = RedisServer::start();
        assert!(resp::ping(server.port()));
        assert_eq!(server.command(&["SET", "k", "v"]), "OK");
        assert_eq!(server.command(&["GET", "k"]), "v");
        let port = server.port();
        server.kill();
        assert!(!resp::ping(port));
        server.restart();
        assert_eq!(server.port(), port);
        assert!(resp::ping(port));
        assert_eq!(server.url(), format!("redis://127.0.0.1:{port}"));
    }
}
