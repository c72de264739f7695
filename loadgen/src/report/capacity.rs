//! Capacity figures of a run (issue #7): bytes per partition by flow in L1 and L2 (from the
//! memory samples taken before and after each workload's populate), memory growth per 1,000
//! partitions, identity-provider requests by grant type, and the `capacity` object that
//! `loadgen plan` projects from (partitions, hit ratios, rates, token lifetime). The figures
//! are also recorded as gauges through the OpenTelemetry global meter.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::run::memory::PopulateStep;
use crate::run::RunOutput;

/// What the capacity figures need of the scenario (absent for merged reports).
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// The embedded authority's token lifetime (None with an external authority).
    pub token_lifetime_s: Option<f64>,
    /// The embedded authority's `refresh_in` (proactive refresh), if set.
    pub refresh_in_s: Option<f64>,
    /// Per workload, in scenario order.
    pub workloads: Vec<WorkloadShape>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadShape {
    /// Tenants (client credentials) or users.
    pub members: u64,
    pub tenants: u64,
    pub resources: u64,
}

impl Shape {
    pub fn of(scn: &crate::scenario::Scenario) -> Self {
        use crate::scenario::model::{AuthoritySpec, FlowSpec};
        Shape {
            token_lifetime_s: match &scn.authority {
                AuthoritySpec::Embedded(e) => Some(e.token_lifetime.as_secs_f64()),
                AuthoritySpec::External { .. } => None,
            },
            refresh_in_s: match &scn.authority {
                AuthoritySpec::Embedded(e) => e.refresh_in.map(|d| d.as_secs_f64()),
                AuthoritySpec::External { .. } => None,
            },
            workloads: scn
                .workloads
                .iter()
                .map(|w| WorkloadShape {
                    members: w.flow.members(),
                    tenants: match &w.flow {
                        FlowSpec::ClientCredentials { tenants, .. }
                        | FlowSpec::OnBehalfOf { tenants, .. }
                        | FlowSpec::WebApp { tenants, .. } => *tenants,
                    },
                    resources: w.flow.resource_count(),
                })
                .collect(),
        }
    }
}

/// Partitions and bytes one populate step added (L1 entries/bytes, L2 keys/bytes).
#[derive(Debug, Clone, Copy, Default)]
struct Added {
    l1_entries: u64,
    l1_bytes: u64,
    l2_keys: u64,
    l2_bytes: u64,
    rss_bytes: i64,
}

impl Added {
    fn of(s: &PopulateStep) -> Self {
        let d = |a: u64, b: u64| a.saturating_sub(b);
        Added {
            l1_entries: d(s.after.l1_entries, s.before.l1_entries),
            l1_bytes: d(s.after.l1_bytes, s.before.l1_bytes),
            l2_keys: d(s.after.l2_keys, s.before.l2_keys),
            l2_bytes: d(s.after.l2_bytes, s.before.l2_bytes),
            rss_bytes: s.after.rss_bytes as i64 - s.before.rss_bytes as i64,
        }
    }

    fn add(&mut self, o: &Added) {
        self.l1_entries += o.l1_entries;
        self.l1_bytes += o.l1_bytes;
        self.l2_keys += o.l2_keys;
        self.l2_bytes += o.l2_bytes;
        self.rss_bytes += o.rss_bytes;
    }

    /// Partitions written: L2 keys, or L1 entries without an L2.
    fn partitions(&self) -> u64 {
        self.l2_keys.max(self.l1_entries)
    }
}

