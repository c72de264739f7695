//! A private PostgreSQL cluster (`initdb` + `pg_ctl` from the Debian package) on a free
//! loopback port, with trust auth for user `postgres` and a database `tokenscope`.
//!
//! `initdb` refuses to run as root: when the tests run as root, the directory is handed to the
//! `postgres` user and every server command runs through `runuser -u postgres --`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::proc::{is_root, run, tail, wait_until, Watchdog};
use crate::{free_port, START_ATTEMPTS};

const INSTALL: &str = "run scripts/test.sh --setup (or apt-get install -y postgresql)";
/// The database created in every cluster.
pub const DATABASE: &str = "tokenscope";

/// A PostgreSQL server for one test. Dropping it stops the server and removes its files.
#[derive(Debug)]
pub struct Postgres {
    port: u16,
    bin: PathBuf,
    as_postgres: bool,
    running: bool,
    /// Stops the server and removes its files if the test process dies without dropping us.
    watchdog: Option<Watchdog>,
    dir: tempfile::TempDir,
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding initdb, pg_ctl and postgres.
fn bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            ["initdb", "pg_ctl", "postgres"]
                .iter()
                .all(|b| bin.join(b).is_file())
                .then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found under /usr/lib/postgresql/*/bin: {INSTALL}"),
    }
}

impl Postgres {
    /// Runs `initdb`, starts the server on a free 127.0.0.1 port and creates the database.
    ///
    /// Panics with the install command when PostgreSQL is missing, and with the server log
    /// when it does not start after a few ports.
    pub fn start() -> Self {
        let bin = bin_dir();
        let as_postgres = is_root();
        if as_postgres && crate::proc::which("runuser").is_none() {
            panic!("running as root needs runuser to start PostgreSQL as user postgres: apt-get install -y util-linux");
        }
        let dir = tempfile::Builder::new()
            .prefix("testkit-postgres-")
            .tempdir()
            .expect("create a temporary directory for postgres");
        std::fs::create_dir_all(dir.path().join("sock")).expect("create the socket directory");
        if as_postgres {
            run(
                Command::new("chown")
                    .arg("-R")
                    .arg("postgres:postgres")
                    .arg(dir.path()),
                "chown the postgres directory",
            );
        }
        let mut pg = Postgres {
            port: 0,
            bin,
            as_postgres,
            running: false,
            watchdog: None,
            dir,
        };
        let data = pg.data_dir();
        let mut initdb = pg.command("initdb");
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "-N"]);
        run(&mut initdb, "initdb");
        pg.watchdog = Watchdog::arm(&pg.cleanup_script());

        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            pg.port = free_port();
            match pg.try_start() {
                Ok(()) => {
                    pg.create_database();
                    return pg;
                }
                Err(e) => last = e,
            }
        }
        panic!("postgres did not start after {START_ATTEMPTS} attempts: {last}");
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// A command for a PostgreSQL binary, run as user postgres when we are root.
    fn command(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        cmd.current_dir(self.dir.path());
        cmd
    }

    /// Shell snippet stopping the server and removing the directory (for the watchdog).
    fn cleanup_script(&self) -> String {
        let pg_ctl = self.bin.join("pg_ctl");
        let run_as = if self.as_postgres {
            "runuser -u postgres -- "
        } else {
            ""
        };
        format!(
            "{run_as}'{}' -D '{}' -m immediate -w stop; rm -rf '{}'",
            pg_ctl.display(),
            self.data_dir().display(),
            self.dir.path().display()
        )
    }

    fn pg_ctl(&self, args: &[&str]) -> std::io::Result<Output> {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("-D").arg(self.data_dir()).args(args);
        cmd.output()
    }

    fn try_start(&mut self) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c full_page_writes=off -c shared_buffers=16MB -c max_connections=40",
            self.port,
            self.dir.path().join("sock").display()
        );
        let log = self.log_path();
        let out = self
            .pg_ctl(&[
                "-w",
                "-t",
                "20",
                "-o",
                &options,
                "-l",
                path_str(&log),
                "start",
            ])
            .map_err(|e| format!("cannot run pg_ctl: {e}"))?;
        if !out.status.success() {
            // A half-started server must not linger before the next attempt.
            let _ = self.pg_ctl(&["-m", "immediate", "-w", "stop"]);
            return Err(format!(
                "pg_ctl start on port {} failed: {}{}\n{}",
                self.port,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                tail(&log, 15)
            ));
        }
        let port = self.port;
        if !wait_until(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        }) {
            return Err(format!("postgres on port {port} does not accept TCP"));
        }
        self.running = true;
        Ok(())
    }

    fn create_database(&self) {
        let mut createdb = self.command("createdb");
        if !self.bin.join("createdb").is_file() {
            createdb = Command::new("createdb");
        }
        createdb.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
            DATABASE,
        ]);
        run(&mut createdb, "createdb");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:PORT/tokenscope` (trust auth, no password).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{DATABASE}", self.port)
    }

    /// Stops the server abruptly (`pg_ctl stop -m immediate`, like a crash).
    pub fn kill(&mut self) {
        if self.running {
            let _ = self.pg_ctl(&["-m", "immediate", "-w", "-t", "20", "stop"]);
            self.running = false;
        }
    }

    /// Starts the server again on the same port with the same data (crash recovery runs).
    pub fn restart(&mut self) {
        self.kill();
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            match self.try_start() {
                Ok(()) => return,
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        panic!("postgres did not restart on port {}: {last}", self.port);
    }

    pub fn is_running(&self) -> bool {
        self.running
    }

    /// The directory holding the data, socket and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.watchdog = None;
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_accepts_tcp_and_restarts_on_the_same_port() {
        let mut pg = Postgres::start();
        let port = pg.port();
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        assert!(pg.url().ends_with(&format!(":{port}/tokenscope")));
        pg.kill();
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
        pg.restart();
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    }
}
