//! A private `prometheus` (Debian package `prometheus`) on a free loopback port, scraping one
//! target every `scrape_interval`, with its TSDB in a temporary directory.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::http;
use crate::proc::{kill_child, require_binary, tail, wait_until, Watchdog};
use crate::{free_port, START_ATTEMPTS};

const READY_LIMIT: Duration = Duration::from_secs(20);
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// A Prometheus server for one test. Dropping it kills the server and removes its data.
#[derive(Debug)]
pub struct PrometheusServer {
    port: u16,
    child: Child,
    _watchdog: Option<Watchdog>,
    dir: tempfile::TempDir,
}

impl PrometheusServer {
    /// Starts `prometheus` on a free 127.0.0.1 port scraping `target` (`host:port`, path
    /// `/metrics`) as job `job` every `scrape_interval`, and waits until it is ready.
    ///
    /// Panics with the install command when `prometheus` is missing, and with its log when
    /// it does not come up.
    pub fn start(job: &str, target: &str, scrape_interval: Duration) -> Self {
        let bin = require_binary("prometheus", "prometheus");
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            let dir = tempfile::Builder::new()
                .prefix("testkit-prometheus-")
                .tempdir()
                .expect("create a temporary directory for prometheus");
            match spawn(&bin, dir.path(), job, target, scrape_interval) {
                Ok((port, child)) => {
                    let watchdog = Watchdog::arm(&format!(
                        "kill -9 {}; rm -rf '{}'",
                        child.id(),
                        dir.path().display()
                    ));
                    return PrometheusServer {
                        port,
                        child,
                        _watchdog: watchdog,
                        dir,
                    };
                }
                Err(e) => last = e,
            }
        }
        panic!("prometheus did not start after {START_ATTEMPTS} attempts: {last}");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `GET /api/v1/query?query=EXPR` (instant query, now): the JSON body. Panics with the
    /// server's answer when the status is not 200 (a PromQL error is a 400 naming it).
    pub fn query(&self, expr: &str) -> String {
        let path = format!("/api/v1/query?query={}", http::encode_query_value(expr));
        let r = http::get(self.port, &path, HTTP_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status, 200, "query {expr:?}: {}", r.body);
        r.body
    }

    /// `GET /api/v1/query_range` over `[start, end]` (Unix seconds) every `step_s` seconds:
    /// the JSON body, as a Grafana time-series panel asks. Panics like [`Self::query`].
    pub fn query_range(&self, expr: &str, start: f64, end: f64, step_s: f64) -> String {
        let path = format!(
            "/api/v1/query_range?query={}&start={start:.3}&end={end:.3}&step={step_s}",
            http::encode_query_value(expr)
        );
        let r = http::get(self.port, &path, HTTP_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status, 200, "query_range {expr:?}: {}", r.body);
        r.body
    }

    /// Successful scrapes of `job` so far (`sum_over_time(up{job=...}[1h])`).
    pub fn successful_scrapes(&self, job: &str) -> u64 {
        let body = self.query(&format!("sum_over_time(up{{job=\"{job}\"}}[1h])"));
        // {"status":"success","data":{"resultType":"vector","result":[{"metric":{..},"value":[t,"N"]}]}}
        body.rsplit_once("\"value\":[")
            .and_then(|(_, v)| v.split('"').nth(1))
            .and_then(|n| n.parse::<f64>().ok())
            .map_or(0, |n| n as u64)
    }

    /// The last lines of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        tail(&log_path(self.dir.path()), 20)
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        kill_child(&mut self.child);
    }
}

fn log_path(dir: &Path) -> PathBuf {
    dir.join("prometheus.log")
}

fn spawn(
    bin: &Path,
    dir: &Path,
    job: &str,
    target: &str,
    every: Duration,
) -> Result<(u16, Child), String> {
    let config = dir.join("prometheus.yml");
    let ms = every.as_millis().max(1);
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: {ms}ms\n  scrape_timeout: {ms}ms\n\
             scrape_configs:\n  - job_name: {job}\n    static_configs:\n      - targets: [\"{target}\"]\n"
        ),
    )
    .map_err(|e| format!("write {}: {e}", config.display()))?;
    let port = free_port();
    let log = File::create(log_path(dir)).map_err(|e| format!("create prometheus log: {e}"))?;
    let log_err = log.try_clone().map_err(|e| e.to_string())?;
    let mut child = Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| format!("spawn prometheus: {e}"))?;
    let mut exited = None;
    let ready = wait_until(READY_LIMIT, || {
        if let Ok(Some(status)) = child.try_wait() {
            exited = Some(status);
            return true;
        }
        http::get(port, "/-/ready", Duration::from_secs(1)).is_ok_and(|r| r.status == 200)
    });
    if let Some(status) = exited {
        return Err(format!(
            "prometheus on port {port} exited ({status}):\n{}",
            tail(&log_path(dir), 15)
        ));
    }
    if !ready {
        kill_child(&mut child);
        return Err(format!(
            "prometheus on port {port} was not ready within {READY_LIMIT:?}:\n{}",
            tail(&log_path(dir), 15)
        ));
    }
    Ok((port, child))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// Serves `demo_value 42` on /metrics from a thread until the process ends.
    fn tiny_exporter() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut s in listener.incoming().flatten() {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let body = "# TYPE demo_value gauge\ndemo_value 42\n";
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        port
    }

    #[test]
    fn scrapes_its_target_and_answers_queries() {
        let target = tiny_exporter();
        let prom = PrometheusServer::start(
            "demo",
            &format!("127.0.0.1:{target}"),
            Duration::from_millis(200),
        );
        let scraped = wait_until(Duration::from_secs(15), || {
            prom.successful_scrapes("demo") >= 2
        });
        assert!(scraped, "no scrapes: {}", prom.log_tail());
        let body = prom.query("demo_value");
        assert!(body.contains("\"42\""), "{body}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let range = prom.query_range("demo_value * 2", now - 30.0, now, 1.0);
        assert!(
            range.contains("\"matrix\"") && range.contains("\"84\""),
            "{range}"
        );
    }

    #[test]
    fn a_bad_query_names_the_promql_error() {
        let prom = PrometheusServer::start("demo", "127.0.0.1:1", Duration::from_secs(1));
        let e = std::panic::catch_unwind(|| prom.query("sum(")).unwrap_err();
        let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            msg.contains("query \"sum(\"") && msg.contains("bad_data"),
            "{msg}"
        );
    }
}
