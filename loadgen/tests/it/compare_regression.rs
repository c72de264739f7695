//! `loadgen compare` and `run --baseline`: a Markdown table, exit 98 on a change beyond its
//! tolerance in the bad direction, tolerances overridable, bad input exit 2.

use serde_json::json;

use super::support::{heavy, loadgen};

fn report(p99: f64, ratio: f64, throughput: f64) -> serde_json::Value {
    json!({
        "schema_version": 1,
        "durations_ms": {"total": {"p50": 0.01, "p99": p99, "p999": 2.0}, "in_cache": {"p99": 0.01}, "in_http": {"p99": 0.0}},
        "token_source": {"cache_ratio": ratio},
        "acquisitions": {"failed": 0},
        "identity_provider": {"requests": 400},
        "memory": {"peak": {"l1_bytes": 400_000, "rss_bytes": 20_000_000}},
        "throughput": {"acquisitions_per_wall_second": throughput},
    })
}

fn write(dir: &std::path::Path, name: &str, v: &serde_json::Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, v.to_string()).unwrap();
    p.display().to_string()
}

#[test]
fn compare_flags_regressions_beyond_tolerance_only() {
    let _turn = heavy();
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "base.json", &report(1.0, 0.99, 10_000.0));
    let same = write(dir.path(), "same.json", &report(1.1, 0.99, 9_000.0));
    let worse = write(dir.path(), "worse.json", &report(1.5, 0.99, 10_000.0));

    let (code, out, err) = loadgen(&["compare", &base, &same]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(
            "| `durations_ms.total.p99` (lower is better) | 1 | 1.1000 | +10.0% | n/a (no histograms in the baseline) | n/a | 20% | ✅ |"
        ),
        "{out}"
    );
    assert!(out.contains("No regression."), "{out}");

    let (code, out, _) = loadgen(&["compare", &base, &worse]);
    assert_eq!(code, 98, "{out}");
    assert!(out.contains("| `durations_ms.total.p99` (lower is better) | 1 | 1.5000 | +50.0% | n/a (no histograms in the baseline) | n/a | 20% | ❌ regression |"), "{out}");
    assert!(out.contains("**1 regression(s).**"), "{out}");

    let (code, out, _) = loadgen(&[
        "compare",
        &base,
        &worse,
        "--tolerance",
        "durations_ms.total.p99=60%",
    ]);
    assert_eq!(code, 0, "{out}");

    let (code, _, err) = loadgen(&[
        "compare",
        &base,
        &worse,
        "--tolerance",
        "durations_ms.totl.p99=60%",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("did you mean \"durations_ms.total.p99\""),
        "{err}"
    );
    let (code, _, err) = loadgen(&["compare", &base, "/nonexistent/report.json"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn run_with_a_better_baseline_exits_98_and_writes_the_comparison() {
    let _turn = heavy();
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "base.json", &report(1.0, 1.0, 1e12));
    let out = dir.path().join("out");
    let (code, stdout, stderr) = loadgen(&[
        "run",
        "scenarios/quickstart.yaml",
        "--out",
        &out.display().to_string(),
        "--set",
        "duration=20s",
        "--set",
        "workload[0].arrival.rate=50/s",
        "--set",
        r#"thresholds={"acquisitions.failed": ["count == 0"]}"#,
        "--baseline",
        &base,
    ]);
    assert_eq!(code, 98, "{stdout}{stderr}");
    let md = std::fs::read_to_string(out.join("comparison.md")).unwrap();
    assert!(
        md.contains("`throughput.acquisitions_per_wall_second` (higher is better)"),
        "{md}"
    );
    assert!(md.contains("❌ regression"), "{md}");
}
