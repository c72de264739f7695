//! A failing threshold exits 99, shows ✗ with the observed value, and fails its junit case.

use super::support::{heavy, loadgen, read_json};

#[test]
fn a_failing_threshold_exits_99_with_the_observed_value() {
    let _turn = heavy();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let (code, stdout, stderr) = loadgen(&[
        "run",
        "scenarios/quickstart.yaml",
        "--out",
        &out,
        "--set",
        "duration=20s",
        "--set",
        "workload[0].arrival.rate=100/s",
        "--set",
        r#"thresholds={"token_source.cache_ratio": [">= 1.5"], "acquisitions.failed": ["count == 0"]}"#,
    ]);
    assert_eq!(code, 99, "{stdout}{stderr}");
    assert!(stdout.contains("✗ '>= 1.5' value="), "{stdout}");
    assert!(stdout.contains("✓ 'count == 0' count=0"), "{stdout}");
    assert!(
        stdout.contains("verdict: FAIL (thresholds 1/2 passed)"),
        "{stdout}"
    );
    let r = read_json(&dir.path().join("report.json"));
    super::report_schema::validate(&r);
    assert_eq!(r["verdict"], "fail");
    assert_eq!(r["thresholds"][0]["pass"], false);
    assert!(r["thresholds"][0]["observed"].as_f64().unwrap() <= 1.0);
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<failure").count(), 1, "{junit}");
}
