//! Every PromQL expression and variable query of every dashboard parses (promql-parser) and
//! names only metrics and labels of `tokencache::metrics`, under the OTel → Prometheus naming
//! (dots → underscores, unit suffix `_seconds` / `_bytes`, `_total` for counters, `_bucket` /
//! `_sum` / `_count` for histograms); TraceQL queries name only span names of the module.

use std::collections::BTreeSet;

use promql_parser::label::Matchers;
use promql_parser::parser::{self, Expr, LabelModifier, VectorSelector};
use tokencache::metrics::{self as m, attr, span};

use super::{prometheus_queries, substitute, traceql_queries, variable_queries};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every metric the dashboards may use: (constant, kind, OTel unit).
const METRICS: &[(&str, Kind, &str)] = &[
    (m::ACQUIRE_DURATION, Kind::Histogram, "s"),
    (m::CACHE_DURATION, Kind::Histogram, "s"),
    (m::HTTP_DURATION, Kind::Histogram, "s"),
    (m::ACQUISITIONS, Kind::Counter, ""),
    (m::IDP_REQUESTS, Kind::Counter, ""),
    (m::L2_OPERATIONS, Kind::Counter, ""),
    (m::FAILURES, Kind::Counter, ""),
    (m::L1_SIZE, Kind::Gauge, "By"),
    (m::L2_SIZE, Kind::Gauge, "By"),
    (m::L1_ENTRIES, Kind::Gauge, ""),
    (m::L2_KEYS, Kind::Gauge, ""),
    (m::PROCESS_MEMORY, Kind::Gauge, "By"),
    (m::MEMORY_BYTES_PER_PARTITION, Kind::Gauge, "By"),
    (m::MEMORY_GROWTH_PER_1000_PARTITIONS, Kind::Gauge, "By"),
];

const ATTRIBUTES: &[&str] = &[
    attr::TOKEN_SOURCE,
    attr::CACHE_LEVEL,
    attr::REFRESH_REASON,
    attr::FLOW,
    attr::L2_OPERATION,
    attr::L2_OUTCOME,
    attr::HTTP_STATUS,
    attr::GRANT_TYPE,
    attr::SCENARIO,
    attr::WORKLOAD,
];

/// The Prometheus series names of one OTel metric.
fn prometheus_names(name: &str, kind: Kind, unit: &str) -> Vec<String> {
    let suffix = match unit {
        "s" => "_seconds",
        "By" => "_bytes",
        "" => "",
        other => panic!("no Prometheus unit suffix known for {other:?}"),
    };
    let base = format!("{}{suffix}", name.replace('.', "_"));
    match kind {
        Kind::Counter => vec![format!("{base}_total")],
        Kind::Gauge => vec![base],
        Kind::Histogram => ["_bucket", "_sum", "_count"]
            .iter()
            .map(|s| format!("{base}{s}"))
            .collect(),
    }
}

/// Series name → the OTel constant it comes from.
fn known_series() -> Vec<(String, &'static str)> {
    METRICS
        .iter()
        .flat_map(|&(n, k, u)| prometheus_names(n, k, u).into_iter().map(move |p| (p, n)))
        .collect()
}

fn known_labels() -> BTreeSet<String> {
    let mut out: BTreeSet<String> = ATTRIBUTES.iter().map(|a| a.replace('.', "_")).collect();
    out.insert("le".into());
    out
}

/// Metric names and label names an expression uses.
#[derive(Debug, Default)]
struct Uses {
    metrics: BTreeSet<String>,
    labels: BTreeSet<String>,
    nameless: bool,
}

impl Uses {
    fn selector(&mut self, vs: &VectorSelector) {
        match &vs.name {
            Some(n) => {
                self.metrics.insert(n.clone());
            }
            None => self.nameless = true,
        }
        self.matchers(&vs.matchers);
    }

    fn matchers(&mut self, ms: &Matchers) {
        for mt in ms.matchers.iter().chain(ms.or_matchers.iter().flatten()) {
            if mt.name == "__name__" {
                self.nameless = true;
            } else {
                self.labels.insert(mt.name.clone());
            }
        }
    }

    fn modifier(&mut self, lm: &LabelModifier) {
        self.labels.extend(lm.labels().labels.iter().cloned());
    }

    fn walk(&mut self, e: &Expr) {
        match e {
            Expr::Aggregate(a) => {
                if let Some(md) = &a.modifier {
                    self.modifier(md);
                }
                if let Some(p) = &a.param {
                    self.walk(p);
                }
                self.walk(&a.expr);
            }
            Expr::Unary(u) => self.walk(&u.expr),
            Expr::Binary(b) => {
                if let Some(md) = &b.modifier {
                    if let Some(lm) = &md.matching {
                        self.modifier(lm);
                    }
                    if let Some(l) = md.card.labels() {
                        self.labels.extend(l.labels.iter().cloned());
                    }
                }
                self.walk(&b.lhs);
                self.walk(&b.rhs);
            }
            Expr::Paren(p) => self.walk(&p.expr),
            Expr::Subquery(s) => self.walk(&s.expr),
            Expr::VectorSelector(vs) => self.selector(vs),
            Expr::MatrixSelector(ms) => self.selector(&ms.vs),
            Expr::Call(c) => c.args.args.iter().for_each(|a| self.walk(a)),
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
        }
    }
}

