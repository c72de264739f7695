//! A real Prometheus scrapes a short run's endpoint (`--prometheus-listen`), and every panel
//! expression and variable query of every dashboard returns data from it. The scenario
//! exercises what the panels show: two flows, a small L1 (L1 and L2 hits), Redis as L2
//! paused for a while (L2 timeouts), a window of 503s from the identity provider (failures,
//! statuses), tokens that expire within the run (refresh reasons: MSAL treats tokens within 5 minutes of expiry as expired) and populate (bytes per partition).

use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use testkit::{PrometheusServer, RedisServer};

use super::{prometheus_queries, substitute, variable_queries};
use crate::support::{heavy, repo};

const SCRAPE_EVERY: Duration = Duration::from_millis(250);

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

fn scenario(redis_url: &str, port: u16) -> String {
    format!(
        "name: dashboards
seed: 7
duration: 6m
clock: {{ speed: 60 }}
populate: true
authority:
  embedded:
    token_lifetime: 6m
    signing: es256
    latency: {{ median: 5ms, p99: 40ms }}
    faults:
      - {{ name: outage, match: {{ grant_type: client_credentials }}, window: {{ from: 2m, to: 3m }}, probability: 0.5, respond: {{ status: 503 }} }}
cache:
  l1: {{ max_bytes: 8KiB }}
  l2: {{ store: redis, url: \"{redis_url}\", timeout: 50ms, on_failure: miss }}
apps:
  - {{ name: app, client_id: 6f1c2a9e-8a42-4c55-9b1e-2d6b1b0c7a11, secret: s }}
workload:
  - name: daemon
    flow: client_credentials
    tenants: {{ count: 60, pick: uniform }}
    resources: [api://graph/.default]
    arrival: {{ rate: 20/s }}
  - name: web
    flow: web_app
    users: {{ count: 30, tenants: 2 }}
    resources: [api://graph/.default]
    arrival: {{ rate: 5/s }}
telemetry:
  memory_sample_every: 10s
  prometheus: {{ listen: \"127.0.0.1:{port}\", linger: 2s }}
"
    )
}

/// (series count, whether any value is a finite number) of a query_range answer.
fn data(body: &str) -> (usize, bool) {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let result = v
        .pointer("/data/result")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let finite = result.iter().any(|s| {
        s["values"].as_array().into_iter().flatten().any(|p| {
            p[1].as_str()
                .and_then(|x| x.parse::<f64>().ok())
                .is_some_and(f64::is_finite)
        })
    });
    (result.len(), finite)
}

#[test]
fn every_dashboard_query_returns_data_from_a_real_prometheus_scraping_a_run() {
    let _turn = heavy();
    let mut redis = RedisServer::start();
    let port = testkit::free_port();
    let prom = PrometheusServer::start("loadgen", &format!("127.0.0.1:{port}"), SCRAPE_EVERY);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboards.yaml");
    std::fs::write(&file, scenario(&redis.url(), port)).unwrap();
    let start = now();
    let child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["run", file.to_str().unwrap(), "--out"])
        .arg(dir.path().join("out"))
        .current_dir(repo())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run loadgen");

    // Once the measured phase records acquisitions, pause Redis: L2 operations time out.
    let measuring = wait(Duration::from_secs(60), || {
        data(&prom.query_range("tokencache_acquisitions_total", start, now(), 1.0)).0 > 0
    });
    assert!(
        measuring,
        "no acquisitions scraped within 60 s: {}",
        prom.log_tail()
    );
    redis.pause(Duration::from_millis(1500));

    let out = child.wait_with_output().expect("wait for loadgen");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "loadgen failed:\n{stderr}");
    let end = now();
    let scrapes = prom.successful_scrapes("loadgen");
    assert!(scrapes >= 2, "only {scrapes} scrapes: {}", prom.log_tail());
    redis.kill();

    let mut empty = Vec::new();
    let queries = prometheus_queries();
    for q in &queries {
        let expr = substitute(&q.expr, "5s");
        let (series, finite) = data(&prom.query_range(&expr, start, end, 1.0));
        if series == 0 || !finite {
            empty.push(format!(
                "{} / {:?}: {expr} ({series} series, finite value: {finite})",
                q.dashboard, q.panel
            ));
        }
    }
    for (d, name, q) in variable_queries() {
        // label_values(SELECTOR, LABEL): the selector must match a series with the label.
        let inner = q.trim_start_matches("label_values(").trim_end_matches(')');
        let (selector, label) = inner
            .rsplit_once(',')
            .expect("label_values(selector, label)");
        let expr = format!(
            "count by ({}) ({})",
            label.trim(),
            substitute(selector, "5s")
        );
        let body = prom.query_range(&expr, start, end, 1.0);
        let has_label = body.contains(&format!("\"{}\":", label.trim()));
        if data(&body).0 == 0 || !has_label {
            empty.push(format!("{d} / ${name}: {q}"));
        }
    }
    assert!(
        empty.is_empty(),
        "{} of {} dashboard queries returned no data:\n{}\nloadgen stderr:\n{stderr}",
        empty.len(),
        queries.len(),
        empty.join("\n")
    );
}

fn wait(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let t = std::time::Instant::now();
    while t.elapsed() < limit {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}
