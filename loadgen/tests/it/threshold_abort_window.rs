//! abortOnFail stops a run early (exit 99, the report says which threshold and when); a
//! window threshold fails when one window fails even though the whole run passes; bad
//! forms of both are scenario errors with their positions.

use std::time::Duration;

use super::support::{heavy, loadgen, read_json};

/// Every acquisition goes to the embedded mock (no L1, no L2): 20/s for 60 s of virtual time
/// at speed 10 (6 s of wall time), intervals of 5 s.
const SLOW_IDP: &str = r#"
name: abort
duration: 60s
clock: { speed: 10 }
authority:
  embedded:
    latency: { fixed: 100ms }
cache:
  l1: disabled
  l2: { store: none }
workload:
  - name: daemon
    flow: client_credentials
    tenants: { count: 10 }
    resources: [api://graph/.default]
    arrival: { rate: 20/s }
telemetry: { interval: 5s }
thresholds:
  "duration_total":
    - { threshold: "p(99) < 1ms", abortOnFail: true, delayAbortEval: 10s }
  "acquisitions.failed": ["count == 0"]
"#;

#[test]
fn an_abort_on_fail_threshold_stops_the_run_early() {
    let _turn = heavy();
    let dir = tempfile::tempdir().unwrap();
    let scn = dir.path().join("abort.yaml");
    std::fs::write(&scn, SLOW_IDP).unwrap();
    let out = dir.path().join("out");
    let t0 = std::time::Instant::now();
    let (code, stdout, stderr) = loadgen(&[
        "run",
        &scn.display().to_string(),
        "--out",
        &out.display().to_string(),
    ]);
    let wall = t0.elapsed();
    assert_eq!(code, 99, "{stdout}{stderr}");
    // 60 s of virtual time is 6 s of wall time; the abort comes at the 10 s boundary (1 s).
    assert!(wall < Duration::from_secs(4), "took {wall:?}");
    let r = read_json(&out.join("report.json"));
    super::report_schema::validate(&r);
    let a = &r["run"]["aborted"];
    assert_eq!(a["metric"], "duration_total", "{a}");
    assert_eq!(a["expr"], "p(99) < 1ms", "{a}");
    // Not before delayAbortEval, and at the first boundary after it.
    assert_eq!(a["at_virtual_s"].as_f64(), Some(10.0), "{a}");
    assert!(a["observed"].as_f64().unwrap() > 1.0, "{a}");
    let virt = r["run"]["virtual_seconds"].as_f64().unwrap();
    assert!((10.0..15.0).contains(&virt), "virtual seconds {virt}");
    let n = r["acquisitions"]["total"].as_u64().unwrap();
    assert!(
        (150..=300).contains(&n),
        "{n} acquisitions (1,200 for the whole run)"
    );
    assert_eq!(r["verdict"], "fail");
    assert_eq!(r["thresholds"][0]["aborted"], true, "{}", r["thresholds"]);
    assert_eq!(r["thresholds"][0]["pass"], false);
    assert_eq!(r["thresholds"][1]["pass"], true);
    assert!(
        stdout.contains("ABORTED at 10s (virtual) by duration_total 'p(99) < 1ms'"),
        "{stdout}"
    );
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("(aborted the run)"), "{junit}");
}

/// Fast identity provider except a fault window [20 s, 30 s) of the measured phase where it
/// answers 500 ms late.
const FAULT_WINDOW: &str = r#"
name: windows
duration: 60s
clock: { speed: 10 }
authority:
  embedded:
    latency: { fixed: 10ms }
    faults:
      - { name: slow, window: { from: 20s, to: 30s }, respond: { delay: 500ms } }
cache:
  l1: disabled
  l2: { store: none }
  # Every acquisition makes its own request (no joining a request already under way).
  single_flight: false
