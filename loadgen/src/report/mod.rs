//! The run's artefacts: report.json (the stable keys of DESIGN §4), summary.txt (the k6-style
//! end-of-run summary, also printed), one .hgrm per histogram, intervals.hlog and junit.xml.

pub mod capacity;
pub mod hgrm;
pub mod histograms;
pub mod hlog;
pub mod html;
mod junit;
pub mod observe;
pub mod summary;
pub mod time;
pub mod timeline;

use std::path::Path;

use anyhow::Context as _;
use hdrhistogram::Histogram;
use serde_json::{json, Map, Value};
use tokencache::client::CacheRefreshReason;

use crate::run::stats::{Counts, WorkloadStats, LEVELS, SOURCES};
use crate::run::RunOutput;
use crate::scenario::model::Instance;
use crate::scenario::Scenario;
use crate::thresholds::Threshold;
pub use observe::{Aborted, Outcome};

/// What a report needs of the scenario: from a [`Scenario`] for a run, from the instances'
/// reports for a merge.
#[derive(Debug, Clone)]
pub struct Meta {
    pub name: String,
    pub file: String,
    pub description: String,
    pub seed: u64,
    pub speed: f64,
    /// (name, flow) per workload, in scenario order.
    pub workloads: Vec<(String, String)>,
    pub thresholds: Vec<Threshold>,
    /// This run is one instance of a multi-instance run.
    pub instance: Option<Instance>,
    /// This report merges that many instances.
    pub merged_instances: Option<u32>,
    /// The population and token lifetime behind the capacity figures (None when merged).
    pub shape: Option<capacity::Shape>,
}

impl Meta {
    pub fn of(scn: &Scenario) -> Self {
        Meta {
            name: scn.name.clone(),
            file: scn.file.clone(),
            description: scn.description.clone(),
            seed: scn.seed,
            speed: scn.speed,
            workloads: scn
                .workloads
                .iter()
                .map(|w| (w.name.clone(), w.flow.name().to_owned()))
                .collect(),
            thresholds: scn.thresholds.clone(),
            instance: scn.instance,
            merged_instances: None,
            shape: Some(capacity::Shape::of(scn)),
        }
    }

    pub fn names(&self) -> Vec<String> {
        self.workloads.iter().map(|w| w.0.clone()).collect()
    }
}

/// Version of the report.json layout.
pub const SCHEMA_VERSION: u32 = 1;

/// A finished report.
#[derive(Debug)]
pub struct Report {
    pub json: Value,
    pub summary: String,
    pub thresholds: Vec<Outcome>,
    pub pass: bool,
    overall: WorkloadStats,
}

fn r3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// `{count,min,mean,p50,p90,p99,p999,max}` in milliseconds.
pub fn dist(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return json!({"count": 0, "min": 0.0, "mean": 0.0, "p50": 0.0, "p90": 0.0, "p99": 0.0, "p999": 0.0, "max": 0.0});
    }
    let ms = |ns: u64| ns as f64 / 1e6;
    json!({
        "count": h.len(),
        "min": ms(h.min()),
        "mean": h.mean() / 1e6,
        "p50": ms(h.value_at_quantile(0.5)),
        "p90": ms(h.value_at_quantile(0.9)),
        "p99": ms(h.value_at_quantile(0.99)),
        "p999": ms(h.value_at_quantile(0.999)),
        "max": ms(h.max()),
    })
}

fn sources(s: &WorkloadStats) -> Value {
    json!({"cache": s.counts.source[0], "identity_provider": s.counts.source[1], "cache_ratio": s.cache_ratio()})
}

fn levels(c: &Counts) -> Value {
    json!({"l1": c.level[1], "l2": c.level[2], "none": c.level[0]})
}

fn reasons(c: &Counts) -> Value {
    let m: Map<String, Value> = CacheRefreshReason::ALL
        .iter()
        .zip(c.reason)
        .map(|(r, n)| (r.as_str().to_owned(), json!(n)))
        .collect();
    Value::Object(m)
}

fn durations(s: &WorkloadStats) -> Value {
    let h = &s.hists;
    json!({
        "total": dist(&h.total),
        "in_cache": dist(&h.in_cache),
        "in_http": dist(&h.in_http),
        "total_uncorrected": dist(&h.total_uncorrected),
    })
}