fn per(bytes: u64, n: u64) -> Value {
    if n == 0 {
        Value::Null
    } else {
        json!((bytes as f64 / n as f64).round())
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn r6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// The capacity keys of report.json: `memory.bytes_per_partition`,
/// `memory.growth_per_1000_partitions`, `memory.populate`, `identity_provider.by_grant_type`
/// and `capacity` (null without populate or shape).
#[derive(Debug)]
pub struct Figures {
    pub bytes_per_partition: Value,
    pub growth_per_1000_partitions: Value,
    pub populate: Value,
    pub by_grant_type: Value,
    pub capacity: Value,
}

pub fn figures(shape: Option<&Shape>, names: &[String], out: &RunOutput) -> Figures {
    let mut by_flow: BTreeMap<&str, Added> = BTreeMap::new();
    let mut total = Added::default();
    for s in &out.populate_steps {
        let a = Added::of(s);
        by_flow.entry(s.flow.as_str()).or_default().add(&a);
        total.add(&a);
    }
    let bytes_per_partition: Map<String, Value> = by_flow
        .iter()
        .map(|(flow, a)| {
            (
                (*flow).to_owned(),
                json!({
                    "partitions": a.partitions(),
                    "l1": per(a.l1_bytes, a.l1_entries),
                    "l2": per(a.l2_bytes, a.l2_keys),
                }),
            )
        })
        .collect();
    let p = total.partitions();
    let growth = if p == 0 {
        Value::Null
    } else {
        let k = 1000.0 / p as f64;
        json!({
            "partitions": p,
            "l1_bytes": (total.l1_bytes as f64 * k).round(),
            "l2_bytes": (total.l2_bytes as f64 * k).round(),
            "rss_bytes": (total.rss_bytes as f64 * k).round(),
        })
    };
    let capacity = match shape {
        Some(shape) if !out.populate_steps.is_empty() => capacity(shape, names, out),
        _ => Value::Null,
    };
    Figures {
        bytes_per_partition: Value::Object(bytes_per_partition),
        growth_per_1000_partitions: growth,
        populate: serde_json::to_value(&out.populate_steps).unwrap_or(Value::Null),
        by_grant_type: json!(out.idp_by_grant),
        capacity,
    }
}

fn capacity(shape: &Shape, names: &[String], out: &RunOutput) -> Value {
    let secs = out.virtual_secs.max(1e-9);
    let mut workloads = Map::new();
    for (i, ((name, ws), stats)) in names
        .iter()
        .zip(&shape.workloads)
        .zip(&out.workloads)
        .enumerate()
    {
        let Some(step) = out.populate_steps.get(i) else {
            continue;
        };
        let a = Added::of(step);
        let c = &stats.counts;
        workloads.insert(
            name.clone(),
            json!({
                "flow": step.flow,
                "members": ws.members,
                "tenants": ws.tenants,
                "resources": ws.resources,
                "partitions": a.partitions(),
                "l1_bytes_per_partition": per(a.l1_bytes, a.l1_entries),
                "l2_bytes_per_partition": per(a.l2_bytes, a.l2_keys),
                "acquisitions_per_s": r6(c.acquisitions as f64 / secs),
                "cache_ratio": r6(stats.cache_ratio()),
                "l1_hit_ratio": r6(ratio(c.level[1], c.acquisitions)),
                "identity_provider_requests_per_s": r6(c.source[1] as f64 / secs),
            }),
        );
    }
    let l2 = &out.cache;
    let idp: u64 = out.idp_by_status.values().sum();
    let acquisitions: u64 = out.workloads.iter().map(|w| w.counts.acquisitions).sum();
    let first = out.populate_steps.first().map(|s| s.before.rss_bytes);
    json!({
        "token_lifetime_s": shape.token_lifetime_s,
        "refresh_in_s": shape.refresh_in_s,
        "virtual_seconds": out.virtual_secs,
        "workloads": workloads,
        "identity_provider_requests_per_s": r6(idp as f64 / secs),
        "l2_ops_per_s": r6((l2.l2_reads + l2.l2_writes + l2.l2_removes) as f64 / secs),
        "l2_reads_per_acquisition": r6(ratio(l2.l2_reads, acquisitions)),
        "l2_writes_per_identity_provider_request": r6(ratio(l2.l2_writes + l2.l2_removes, idp)),
        "rss_bytes_before_populate": first,
    })
}

/// Records `loadgen.memory.bytes_per_partition{tokencache.flow, tokencache.cache_level}` and
/// `loadgen.memory.growth_per_1000_partitions{tokencache.cache_level}` (bytes) on the global
/// meter: a no-op unless an OpenTelemetry SDK is installed.
pub fn record(f: &Figures, scenario: &str) {
    record_on(&opentelemetry::global::meter("loadgen"), f, scenario);
}

pub fn record_on(meter: &opentelemetry::metrics::Meter, f: &Figures, scenario: &str) {
    use opentelemetry::KeyValue;
    use tokencache::metrics as m;
    let bpp = meter
        .f64_gauge(m::MEMORY_BYTES_PER_PARTITION)
        .with_unit("By")
        .with_description("Cache bytes per partition, by flow and cache level")
        .build();
    if let Some(flows) = f.bytes_per_partition.as_object() {
        for (flow, v) in flows {
            for level in ["l1", "l2"] {
                if let Some(b) = v[level].as_f64() {
                    bpp.record(
                        b,
                        &[
                            KeyValue::new("tokencache.flow", flow.clone()),
                            KeyValue::new("tokencache.cache_level", level),
                            KeyValue::new("loadgen.scenario", scenario.to_owned()),
                        ],
                    );
                }
            }
        }
    }
    let growth = meter
        .f64_gauge(m::MEMORY_GROWTH_PER_1000_PARTITIONS)
        .with_unit("By")
        .with_description("Memory growth per 1,000 partitions (L1, L2, process RSS)")
        .build();
    for (key, level) in [
        ("l1_bytes", "l1"),
        ("l2_bytes", "l2"),
        ("rss_bytes", "process"),
    ] {
        if let Some(b) = f.growth_per_1000_partitions[key].as_f64() {
            growth.record(
                b,
                &[
                    KeyValue::new("tokencache.cache_level", level),
                    KeyValue::new("loadgen.scenario", scenario.to_owned()),
                ],
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
    use opentelemetry_sdk::metrics::{InMemoryMetricExporter, SdkMeterProvider};

    use super::*;

    #[test]
    fn bytes_per_partition_and_growth_are_recorded_as_gauges_by_flow_and_level() {
        let exporter = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder()
            .with_periodic_exporter(exporter.clone())
            .build();
        let f = Figures {
            bytes_per_partition: json!({"client_credentials": {"partitions": 10, "l1": 2211.0, "l2": null}}),
            growth_per_1000_partitions: json!({"partitions": 10, "l1_bytes": 2_211_000.0, "l2_bytes": 0.0, "rss_bytes": -4096.0}),
            populate: json!([]),
            by_grant_type: json!({}),
            capacity: Value::Null,
        };
        record_on(&provider.meter("loadgen"), &f, "s");
        provider.force_flush().unwrap();
        let mut seen = Vec::new();
        for rm in exporter.get_finished_metrics().unwrap() {
            for sm in rm.scope_metrics() {
                for m in sm.metrics() {
                    let AggregatedMetrics::F64(MetricData::Gauge(g)) = m.data() else {
                        continue;
                    };
                    for dp in g.data_points() {
                        let mut a: Vec<String> = dp
                            .attributes()
                            .filter(|kv| kv.key.as_str() != "loadgen.scenario")
                            .map(|kv| format!("{}={}", kv.key, kv.value))
                            .collect();
                        a.sort();
                        seen.push((m.name().to_string(), a.join(","), dp.value()));
                    }
                }
            }
        }
        seen.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let bpp = tokencache::metrics::MEMORY_BYTES_PER_PARTITION.to_owned();
        let growth = tokencache::metrics::MEMORY_GROWTH_PER_1000_PARTITIONS.to_owned();
        assert_eq!(
            seen,
            vec![
                (
                    bpp,
                    "tokencache.cache_level=l1,tokencache.flow=client_credentials".to_owned(),
                    2211.0
                ),
                (
                    growth.clone(),
                    "tokencache.cache_level=l1".to_owned(),
                    2_211_000.0
                ),
                (growth.clone(), "tokencache.cache_level=l2".to_owned(), 0.0),
                (growth, "tokencache.cache_level=process".to_owned(), -4096.0),
            ]
        );
    }
}
