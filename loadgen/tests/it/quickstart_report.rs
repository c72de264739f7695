//! `loadgen run` of the quickstart (shortened with --set): exit 0, and report.json carries
//! every stable key of DESIGN §4 with numbers that add up; the other artefacts are written.

use serde_json::Value;

use super::support::{heavy, loadgen, read_json};

fn u(v: &Value, path: &str) -> u64 {
    v.pointer(path)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{path} missing in report"))
}

const DIST_KEYS: [&str; 8] = ["count", "min", "mean", "p50", "p90", "p99", "p999", "max"];

#[test]
fn quickstart_runs_and_its_report_has_every_stable_key_and_consistent_numbers() {
    let _turn = heavy();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let (code, stdout, stderr) = loadgen(&[
        "run",
        "scenarios/quickstart.yaml",
        "--out",
        &out,
        "--set",
        "duration=3m",
        "--set",
        "workload[0].arrival.rate=100/s",
        // Limits a debug build meets on a busy machine (the file's own are for release): on a
        // starved CPU the mock's answers span more virtual time, and every request that joins a
        // token request in flight counts as an identity-provider acquisition (0.938 measured
        // at load average 8).
        "--set",
        r#"thresholds={"token_source.cache_ratio": [">= 0.9"], "acquisitions.failed": ["rate < 0.001"], "duration_in_cache": ["p(99) < 1s"]}"#,
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("THRESHOLDS") && stdout.contains("✓ '>= 0.9'"),
        "{stdout}"
    );
    assert!(stdout.contains("verdict: PASS"), "{stdout}");

    let r = read_json(&dir.path().join("report.json"));
    super::report_schema::validate(&r);
    for key in [
        "/schema_version",
        "/scenario/name",
        "/scenario/file",
        "/run/started_at",
        "/run/wall_seconds",
        "/run/virtual_seconds",
        "/run/seed",
        "/acquisitions/total",
        "/acquisitions/failed",
        "/token_source/cache",
        "/token_source/identity_provider",
        "/token_source/cache_ratio",
        "/cache_level/l1",
        "/cache_level/l2",
        "/cache_level/none",
        "/identity_provider/requests",
        "/identity_provider/by_status",
        "/l2/reads",
        "/l2/hits",
        "/l2/writes",
        "/l2/errors",
        "/l2/timeouts",
        "/memory/samples",
        "/memory/peak",
        "/throughput/acquisitions_per_wall_second",
        "/thresholds",
        "/verdict",
    ] {
        assert!(r.pointer(key).is_some(), "{key} missing");
    }
    for reason in [
        "not_applicable",
        "no_cached_access_token",
        "expired",
        "proactively_refreshed",
        "force_refresh_or_claims",
        "cache_disabled",
    ] {
        assert!(
            r["refresh_reason"].get(reason).is_some(),
            "refresh_reason.{reason}"
        );
    }
    for d in ["total", "in_cache", "in_http"] {
        for k in DIST_KEYS {
            assert!(
                r["durations_ms"][d].get(k).is_some(),
                "durations_ms.{d}.{k}"
            );
        }
    }
    assert_eq!(r["verdict"], "pass");
    assert_eq!(r["scenario"]["name"], "quickstart");
    assert_eq!(r["run"]["virtual_seconds"].as_f64(), Some(180.0));

    let total = u(&r, "/acquisitions/total");
    let failed = u(&r, "/acquisitions/failed");
    let ok = total - failed;
    // 100/s for 180 virtual seconds.
    assert_eq!(total + u(&r, "/acquisitions/dropped_iterations"), 18_000);
    assert_eq!(
        u(&r, "/token_source/cache") + u(&r, "/token_source/identity_provider"),
        ok
    );
    assert_eq!(
        u(&r, "/cache_level/l1") + u(&r, "/cache_level/l2") + u(&r, "/cache_level/none"),
        ok
    );
    let reasons: u64 = r["refresh_reason"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(reasons, ok);
    assert_eq!(u(&r, "/durations_ms/total/count"), total);
    assert_eq!(u(&r, "/durations_ms/in_cache/count"), ok);
    assert_eq!(
        u(&r, "/cache_level/l1"),
        u(&r, "/token_source/cache"),
        "every hit is an L1 hit here"
    );
    // 200 tenants × 2 APIs: at most one token request each (single flight), all answered 200.
    let idp = u(&r, "/identity_provider/requests");
    assert!(idp > 0 && idp <= 400, "{idp}");
    assert_eq!(u(&r, "/identity_provider/by_status/200"), idp);
    assert!(u(&r, "/token_source/identity_provider") >= idp);
    let ratio = r["token_source"]["cache_ratio"].as_f64().unwrap();
    assert!(ratio >= 0.9, "{ratio}");
    let p = &r["durations_ms"]["total"];
    assert!(
        p["min"].as_f64() <= p["p50"].as_f64()
            && p["p50"].as_f64() <= p["p99"].as_f64()
            && p["p99"].as_f64() <= p["max"].as_f64()
    );
    // Flows add up to the whole.
    assert_eq!(u(&r, "/flows/daemon/acquisitions/total"), total);
    assert_eq!(r["flows"]["daemon"]["flow"], "client_credentials");
    // Memory: samples every 30 s virtual plus start and end; L1 holds the 200 tenants' partitions.
    let samples = r["memory"]["samples"].as_array().unwrap();
    assert!(samples.len() >= 3, "{samples:?}");
    assert_eq!(u(&r, "/memory/peak/l1_entries"), 200);
    assert!(u(&r, "/memory/peak/rss_bytes") > 0);
    assert_eq!(r["thresholds"].as_array().unwrap().len(), 3);

    // The embedded histograms are the run's own: counts and percentiles agree with the summary.
    let hists = loadgen::report::histograms::decode_all(&r).unwrap();
    assert_eq!(hists.len(), 2 * 9, "{:?}", hists.keys());
    assert_eq!(hists["total"].len(), total);
    assert_eq!(hists["flows.daemon.total"].len(), total);
    assert_eq!(hists["in_cache"].len(), ok);
    assert_eq!(
        hists["by_token_source.cache"].len() + hists["by_token_source.identity_provider"].len(),
        ok
    );
    assert_eq!(hists["by_cache_level.l1"].len(), u(&r, "/cache_level/l1"));
    assert_eq!(
        hists["total"].value_at_quantile(0.99) as f64 / 1e6,
        p["p99"].as_f64().unwrap()
    );

    let hgrm = std::fs::read_to_string(dir.path().join("total.hgrm")).unwrap();
    assert!(
        hgrm.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"),
        "{hgrm}"
    );
    assert!(
        hgrm.contains(&format!("Total count    = {total:>12}]")),
        "{hgrm}"
    );
    assert!(dir.path().join("workload.daemon.in_http.hgrm").exists());
    // Interval log: one histogram per 10 virtual seconds (plus the closing partial one).
    let hlog = std::fs::read_to_string(dir.path().join("intervals.hlog")).unwrap();
    assert!(hlog.contains("#[StartTime: "), "{hlog}");
    let intervals = hlog
        .lines()
        .filter(|l| l.starts_with("Tag=daemon,"))
        .count();
    assert!(
        (18..=19).contains(&intervals),
        "{intervals} intervals:\n{hlog}"
    );
    let mut total_in_intervals = 0;
    for entry in
        hdrhistogram::serialization::interval_log::IntervalLogIterator::new(hlog.as_bytes())
    {
        if let Ok(hdrhistogram::serialization::interval_log::LogEntry::Interval(i)) = entry {
            assert_eq!(
                i.tag().map(|t| t.as_str().to_owned()),
                Some("daemon".to_owned())
            );
            total_in_intervals += 1;
        }
    }
    assert_eq!(total_in_intervals, intervals);
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), 3, "{junit}");
    assert!(!junit.contains("<failure"), "{junit}");
    let summary = std::fs::read_to_string(dir.path().join("summary.txt")).unwrap();
    assert!(summary.contains("METRICS"), "{summary}");
    assert!(
        stdout.starts_with(&summary),
        "the printed summary is summary.txt"
    );
    // `loadgen report` re-renders it from report.json alone.
    let (code, again, err) = loadgen(&[
        "report",
        &dir.path().join("report.json").display().to_string(),
    ]);
    assert_eq!((code, again), (0, summary), "{err}");
}
