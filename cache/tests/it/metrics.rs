//! The cache's OpenTelemetry instruments, collected by the SDK's in-memory exporter:
//! `tokencache.l2.operations` by operation and outcome, and the L1 size gauges.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, SdkMeterProvider};
use tokencache::l2::{Fault, FaultyStore};
use tokencache::metrics::{attr, L1_ENTRIES, L1_SIZE, L2_OPERATIONS};
use tokencache::model::keys::partition;
use tokencache::{CacheOptions, FailurePolicy, SharedClock, TokenCache};

use crate::support::*;

/// (metric name, sorted attribute values) -> value
fn collect(exporter: &InMemoryMetricExporter) -> HashMap<(String, Vec<String>), u64> {
    let mut out = HashMap::new();
    for rm in exporter.get_finished_metrics().unwrap() {
        for sm in rm.scope_metrics() {
            for m in sm.metrics() {
                let AggregatedMetrics::U64(data) = m.data() else {
                    continue;
                };
                let mut put = |attrs: Vec<String>, v: u64| {
                    out.insert((m.name().to_string(), attrs), v);
                };
                match data {
                    MetricData::Sum(s) => {
                        for dp in s.data_points() {
                            let mut a: Vec<String> = dp
                                .attributes()
                                .map(|kv| format!("{}={}", kv.key, kv.value))
                                .collect();
                            a.sort();
                            put(a, dp.value());
                        }
                    }
                    MetricData::Gauge(g) => {
                        for dp in g.data_points() {
                            put(Vec::new(), dp.value());
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn l2_operations_and_l1_gauges_are_exported_with_the_stable_names() {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_periodic_exporter(exporter.clone())
        .build();
    let meter = provider.meter("tokencache");
    let (clock, mem) = manual_memory();
    let faulty = FaultyStore::new(mem);
    let shared: SharedClock = clock.clone();
    let cache = TokenCache::with_meter(
        CacheOptions {
            on_failure: FailurePolicy::Miss,
            ..CacheOptions::default()
        },
        Arc::new(faulty.clone()),
        shared,
        &meter,
    );
    let exp = t0_plus(Duration::from_secs(3600));
    for i in 0..3 {
        let key = partition::app("c", Some(&format!("t{i}")));
        // Each update reads (miss) then writes (ok).
        cache
            .update(&key, |p| {
                p.upsert_access_token(app_token("c", "t", "api://a/.default", exp, "s"))
            })
            .await
            .unwrap();
    }
    faulty.set_fault(Fault::Error);
    cache.get("unknown").await.unwrap();
    let stats = cache.stats();
    tokio::task::spawn_blocking(move || provider.force_flush().unwrap())
        .await
        .unwrap();
    let m = collect(&exporter);
    let op = |o: &str, out: &str| {
        let mut a = vec![
            format!("{}={o}", attr::L2_OPERATION),
            format!("{}={out}", attr::L2_OUTCOME),
        ];
        a.sort();
        m.get(&(L2_OPERATIONS.to_string(), a)).copied().unwrap_or(0)
    };
    // The failed read counts once, as an error (not also as a miss).
    assert_eq!(op("get", "miss"), 3, "{m:?}");
    assert_eq!(op("set", "ok"), 3, "{m:?}");
    assert_eq!(op("get", "error"), 1, "{m:?}");
    assert_eq!(m[&(L1_SIZE.to_string(), vec![])], stats.l1_bytes);
    assert_eq!(m[&(L1_ENTRIES.to_string(), vec![])], 3);
    assert!(stats.l1_bytes > 0);
}