fn uses(what: &str, expr: &str) -> Uses {
    let promql = substitute(expr, "1m");
    let parsed = parser::parse(&promql).unwrap_or_else(|e| panic!("{what}: {promql:?}: {e}"));
    let mut u = Uses::default();
    u.walk(&parsed);
    u
}

/// Problems with the names an expression uses (empty: all known).
fn check(what: &str, u: &Uses) -> Vec<String> {
    let series = known_series();
    let labels = known_labels();
    let mut problems = Vec::new();
    if u.nameless {
        problems.push(format!("{what}: a selector without a metric name"));
    }
    for metric in &u.metrics {
        if !series.iter().any(|(s, _)| s == metric) {
            problems.push(format!(
                "{what}: metric {metric} is not defined in tokencache::metrics"
            ));
        }
    }
    for l in &u.labels {
        if !labels.contains(l) {
            problems.push(format!(
                "{what}: label {l} is not an attribute of tokencache::metrics"
            ));
        }
    }
    problems
}

#[test]
fn otel_names_map_to_prometheus_series_names() {
    assert_eq!(
        prometheus_names(m::ACQUIRE_DURATION, Kind::Histogram, "s"),
        [
            "tokencache_acquire_duration_seconds_bucket",
            "tokencache_acquire_duration_seconds_sum",
            "tokencache_acquire_duration_seconds_count"
        ]
    );
    assert_eq!(
        prometheus_names(m::ACQUISITIONS, Kind::Counter, ""),
        ["tokencache_acquisitions_total"]
    );
    assert_eq!(
        prometheus_names(m::L1_SIZE, Kind::Gauge, "By"),
        ["tokencache_l1_size_bytes"]
    );
}

#[test]
fn the_checker_rejects_unknown_metrics_labels_and_nameless_selectors() {
    let u = uses(
        "t",
        r#"sum by (pod) (rate(tokencache_acquisitions{x="1"}[1m])) + {__name__="a"}"#,
    );
    let p = check("t", &u);
    assert!(
        p.iter()
            .any(|s| s.contains("metric tokencache_acquisitions is not")),
        "{p:?}"
    );
    assert!(p.iter().any(|s| s.contains("label pod is not")), "{p:?}");
    assert!(p.iter().any(|s| s.contains("label x is not")), "{p:?}");
    assert!(
        p.iter().any(|s| s.contains("without a metric name")),
        "{p:?}"
    );
    let ok = uses(
        "t",
        "sum by (le) (rate(tokencache_http_duration_seconds_bucket[1m]))",
    );
    assert!(check("t", &ok).is_empty());
}

#[test]
fn every_panel_query_uses_only_metric_and_attribute_names_the_code_defines() {
    let queries = prometheus_queries();
    assert!(
        queries.len() >= 20,
        "only {} Prometheus queries",
        queries.len()
    );
    let mut problems = Vec::new();
    let mut used = BTreeSet::new();
    for q in &queries {
        let what = format!("{} / {:?}", q.dashboard, q.panel);
        let u = uses(&what, &q.expr);
        problems.extend(check(&what, &u));
        for l in &q.legend_labels {
            if !known_labels().contains(l) {
                problems.push(format!("{what}: legend label {l} is not an attribute"));
            }
        }
        used.extend(u.metrics);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // And the dashboards show every metric of the module.
    let unused: Vec<&str> = METRICS
        .iter()
        .filter(|&&(n, k, u)| !prometheus_names(n, k, u).iter().any(|p| used.contains(p)))
        .map(|&(n, _, _)| n)
        .collect();
    assert!(unused.is_empty(), "metrics no dashboard shows: {unused:?}");
}

#[test]
fn every_dashboard_variable_uses_only_names_the_code_defines() {
    let vars = variable_queries();
    assert!(!vars.is_empty(), "no query variables");
    let mut problems = Vec::new();
    for (d, name, q) in &vars {
        let what = format!("{d} / ${name}");
        // label_values(SELECTOR, LABEL)
        let inner = q
            .strip_prefix("label_values(")
            .and_then(|s| s.strip_suffix(')'))
            .unwrap_or_else(|| panic!("{what}: expected label_values(selector, label), got {q:?}"));
        let (selector, label) = inner
            .rsplit_once(',')
            .unwrap_or_else(|| panic!("{what}: no label in {q:?}"));
        problems.extend(check(&what, &uses(&what, selector)));
        if !known_labels().contains(label.trim()) {
            problems.push(format!(
                "{what}: label {} is not an attribute",
                label.trim()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn trace_panels_search_spans_the_code_names() {
    let queries = traceql_queries();
    assert!(
        !queries.is_empty(),
        "no Tempo panel (the link from a slow acquisition to its trace)"
    );
    let spans = [
        span::ACQUIRE,
        span::L1_READ,
        span::L2_READ,
        span::L2_WRITE,
        span::CODEC,
        span::HTTP,
    ];
    for (d, panel, q) in queries {
        let named: Vec<&str> = q
            .split("name = \"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .collect();
        assert!(!named.is_empty(), "{d} / {panel:?}: no span name in {q:?}");
        for n in named {
            assert!(
                spans.contains(&n),
                "{d} / {panel:?}: span {n} is not in tokencache::metrics::span"
            );
        }
        assert!(
            q.contains(&format!("name = \"{}\"", span::ACQUIRE)),
            "{d} / {panel:?}: {q}"
        );
    }
}
