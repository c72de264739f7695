//! Runs against real L2 servers (testkit): scenarios/redis-l2.yaml shortened with --set
//! against a private Redis, a short PostgreSQL run; each report carries the server's own
//! size figures (memory.l2_server) and `loadgen inspect` reads the partitions back.

use serde_json::Value;
use testkit::{Postgres, RedisServer};

use super::support::loadgen_env;
use super::support::{heavy, read_json};

const KEY_HEX: &str = "4f3c2b1a00112233445566778899aabbccddeeff0123456789abcdef01234567";
const WRONG_HEX: &str = "5f3c2b1a00112233445566778899aabbccddeeff0123456789abcdef01234567";

fn u(v: &Value, path: &str) -> u64 {
    v.pointer(path)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{path} missing in {v}"))
}

/// Checks the report's L2 server figures: a baseline before the run, growth since, a
/// growth per key between 0.5× and 4× of the partition blob (a few hundred bytes of
/// per-key overhead on top of ~2 KB).
fn assert_l2_server(r: &Value, method: &str) {
    let m = &r["memory"];
    assert_eq!(m["l2_method"], method, "{m}");
    let server = &m["l2_server"];
    assert!(server.is_object(), "{m}");
    assert!(
        u(server, "/last_bytes") > u(server, "/baseline_bytes"),
        "{server}"
    );
    let per_key = server["delta_bytes_per_key"].as_f64().unwrap();
    assert!((1000.0..10_000.0).contains(&per_key), "{server}");
    let last = m["samples"].as_array().unwrap().last().unwrap();
    assert_eq!(u(last, "/l2_server_bytes"), u(server, "/last_bytes"));
}