fn by_source(s: &WorkloadStats) -> Value {
    json!({
        SOURCES[0]: dist(&s.hists.by_source[0]),
        SOURCES[1]: dist(&s.hists.by_source[1]),
    })
}

fn by_level(s: &WorkloadStats) -> Value {
    json!({
        LEVELS[0]: dist(&s.hists.by_level[0]),
        LEVELS[1]: dist(&s.hists.by_level[1]),
        LEVELS[2]: dist(&s.hists.by_level[2]),
    })
}

/// Builds the report of a run (or of merged instances).
pub fn build(meta: &Meta, out: &RunOutput) -> Report {
    let all = observe::overall(out);
    let names = meta.names();
    let inputs = observe::Inputs::of(out, &names, &all);
    let thresholds = observe::evaluate(&meta.thresholds, &inputs, out.aborted.as_ref());
    let pass = thresholds.iter().all(|t| t.pass) && out.aborted.is_none();
    let c = &all.counts;
    let flows: Map<String, Value> = meta
        .workloads
        .iter()
        .zip(&out.workloads)
        .map(|((name, flow), s)| {
            let v = json!({
                "flow": flow,
                "acquisitions": {"total": s.counts.acquisitions, "failed": s.counts.failed, "dropped_iterations": s.counts.dropped},
                "token_source": sources(s),
                "cache_level": levels(&s.counts),
                "refresh_reason": reasons(&s.counts),
                "durations_ms": durations(s),
                "durations_ms_by_token_source": by_source(s),
                "durations_ms_by_cache_level": by_level(s),
            });
            (name.clone(), v)
        })
        .collect();
    let peak =
        |f: fn(&crate::run::memory::MemSample) -> u64| out.memory.iter().map(f).max().unwrap_or(0);
    let wall = out.wall.as_secs_f64();
    let l2 = &out.cache;
    let cap = capacity::figures(meta.shape.as_ref(), &names, out);
    capacity::record(&cap, &meta.name);
    let mut memory = json!({
        "samples": out.memory,
        "peak": {
            "l1_bytes": peak(|s| s.l1_bytes), "l1_entries": peak(|s| s.l1_entries),
            "l2_bytes": peak(|s| s.l2_bytes), "l2_keys": peak(|s| s.l2_keys),
            "rss_bytes": peak(|s| s.rss_bytes),
        },
        "l2_method": out.l2_baseline.method,
    });
    if let Some(server) = l2_server(out) {
        memory["l2_server"] = server;
    }
    memory["populate"] = cap.populate;
    memory["bytes_per_partition"] = cap.bytes_per_partition;
    memory["growth_per_1000_partitions"] = cap.growth_per_1000_partitions;
    let json = json!({
        "schema_version": SCHEMA_VERSION,
        "scenario": {"name": meta.name, "file": meta.file, "description": meta.description},
        "run": {
            "id": out.run_id,
            "started_at": time::rfc3339(out.started_at),
            "wall_seconds": r3(wall),
            "virtual_seconds": r3(out.virtual_secs),
            "seed": meta.seed,
            "clock_speed": meta.speed,
            "interrupted": out.interrupted,
            "aborted": out.aborted,
            "instance": meta.instance.map(|i| json!({"index": i.index, "count": i.count})),
            "merged_instances": meta.merged_instances,
            "populate": {"acquisitions": out.populated.0, "failed": out.populated.1},
        },
        "acquisitions": {"total": c.acquisitions, "failed": c.failed, "dropped_iterations": c.dropped},
        "token_source": sources(&all),
        "cache_level": levels(c),
        "refresh_reason": reasons(c),
        "durations_ms": durations(&all),
        "durations_ms_by_token_source": by_source(&all),
        "durations_ms_by_cache_level": by_level(&all),
        "flows": flows,
        "identity_provider": {
            "requests": out.idp_by_status.values().sum::<u64>(),
            "by_status": out.idp_by_status,
            "by_grant_type": cap.by_grant_type,
        },
        "l2": {
            "reads": l2.l2_reads, "hits": l2.l2_hits, "writes": l2.l2_writes, "errors": l2.l2_errors,
            "timeouts": l2.l2_timeouts, "misses": l2.l2_misses, "lost_writes": l2.l2_lost_writes,
            "decode_errors": l2.decode_errors,
        },
        "memory": memory,
        "capacity": cap.capacity,
        "throughput": {
            "acquisitions_per_wall_second": r3(c.acquisitions as f64 / wall.max(1e-9)),
            "acquisitions_per_virtual_second": r3(c.acquisitions as f64 / out.virtual_secs.max(1e-9)),
        },
        "errors": c.errors,
        "timeline": timeline::build(out, &names),
        "histograms": histograms::encode_all(
            &all,
            names.iter().map(String::as_str).zip(&out.workloads),
        )
        .unwrap_or(Value::Null),
        "thresholds": thresholds,
        "verdict": if pass { "pass" } else { "fail" },
    });
    let summary = summary::render(&json);
    Report {
        json,
        summary,
        thresholds,
        pass,
        overall: all,
    }
}

