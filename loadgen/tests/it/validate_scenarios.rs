//! `loadgen validate`: every shipped scenario is valid; a broken one reports all of its
//! errors at once, each with file:line:column, the YAML path and a did-you-mean, exit 2.

use super::support::{heavy, loadgen, repo};

#[test]
fn every_scenario_in_the_repository_validates() {
    let _turn = heavy();
    let mut files: Vec<String> = std::fs::read_dir(repo().join("scenarios"))
        .expect("scenarios/")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| format!("scenarios/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let (code, stdout, stderr) = loadgen(&args);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for f in &files {
        assert!(stdout.contains(&format!("✓ {f}")), "{stdout}");
    }
}

const BROKEN: &str = r#"name: Broken_Name
duraton: 10s
clock: { speed: -1 }
cache:
  l2: { store: rediss }
workload:
  - name: daemon
    flow: client_credentials
    tenants: { count: 10, pick: uniform }
    resources: [api://x/.default]
    arrival: { rate: fast }
thresholds:
  "duration_totl": ["p(99) < 5ms"]
"#;

#[test]
fn a_broken_scenario_reports_every_error_with_its_position_and_exits_2() {
    let _turn = heavy();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.yaml");
    std::fs::write(&file, BROKEN).unwrap();
    let f = file.display().to_string();
    let (code, _, stderr) = loadgen(&["validate", &f]);
    assert_eq!(code, 2, "{stderr}");
    for expected in [
        format!("{f}:2:1: duraton: unknown key \"duraton\" (did you mean \"duration\"?)"),
        format!("{f}:1:7: name: \"Broken_Name\" must match [a-z0-9-]+"),
        format!("{f}:3:17: clock.speed: must be in"),
        format!("{f}:5:16: cache.l2.store: unknown value \"rediss\" (did you mean \"redis\"?)"),
        format!("{f}:11:22: workload[0].arrival.rate: \"fast\" is not a rate"),
        format!("{f}:13:3: thresholds.\"duration_totl\": unknown metric \"duration_totl\" (did you mean \"duration_total\"?)"),
    ] {
        assert!(stderr.contains(&expected), "missing {expected:?} in:\n{stderr}");
    }
    // `run` refuses it the same way, before doing anything.
    let (code, _, stderr) = loadgen(&["run", &f]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("errors in scenario"), "{stderr}");
}

#[test]
fn a_bad_override_is_invalid_input_too() {
    let _turn = heavy();
    let (code, _, stderr) =
        loadgen(&["run", "scenarios/quickstart.yaml", "--set", "duration=soon"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("scenarios/quickstart.yaml (--set): duration: \"soon\" is not a duration"),
        "{stderr}"
    );
}