workload:
  - name: daemon
    flow: client_credentials
    tenants: { count: 10 }
    resources: [api://graph/.default]
    arrival: { rate: 20/s }
telemetry: { interval: 10s }
thresholds:
  "duration_total{window=10s}": ["p(50) < 20ms", "p(5) < 20ms"]
  "duration_total": ["p(50) < 20ms"]
"#;

#[test]
fn a_window_threshold_fails_on_the_one_bad_window() {
    let _turn = heavy();
    let dir = tempfile::tempdir().unwrap();
    let scn = dir.path().join("windows.yaml");
    std::fs::write(&scn, FAULT_WINDOW).unwrap();
    let out = dir.path().join("out");
    let (code, stdout, stderr) = loadgen(&[
        "run",
        &scn.display().to_string(),
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(code, 99, "{stdout}{stderr}");
    let r = read_json(&out.join("report.json"));
    super::report_schema::validate(&r);
    let w = &r["thresholds"][0];
    assert_eq!(w["metric"], "duration_total{window=10s}");
    assert_eq!(w["pass"], false, "{w}");
    assert_eq!(w["windows_failed"], 1, "{w}");
    assert_eq!(w["window"]["from_s"].as_f64(), Some(20.0), "{w}");
    assert_eq!(w["window"]["to_s"].as_f64(), Some(30.0), "{w}");
    // The slow window's median is the fault's 500 ms (50 ms of wall time at speed 10).
    assert!(w["observed"].as_f64().unwrap() > 40.0, "{w}");
    // The fault window lines up with the measured phase's windows: in [20 s, 30 s) even
    // the 5th percentile is slow, and no other window has a slow 5th percentile.
    let p5 = &r["thresholds"][1];
    assert_eq!(p5["windows_failed"], 1, "{p5}");
    assert_eq!(p5["window"]["from_s"].as_f64(), Some(20.0), "{p5}");
    // Over the whole run, 5 windows of 6 are fast: the same expression passes.
    let whole = &r["thresholds"][2];
    assert_eq!(whole["pass"], true, "{whole}");
    assert!(whole["observed"].as_f64().unwrap() < 20.0, "{whole}");
    assert!(
        stdout.contains("in window 20s..30s (1 window(s) failed)"),
        "{stdout}"
    );
}

fn errors_of(thresholds: &str) -> String {
    let text = format!(
        "name: t\nduration: 10s\nworkload:\n  - name: daemon\n    flow: client_credentials\n    tenants: {{ count: 1 }}\n    resources: [api://x/.default]\n    arrival: {{ rate: 1/s }}\ntelemetry: {{ interval: 10s }}\nthresholds:\n{thresholds}"
    );
    loadgen::scenario::parse("t.yaml", &text, &[])
        .map(|_| String::new())
        .unwrap_or_else(|e| e.to_string())
}

#[test]
fn bad_abort_and_window_forms_are_scenario_errors_with_positions() {
    let e = errors_of(
        "  \"duration_total\":\n    - { threshold: \"p(99) < 5ms\", abortOnFial: true }\n",
    );
    assert!(e.contains("t.yaml:12:35: thresholds.\"duration_total\"[0].abortOnFial: unknown key \"abortOnFial\" (did you mean \"abortOnFail\"?)"), "{e}");
    let e = errors_of(
        "  \"duration_total\":\n    - { threshold: \"p(99) < 5ms\", delayAbortEval: 10s }\n",
    );
    assert!(e.contains("t.yaml:12:"), "{e}");
    assert!(
        e.contains("delayAbortEval only applies with abortOnFail: true"),
        "{e}"
    );
    let e = errors_of("  \"duration_total\":\n    - { abortOnFail: true }\n");
    assert!(e.contains("missing required key \"threshold\""), "{e}");
    let e = errors_of(
        "  \"duration_total\":\n    - { threshold: \"p(99) < 5ms\", abortOnFail: yes please }\n",
    );
    assert!(e.contains("abortOnFail"), "{e}");
    let e = errors_of("  \"duration_total{window=15s}\": [\"p(99) < 5ms\"]\n");
    assert!(e.contains("t.yaml:11:3:"), "{e}");
    assert!(
        e.contains("not a whole multiple of telemetry.interval"),
        "{e}"
    );
    let e = errors_of("  \"token_source.cache_ratio{window=10s}\": [\">= 0.9\"]\n");
    assert!(e.contains("has no windows"), "{e}");
    let e = errors_of("  \"duration_total{window=20s}\":\n    - { threshold: \"p(99) < 5ms\", abortOnFail: true, delayAbortEval: 10s }\n");
    assert_eq!(e, "", "a valid window + abort threshold");
}
