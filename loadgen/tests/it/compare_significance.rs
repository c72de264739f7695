//! `loadgen compare` with the Mann-Whitney U test on the embedded histograms: two runs of one
//! scenario with different seeds are not a regression; a run whose identity provider got
//! slower is one, with a tiny p-value.

use super::support::{heavy, loadgen, read_json};

/// Every acquisition goes to the embedded mock (no L1, no L2), whose latency (100-200 ms, in
/// real time) dwarfs the scheduling noise of a busy shared machine: 500 acquisitions in 5 s.
const SCENARIO: &str = r#"
name: utest
seed: 1
duration: 5s
clock: { speed: 1 }
authority:
  embedded:
    latency: { uniform: [100ms, 200ms] }
cache:
  l1: disabled
  l2: { store: none }
  single_flight: false
workload:
  - name: daemon
    flow: client_credentials
    tenants: { count: 20 }
    resources: [api://graph/.default]
    arrival: { rate: 100/s }
"#;

fn run(dir: &std::path::Path, name: &str, sets: &[&str]) -> String {
    let scn = dir.join("utest.yaml");
    std::fs::write(&scn, SCENARIO).unwrap();
    let out = dir.join(name);
    let mut args = vec![
        "run".to_owned(),
        scn.display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    for s in sets {
        args.extend(["--set".to_owned(), (*s).to_owned()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = loadgen(&args);
    assert_eq!(code, 0, "{stdout}{stderr}");
    out.join("report.json").display().to_string()
}

/// The p-value cell of a row: `| `metric` (...) | b | c | change | p (n=..) | ...`.
fn p_of(md: &str, metric: &str) -> f64 {
    let row = md
        .lines()
        .find(|l| l.starts_with(&format!("| `{metric}`")))
        .unwrap_or_else(|| panic!("no row {metric} in\n{md}"));
    let cell = row.split('|').nth(5).unwrap().trim();
    cell.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn same_scenario_other_seed_is_no_regression_and_injected_latency_is_one() {
    let _turn = heavy();
    let dir = tempfile::tempdir().unwrap();
    let a = run(dir.path(), "a", &[]);
    let b = run(dir.path(), "b", &["seed=2"]);
    let slow = run(
        dir.path(),
        "slow",
        &["authority.embedded.latency={uniform: [150ms, 300ms]}"],
    );
    for r in [&a, &b, &slow] {
        let v = read_json(std::path::Path::new(r));
        assert_eq!(v["acquisitions"]["total"], 500, "{v}");
        assert_eq!(v["token_source"]["identity_provider"], 500, "{v}");
    }

    // DurationInCache is the harness's own CPU time (tens of microseconds), which other
    // processes on a shared machine can shift between two runs: only the scenario's
    // latencies are held to their tolerances here.
    let (code, md, err) = loadgen(&[
        "compare",
        &a,
        &b,
        "--tolerance",
        "durations_ms.in_cache.p99=1000%",
    ]);
    assert_eq!(code, 0, "{md}{err}");
    assert!(md.contains("No regression."), "{md}");
    assert!(md.contains("(n=500+500)"), "{md}");
    assert!(md.contains("Mann-Whitney U"), "{md}");

    let (code, md, err) = loadgen(&["compare", &a, &slow]);
    assert_eq!(code, 98, "{md}{err}");
    let p = p_of(&md, "durations_ms.total.p50");
    assert!(p < 1e-10, "p = {p}\n{md}");
    let row = md
        .lines()
        .find(|l| l.starts_with("| `durations_ms.total.p50`"))
        .unwrap();
    assert!(row.ends_with("❌ regression |"), "{row}");
    // Cliff's δ: the slower run's samples are mostly above the baseline's.
    let effect = row.split('|').nth(6).unwrap().trim();
    let delta: f64 = effect.split_whitespace().next().unwrap().parse().unwrap();
    assert!(delta > 0.3, "{row}");

    // The same change tested at an absurdly strict level is not significant: the tolerance
    // alone no longer makes it a regression.
    let (code, md, err) = loadgen(&["compare", &a, &slow, "--alpha", "1e-300"]);
    assert_eq!(code, 0, "{md}{err}");
    assert!(md.contains("~ (not significant)"), "{md}");

    let (code, _, err) = loadgen(&["compare", &a, &slow, "--alpha", "2"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--alpha"), "{err}");
}

#[test]
fn a_broken_embedded_histogram_is_invalid_input_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"schema_version": 1, "histograms": {"total": "%%not base64"}}"#,
    )
    .unwrap();
    let bad = bad.display().to_string();
    let (code, out, err) = loadgen(&["compare", &bad, &bad]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("baseline: histograms.total"), "{err}");
    // run --baseline refuses before running.
    let t0 = std::time::Instant::now();
    let (code, out, err) = loadgen(&["run", "scenarios/quickstart.yaml", "--baseline", &bad]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("histograms.total"), "{err}");
    assert!(t0.elapsed() < std::time::Duration::from_secs(5));
}