#[test]
fn the_redis_l2_scenario_runs_against_redis_and_inspect_reads_its_partitions() {
    let _turn = heavy();
    let redis = RedisServer::start();
    let url = redis.url();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let env = [("TOKENSCOPE_L2_KEY", KEY_HEX), ("WRONG_KEY", WRONG_HEX)];
    let (code, stdout, stderr) = loadgen_env(
        &[
            "run",
            "scenarios/redis-l2.yaml",
            "--set",
            &format!("cache.l2.url={url}"),
            "--set",
            "duration=4s",
            "--set",
            "workload[0].tenants.count=300",
            "--set",
            "workload[0].arrival.rate=300/s",
            "--out",
            &out,
        ],
        &env,
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("l2 server"), "{stdout}");
    let r = read_json(&dir.path().join("report.json"));
    super::report_schema::validate(&r);
    assert_l2_server(&r, "memory-usage-sample");
    eprintln!("redis run: memory {}", r["memory"]["l2_server"]);
    assert_eq!(
        u(&r, "/memory/peak/l2_keys"),
        300,
        "one partition per tenant"
    );
    assert!(
        u(&r, "/l2/hits") > 0,
        "the 256 KiB L1 must send reads to Redis"
    );

    let (code, list, err) = loadgen_env(
        &[
            "inspect", "--redis", &url, "--list", "--limit", "5", "--json",
        ],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    let list: Value = serde_json::from_str(&list).unwrap();
    let keys = list["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 5, "{list}");
    let key = keys[0].as_str().unwrap();
    assert!(
        key.ends_with("_AppTokenCache") && !key.starts_with("tokenscope:"),
        "{key}"
    );

    let (code, shown, err) = loadgen_env(
        &[
            "inspect",
            "--redis",
            &url,
            key,
            "--key-env",
            "TOKENSCOPE_L2_KEY",
        ],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    for expected in [
        "encrypted true, key id k1",
        "access tokens (2)",
        "api://graph/.default",
    ] {
        assert!(
            shown.contains(expected),
            "missing {expected:?} in:\n{shown}"
        );
    }
    let (code, _, err) = loadgen_env(
        &["inspect", "--redis", &url, key, "--key-env", "WRONG_KEY"],
        &env,
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("failed to decrypt") && err.contains(&url),
        "{err}"
    );
    assert!(!err.contains(KEY_HEX) && !err.contains(WRONG_HEX), "{err}");
}

#[test]
fn a_postgres_l2_run_reports_the_table_size_and_inspect_reads_it() {
    let _turn = heavy();
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("pg.yaml");
    std::fs::write(
        &scenario,
        format!(
            r#"name: pg-l2
duration: 3s
populate: true
authority: {{ embedded: {{ token_lifetime: 1h, signing: es256 }} }}
cache:
  l1: {{ max_bytes: 64KiB }}
  l2: {{ store: postgres, url: "{}", namespace: pgtest, timeout: 500ms }}
workload:
  - name: daemon
    flow: client_credentials
    tenants: {{ count: 200, pick: uniform }}
    resources: [api://graph/.default, api://sharepoint/.default]
    arrival: {{ rate: 100/s }}
telemetry: {{ memory_sample_every: 1s }}
"#,
            pg.url()
        ),
    )
    .unwrap();
    let out = dir.path().join("out").display().to_string();
    let (code, stdout, stderr) = loadgen_env(
        &["run", &scenario.display().to_string(), "--out", &out],
        &[],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let r = read_json(&dir.path().join("out/report.json"));
    super::report_schema::validate(&r);
    assert_l2_server(&r, "relation-size");
    eprintln!("postgres run: memory {}", r["memory"]["l2_server"]);
    assert_eq!(u(&r, "/memory/peak/l2_keys"), 200);

    let url = pg.url();
    let (code, list, err) = loadgen_env(
        &[
            "inspect",
            "--postgres",
            &url,
            "--namespace",
            "pgtest",
            "--list",
            "--limit",
            "3",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        list.starts_with("3 partition key(s) under namespace \"pgtest\""),
        "{list}"
    );
    let key = list.lines().nth(1).unwrap().trim();
    let (code, shown, err) = loadgen_env(
        &[
            "inspect",
            "--postgres",
            &url,
            "--namespace",
            "pgtest",
            key,
            "--json",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(v["envelope"]["encrypted"], false, "{v}");
    assert_eq!(v["access_tokens"].as_array().unwrap().len(), 2, "{v}");
    // A table that does not exist is bad input, and inspect does not create it.
    let (code, _, err) = loadgen_env(
        &[
            "inspect",
            "--postgres",
            &url,
            "--table",
            "other_table",
            "--namespace",
            "pgtest",
            key,
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no table \"other_table\""), "{err}");
    let (code, _, err) = loadgen_env(
        &[
            "inspect",
            "--postgres",
            &url,
            "--table",
            "other_table",
            "--list",
        ],
        &[],
    );
    assert_eq!(code, 2, "inspect must not have created the table: {err}");
}

#[test]
fn inspect_lists_and_decodes_partitions_across_a_redis_cluster() {
    let _turn = heavy();
    let cluster = testkit::RedisCluster::start(3);
    let urls = cluster.urls();
    let raw = std::fs::read(super::support::repo().join("cache/tests/golden/msal_node_app.json"))
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use tokencache::L2Store as _;
        let store = tokencache::l2::RedisClusterStore::connect(&urls)
            .await
            .unwrap();
        for i in 0..12 {
            store
                .set(&format!("ns:part-{i:02}"), raw.clone().into(), None)
                .await
                .unwrap();
        }
    });
    let seeds = urls.join(",");
    let (code, out, err) = loadgen_env(
        &[
            "inspect",
            "--redis-cluster",
            &seeds,
            "--namespace",
            "ns",
            "--list",
            "--json",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let mut keys: Vec<&str> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    keys.sort_unstable();
    let expected: Vec<String> = (0..12).map(|i| format!("part-{i:02}")).collect();
    assert_eq!(keys, expected, "every master's keys are listed");
    let (code, out, err) = loadgen_env(
        &[
            "inspect",
            "--redis-cluster",
            &seeds,
            "--namespace",
            "ns",
            "part-07",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("format msal-json") && out.contains("access tokens (3)"),
        "{out}"
    );
    super::inspect::assert_no_secret(&out, &super::inspect::secrets_of(&raw));
}
