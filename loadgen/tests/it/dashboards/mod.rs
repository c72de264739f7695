//! The Grafana dashboards (`dashboards/*.json`) and the local stack (`compose.yaml`): every
//! PromQL expression names only metrics of `tokencache::metrics` (names.rs) and returns data
//! from a real Prometheus scraping a short run (prometheus.rs); the Compose file and the
//! Prometheus configuration pass their tools' checks (compose.rs).

mod compose;
mod names;
mod prometheus;

use serde_json::Value;

use super::support::repo;

/// One Prometheus query of a dashboard: where it is, and its expression.
#[derive(Debug, Clone)]
pub struct Query {
    pub dashboard: String,
    pub panel: String,
    pub expr: String,
    /// `{{label}}` placeholders of the legend.
    pub legend_labels: Vec<String>,
}

/// (file name, parsed JSON) of every `dashboards/*.json`.
pub fn dashboards() -> Vec<(String, Value)> {
    let dir = repo().join("dashboards");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).expect("read dashboard");
            let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            out.push((name, v));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        out.iter().any(|(n, _)| n == "overview.json")
            && out.iter().any(|(n, _)| n == "capacity.json"),
        "dashboards/overview.json and dashboards/capacity.json must exist, found {:?}",
        out.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    out
}

/// Every panel, rows' nested panels included.
pub fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for p in list.as_array().into_iter().flatten() {
            out.push(p);
            if let Some(inner) = p.get("panels") {
                walk(inner, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

fn datasource_uid(target: &Value, panel: &Value) -> String {
    target
        .pointer("/datasource/uid")
        .or_else(|| panel.pointer("/datasource/uid"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Every Prometheus target (`datasource.uid == "prometheus"`) of every dashboard.
pub fn prometheus_queries() -> Vec<Query> {
    let mut out = Vec::new();
    for (name, d) in dashboards() {
        for p in panels(&d) {
            for t in p["targets"].as_array().into_iter().flatten() {
                if datasource_uid(t, p) != "prometheus" {
                    continue;
                }
                let expr = t["expr"].as_str().unwrap_or_else(|| {
                    panic!(
                        "{name}: panel {:?} has a Prometheus target without expr",
                        p["title"]
                    )
                });
                out.push(Query {
                    dashboard: name.clone(),
                    panel: p["title"].as_str().unwrap_or_default().to_owned(),
                    expr: expr.to_owned(),
                    legend_labels: placeholders(t["legendFormat"].as_str().unwrap_or_default()),
                });
            }
        }
    }
    out
}

/// Every Tempo TraceQL query: (dashboard, panel, query).
pub fn traceql_queries() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (name, d) in dashboards() {
        for p in panels(&d) {
            for t in p["targets"].as_array().into_iter().flatten() {
                if datasource_uid(t, p) == "tempo" {
                    let q = t["query"].as_str().unwrap_or_default().to_owned();
                    out.push((
                        name.clone(),
                        p["title"].as_str().unwrap_or_default().to_owned(),
                        q,
                    ));
                }
            }
        }
    }
    out
}

/// Every query variable: (dashboard, variable name, its PromQL `label_values(...)` query).
pub fn variable_queries() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (name, d) in dashboards() {
        for v in d
            .pointer("/templating/list")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if v["type"] == "query" {
                let q = v
                    .pointer("/query/query")
                    .or_else(|| v.get("query"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                out.push((
                    name.clone(),
                    v["name"].as_str().unwrap_or_default().to_owned(),
                    q.to_owned(),
                ));
            }
        }
    }
    out
}

/// `{{label}}` names in a legend format.
fn placeholders(legend: &str) -> Vec<String> {
    legend
        .split("{{")
        .skip(1)
        .filter_map(|s| s.split_once("}}").map(|(l, _)| l.trim().to_owned()))
        .collect()
}

/// The expression as Grafana would send it with every variable at "All" (its `allValue`)
/// and `$__rate_interval` = `rate_interval`; panics naming any variable it cannot resolve.
pub fn substitute(expr: &str, rate_interval: &str) -> String {
    let mut vars: Vec<(String, String)> = Vec::new();
    for (_, d) in dashboards() {
        for v in d
            .pointer("/templating/list")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = v["name"].as_str().unwrap_or_default().to_owned();
            let value = match v["allValue"].as_str() {
                Some(all) => all.to_owned(),
                None => v
                    .pointer("/current/value")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            };
            vars.push((name, value));
        }
    }
    // Longest names first, so `$flow` never eats the start of `$flows`.
    vars.sort_by_key(|(n, _)| std::cmp::Reverse(n.len()));
    let mut s = expr.replace("$__rate_interval", rate_interval);
    for (name, value) in &vars {
        s = s
            .replace(&format!("${{{name}}}"), value)
            .replace(&format!("${name}"), value);
    }
    assert!(!s.contains('$'), "unresolved variable in {expr:?} → {s:?}");
    s
}

#[test]
fn legend_placeholders_are_found() {
    assert_eq!(
        placeholders("p99 {{ loadgen_workload }} {{x}}"),
        ["loadgen_workload", "x"]
    );
    assert!(placeholders("bytes").is_empty());
}