impl Report {
    /// Writes every artefact into `dir` (created if needed).
    pub fn write(&self, meta: &Meta, out: &RunOutput, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let write = |name: &str, text: &str| {
            std::fs::write(dir.join(name), text)
                .with_context(|| format!("writing {}", dir.join(name).display()))
        };
        write("report.json", &serde_json::to_string_pretty(&self.json)?)?;
        write("summary.txt", &self.summary)?;
        let run = html::Run::new("A", "report.json", &self.json)?;
        write("report.html", &html::render(&[run]))?;
        write(
            "junit.xml",
            &junit::render(&meta.name, &self.thresholds, out.wall.as_secs_f64()),
        )?;
        let hlog = hlog::render(&meta.name, out)?;
        std::fs::write(dir.join("intervals.hlog"), hlog)
            .with_context(|| format!("writing {}", dir.join("intervals.hlog").display()))?;
        let h = &self.overall.hists;
        let mut files: Vec<(String, &Histogram<u64>)> = vec![
            ("total".into(), &h.total),
            ("total_uncorrected".into(), &h.total_uncorrected),
            ("in_cache".into(), &h.in_cache),
            ("in_http".into(), &h.in_http),
        ];
        for (i, s) in SOURCES.iter().enumerate() {
            files.push((format!("token_source.{s}.total"), &h.by_source[i]));
        }
        for (i, l) in LEVELS.iter().enumerate() {
            files.push((format!("cache_level.{l}.total"), &h.by_level[i]));
        }
        for ((w, _), s) in meta.workloads.iter().zip(&out.workloads) {
            files.push((format!("workload.{w}.total"), &s.hists.total));
            files.push((
                format!("workload.{w}.total_uncorrected"),
                &s.hists.total_uncorrected,
            ));
            files.push((format!("workload.{w}.in_cache"), &s.hists.in_cache));
            files.push((format!("workload.{w}.in_http"), &s.hists.in_http));
            for (i, src) in SOURCES.iter().enumerate() {
                files.push((
                    format!("workload.{w}.token_source.{src}.total"),
                    &s.hists.by_source[i],
                ));
            }
            for (i, l) in LEVELS.iter().enumerate() {
                files.push((
                    format!("workload.{w}.cache_level.{l}.total"),
                    &s.hists.by_level[i],
                ));
            }
        }
        for (name, hist) in files {
            write(&format!("{name}.hgrm"), &hgrm::render(hist))?;
        }
        Ok(())
    }
}

/// `memory.l2_server`: the L2 server's own size (Redis `used_memory`, PostgreSQL
/// `pg_total_relation_size`) before the run, at its peak and last sample, and the growth
/// (last − baseline; negative when the server freed more than the run added), with the
/// growth per L2 key at the last sample. `None` when the store has no server figure.
fn l2_server(out: &RunOutput) -> Option<Value> {
    let baseline = out.l2_baseline.server_bytes?;
    let served: Vec<(u64, u64)> = out
        .memory
        .iter()
        .filter_map(|s| s.l2_server_bytes.map(|b| (b, s.l2_keys)))
        .collect();
    let &(last, last_keys) = served.last()?;
    let peak = served.iter().map(|s| s.0).max().unwrap_or(last);
    let delta = last as i64 - baseline as i64;
    Some(json!({
        "baseline_bytes": baseline,
        "peak_bytes": peak,
        "last_bytes": last,
        "delta_bytes": delta,
        "delta_bytes_per_key": (last_keys > 0).then(|| r3(delta as f64 / last_keys as f64)),
    }))
}
