//! OpenTelemetry export of a run, received in process: over OTLP gRPC and HTTP/protobuf the
//! spans and metrics agree with report.json (at sample ratio 1 one `tokencache.acquire` span
//! per acquisition), the Prometheus endpoint serves the same counts, and a dead collector
//! neither hangs the run nor goes unnamed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use loadgen::telemetry::{settings, Telemetry};
use tokencache::metrics as names;

use super::otlp_receiver::{self, attr, counter_sum, histogram_count, Receiver};
use super::support::{heavy, runtime};

/// Tests that trace take turns: the span exporter is switched process-wide.
fn traced() -> std::sync::MutexGuard<'static, ()> {
    heavy()
}

fn scenario(telemetry: &str) -> loadgen::scenario::Scenario {
    let text = format!(
        "name: otel-export
duration: 3s
clock: {{ speed: 10 }}
authority:
  embedded: {{ token_lifetime: 10s, latency: {{ median: 2ms, p99: 5ms }} }}
workload:
  - name: daemon
    flow: client_credentials
    tenants: {{ count: 10, pick: round_robin }}
    resources: [api://x/.default]
    arrival: {{ rate: 40/s }}
telemetry:
{telemetry}"
    );
    loadgen::scenario::parse("otel.yaml", &text, &[]).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `scn` with the settings its keys give (no environment), returns the report json.
async fn run(scn: &loadgen::scenario::Scenario) -> (serde_json::Value, String) {
    let s = settings(&scn.export, &|_| None, None).expect("settings");
    let tel = Telemetry::start(&s, &scn.name, loadgen::telemetry::new_run_id())
        .await
        .expect("telemetry");
    let out = loadgen::run::run_with(scn, std::future::pending(), &tel)
        .await
        .expect("run");
    tel.shutdown().await.expect("export");
    let rep = loadgen::report::build(&loadgen::report::Meta::of(scn), &out);
    (rep.json, out.run_id)
}

fn check_against_report(rx: &Receiver, rep: &serde_json::Value, run_id: &str) {
    let got = rx.0.lock().unwrap();
    let spans = got.spans();
    let total = rep["acquisitions"]["total"].as_u64().unwrap();
    assert!(total > 50, "a run of some size: {total}");
    assert_eq!(rep["acquisitions"]["failed"], 0);

    // One acquire span per acquisition, its attributes agreeing with the report.
    let acquire: Vec<_> = spans
        .iter()
        .filter(|s| s.name == names::span::ACQUIRE)
        .collect();
    assert_eq!(acquire.len() as u64, total, "acquire spans");
    let count_attr = |key: &str, value: &str| {
        acquire
            .iter()
            .filter(|s| attr(&s.attributes, key).as_deref() == Some(value))
            .count() as u64
    };
    for (source, key) in [
        ("cache", "cache"),
        ("identity_provider", "identity_provider"),
    ] {
        assert_eq!(
            count_attr(names::attr::TOKEN_SOURCE, source),
            rep["token_source"][key].as_u64().unwrap(),
            "token_source={source}"
        );
    }
    for level in ["l1", "l2", "none"] {
        assert_eq!(
            count_attr(names::attr::CACHE_LEVEL, level),
            rep["cache_level"][level].as_u64().unwrap(),
            "cache_level={level}"
        );
    }
    assert_eq!(
        count_attr(names::attr::FLOW, "client_credentials"),
        total,
        "flow"
    );

    // Children: each HTTP call and L1 read sits under an acquire span of its trace.
    let by_id: HashMap<&[u8], &otlp_receiver_span::Span> =
        spans.iter().map(|s| (s.span_id.as_slice(), s)).collect();
    let parent_name = |s: &otlp_receiver_span::Span| {
        by_id
            .get(s.parent_span_id.as_slice())
            .map(|p| (p.name.clone(), p.trace_id == s.trace_id))
    };
    let http: Vec<_> = spans
        .iter()
        .filter(|s| s.name == names::span::HTTP)
        .collect();
    assert_eq!(
        http.len() as u64,
        rep["identity_provider"]["requests"].as_u64().unwrap(),
        "one HTTP span per token request"
    );
    for s in &http {
        assert_eq!(
            parent_name(s),
            Some((names::span::ACQUIRE.to_owned(), true)),
            "HTTP span's parent"
        );
    }
    let l1 = spans
        .iter()
        .filter(|s| s.name == names::span::L1_READ)
        .count() as u64;
    assert!(l1 >= total, "an L1 read per acquisition: {l1} < {total}");
    assert!(
        spans.iter().any(|s| s.name == names::span::L2_WRITE),
        "L2 writes traced"
    );
    assert!(
        spans.iter().any(|s| s.name == names::span::CODEC),
        "codec traced"
    );
    // Nothing secret in any attribute (client secret, tokens are JWTs: "eyJ").
    for s in &spans {
        for kv in &s.attributes {
            let v = otlp_receiver::text(&kv.value);
            assert!(
                !v.contains("mock-secret") && !v.contains("eyJ"),
                "secret in span {} attribute {}={v}",
                s.name,
                kv.key
            );
        }
    }

    // Resource: service name, scenario and run id.
    for res in [got.trace_resource(), got.metric_resource()] {
        assert_eq!(attr(&res, "service.name").as_deref(), Some("loadgen"));
        assert_eq!(
            attr(&res, names::attr::SCENARIO).as_deref(),
            Some("otel-export")
        );
        assert_eq!(attr(&res, names::attr::RUN_ID).as_deref(), Some(run_id));
    }
    assert_eq!(rep["run"]["id"], run_id);

    // Metrics: histogram counts and counters agree with the report.
    let m = |name: &str| {
        got.metric(name)
            .unwrap_or_else(|| panic!("metric {name} not received"))
    };
    let (n, bounds) = histogram_count(&m(names::ACQUIRE_DURATION));
    assert_eq!(n, rep["durations_ms"]["total"]["count"].as_u64().unwrap());
    assert_eq!(bounds, names::DURATION_BUCKETS.to_vec());
    let (n, _) = histogram_count(&m(names::CACHE_DURATION));
    assert_eq!(
        n,
        rep["durations_ms"]["in_cache"]["count"].as_u64().unwrap()
    );
    let (n, _) = histogram_count(&m(names::HTTP_DURATION));
    assert_eq!(n, rep["durations_ms"]["in_http"]["count"].as_u64().unwrap());
    let acq = m(names::ACQUISITIONS);
    assert_eq!(counter_sum(&acq, "", ""), total);
    assert_eq!(
        counter_sum(&acq, names::attr::TOKEN_SOURCE, "cache"),
        rep["token_source"]["cache"].as_u64().unwrap()
    );
    assert_eq!(
        counter_sum(&acq, names::attr::WORKLOAD, "daemon"),
        total,
        "loadgen.workload"
    );
    assert_eq!(
        counter_sum(&m(names::IDP_REQUESTS), names::attr::HTTP_STATUS, "200"),
        rep["identity_provider"]["by_status"]["200"]
            .as_u64()
            .unwrap()
    );
    assert!(
        counter_sum(
            &m(names::L2_OPERATIONS),
            names::attr::SCENARIO,
            "otel-export"
        ) > 0,
        "the cache's own counter carries loadgen.scenario"
    );
    for gauge in [names::L1_SIZE, names::L2_SIZE, names::PROCESS_MEMORY] {
        m(gauge);
    }
}

/// The span type, for the parent map's signature.
mod otlp_receiver_span {
    pub use opentelemetry_proto::tonic::trace::v1::Span;
}

#[test]
fn grpc_export_at_ratio_1_has_one_span_per_acquisition_and_metrics_agreeing_with_the_report() {
    let _turn = traced();
    let rt = runtime();
    rt.block_on(async {
        let (rx, addr) = otlp_receiver::grpc().await;
        let scn = scenario(&format!(
            "  traces: {{ endpoint: \"http://{addr}\", protocol: grpc, sample_ratio: 1 }}
  metrics: {{ endpoint: \"http://{addr}\", protocol: grpc, interval: 1h }}
"
        ));
        let (rep, run_id) = run(&scn).await;
        check_against_report(&rx, &rep, &run_id);
    });
}

#[test]
fn http_protobuf_export_agrees_with_the_report_too() {
    let _turn = traced();
    let rt = runtime();
    rt.block_on(async {
        let (rx, addr) = otlp_receiver::http().await;
        let scn = scenario(&format!(
            "  traces: {{ endpoint: \"http://{addr}\", protocol: http/protobuf }}
  metrics: {{ endpoint: \"http://{addr}\", protocol: http/protobuf, interval: 1h }}
"
        ));
        let (rep, run_id) = run(&scn).await;
        {
            let got = rx.0.lock().unwrap();
            assert!(
                got.paths.iter().any(|p| p == "/v1/traces"),
                "{:?}",
                got.paths
            );
            assert!(
                got.paths.iter().any(|p| p == "/v1/metrics"),
                "{:?}",
                got.paths
            );
        }
        check_against_report(&rx, &rep, &run_id);
    });
}

#[test]
fn a_small_sample_ratio_traces_about_that_share_and_the_same_ones_every_time() {
    let _turn = traced();
    let rt = runtime();
    let count = || {
        rt.block_on(async {
            let (rx, addr) = otlp_receiver::grpc().await;
            let scn = scenario(&format!(
                "  traces: {{ endpoint: \"http://{addr}\", sample_ratio: 0.25 }}\n"
            ));
            let (rep, _) = run(&scn).await;
            let got = rx.0.lock().unwrap();
            let n = got
                .spans()
                .iter()
                .filter(|s| s.name == names::span::ACQUIRE)
                .count() as u64;
            (n, rep["acquisitions"]["total"].as_u64().unwrap())
        })
    };
    let (a, total) = count();
    let (b, _) = count();
    assert_eq!(a, b, "seeded: the same number of acquisitions traced");
    let share = a as f64 / total as f64;
    assert!(
        (0.1..0.4).contains(&share),
        "ratio 0.25 traced {a} of {total}"
    );
}

/// GET /metrics over a plain TCP connection.
async fn scrape(addr: SocketAddr) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).await.unwrap();
    assert!(
        body.starts_with("HTTP/1.0 200") || body.starts_with("HTTP/1.1 200"),
        "{body}"
    );
    body
}

/// Sum of the samples of `metric` (exact name) whose labels contain `label`.
fn prom_sum(text: &str, metric: &str, label: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.starts_with(metric) && l[metric.len()..].starts_with('{') && l.contains(label)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Runs `scn` (which serves Prometheus on a free port), scrapes the endpoint once the run
/// is over and shuts telemetry down: (report json, scraped text, run id, endpoint address).
async fn run_scraped(
    scn: &loadgen::scenario::Scenario,
) -> (serde_json::Value, String, String, SocketAddr) {
    let s = settings(&scn.export, &|_| None, None).unwrap();
    let tel = Telemetry::start(&s, &scn.name, loadgen::telemetry::new_run_id())
        .await
        .unwrap();
    let addr = tel.prometheus_addr().expect("listening");
    let out = loadgen::run::run_with(scn, std::future::pending(), &tel)
        .await
        .unwrap();
    let text = scrape(addr).await;
    tel.shutdown().await.unwrap();
    let rep = loadgen::report::build(&loadgen::report::Meta::of(scn), &out).json;
    (rep, text, out.run_id, addr)
}

#[test]
fn the_prometheus_endpoint_serves_the_runs_metrics_under_prometheus_names() {
    let _turn = heavy();
    let rt = runtime();
    rt.block_on(async {
        let scn = scenario("  prometheus: { listen: \"127.0.0.1:0\" }\n");
        let (rep, text, run_id, addr) = run_scraped(&scn).await;
        let total = rep["acquisitions"]["total"].as_f64().unwrap();
        assert_eq!(
            prom_sum(
                &text,
                "tokencache_acquisitions_total",
                "loadgen_workload=\"daemon\""
            ),
            total,
            "{text}"
        );
        assert_eq!(
            prom_sum(
                &text,
                "tokencache_acquisitions_total",
                "tokencache_token_source=\"identity_provider\""
            ),
            rep["token_source"]["identity_provider"].as_f64().unwrap()
        );
        assert_eq!(
            prom_sum(&text, "tokencache_acquire_duration_seconds_count", ""),
            total
        );
        assert_eq!(
            prom_sum(
                &text,
                "tokencache_acquire_duration_seconds_bucket",
                "le=\"+Inf\""
            ),
            total
        );
        assert_eq!(
            prom_sum(
                &text,
                "tokencache_idp_requests_total",
                "oauth_grant_type=\"client_credentials\""
            ),
            rep["identity_provider"]["requests"].as_f64().unwrap()
        );
        assert!(
            text.contains("# TYPE tokencache_l2_size_bytes gauge"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE process_memory_usage_bytes gauge"),
            "{text}"
        );
        assert!(
            text.contains(&format!("loadgen_run_id=\"{run_id}\"")),
            "target_info carries the run id"
        );
        // The endpoint is gone after shutdown.
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    });
}

/// A web app's acquisitions carry `tokencache.flow` one by one: `authorization_code` for its
/// sign-ins (as many as the identity provider saw code redemptions), `silent` for the rest.
#[test]
fn a_web_apps_acquisitions_carry_the_flow_of_each_call() {
    let _turn = heavy();
    let rt = runtime();
    rt.block_on(async {
        let text = "name: otel-web
duration: 6s
clock: { speed: 10 }
authority:
  embedded: { token_lifetime: 10s, latency: { median: 2ms, p99: 5ms } }
workload:
  - name: web
    flow: web_app
    users: { count: 20, tenants: 2, pick: round_robin }
    resources: [api://graph/.default, api://files/.default]
    session: { requests: { mean: 4 }, think_time: 1s, sign_out: true }
    arrival: { rate: 5/s }
telemetry:
  prometheus: { listen: \"127.0.0.1:0\" }
";
        let scn = loadgen::scenario::parse("web.yaml", text, &[]).unwrap_or_else(|e| panic!("{e}"));
        let (rep, text, _, _) = run_scraped(&scn).await;
        let ok = rep["acquisitions"]["total"].as_f64().unwrap()
            - rep["acquisitions"]["failed"].as_f64().unwrap();
        let sign_ins = rep["identity_provider"]["by_grant_type"]["authorization_code"]
            .as_f64()
            .unwrap_or(0.0);
        let flow = |f: &str| {
            prom_sum(
                &text,
                "tokencache_acquisitions_total",
                &format!("tokencache_flow=\"{f}\""),
            )
        };
        assert!(sign_ins > 0.0, "{}", rep["identity_provider"]);
        assert_eq!(flow("authorization_code"), sign_ins, "{text}");
        assert!(flow("silent") > 0.0, "{text}");
        assert_eq!(flow("authorization_code") + flow("silent"), ok, "{text}");
        // Every duration sample of the workload names its flow.
        for l in text
            .lines()
            .filter(|l| l.starts_with("tokencache_acquire_duration_seconds_count{"))
        {
            assert!(l.contains("tokencache_flow=\""), "{l}");
        }
    });
}

#[test]
fn a_dead_collector_neither_hangs_the_run_nor_goes_unnamed() {
    let _turn = traced();
    let rt = runtime();
    rt.block_on(async {
        // A port nothing listens on.
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let scn = scenario(&format!(
            "  traces: {{ endpoint: \"http://{dead}\" }}
  metrics: {{ endpoint: \"http://{dead}\", interval: 1h }}
"
        ));
        let s = settings(&scn.export, &|_| None, None).unwrap();
        let tel = Telemetry::start(&s, &scn.name, loadgen::telemetry::new_run_id())
            .await
            .unwrap();
        let out = loadgen::run::run_with(&scn, std::future::pending(), &tel)
            .await
            .unwrap();
        assert!(out.workloads[0].counts.acquisitions > 50);
        let t0 = Instant::now();
        let err = tel
            .shutdown()
            .await
            .expect_err("export to a dead collector fails");
        assert!(
            t0.elapsed() < loadgen::telemetry::SHUTDOWN_LIMIT * 2 + Duration::from_secs(2),
            "shutdown took {:?}",
            t0.elapsed()
        );
        let msg = format!("{err:#}");
        assert!(msg.contains(&format!("http://{dead}")), "{msg}");
    });
}

const BAD_TELEMETRY: &str = r#"name: bad-telemetry
duration: 10s
workload:
  - name: daemon
    flow: client_credentials
    tenants: { count: 10 }
    resources: [api://x/.default]
    arrival: { rate: 10/s }
telemetry:
  traces: { endpoint: "localhost:4317", protocol: grcp, sample_ratio: 1.5 }
  metrics: { interval: 0s, endpont: "http://x:4317" }
  prometheus: { listen: "nine" }
"#;

#[test]
fn bad_telemetry_keys_are_reported_with_their_position_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, BAD_TELEMETRY).unwrap();
    let f = file.display().to_string();
    let (code, _, stderr) = super::support::loadgen(&["validate", &f]);
    assert_eq!(code, 2, "{stderr}");
    for expected in [
        format!("{f}:10:23: telemetry.traces.endpoint: \"localhost:4317\" is not an http:// or https:// URL"),
        format!("{f}:10:51: telemetry.traces.protocol: unknown value \"grcp\" (did you mean \"grpc\"?)"),
        format!("{f}:10:71: telemetry.traces.sample_ratio: 1.5 must be between 0 and 1"),
        format!("{f}:11:24: telemetry.metrics.interval: must be greater than zero"),
        format!("{f}:11:28: telemetry.metrics.endpont: unknown key \"endpont\" (did you mean \"endpoint\"?)"),
        format!("{f}:12:25: telemetry.prometheus.listen: \"nine\" is not a listen address"),
    ] {
        assert!(stderr.contains(&expected), "missing {expected:?} in:\n{stderr}");
    }
}

#[test]
fn bad_telemetry_flags_and_variables_exit_2_naming_them() {
    let (code, _, stderr) = super::support::loadgen(&[
        "run",
        "scenarios/quickstart.yaml",
        "--prometheus-listen",
        "localhost",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--prometheus-listen \"localhost\" is not a listen address"),
        "{stderr}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["run", "scenarios/quickstart.yaml"])
        .current_dir(super::support::repo())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "json")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr
            .contains("OTEL_EXPORTER_OTLP_PROTOCOL=\"json\": expected one of grpc, http/protobuf"),
        "{stderr}"
    );
}
