//! `loadgen merge OUT_DIR REPORT.json...`: the reports of a multi-instance run (`run
//! --instance I/N`, one per instance) merged exactly. Histograms are added (so percentiles
//! are the merged histograms' own, not averages of percentiles), counters summed, interval
//! histograms of the same interval added (each instance's `intervals.hlog` beside its
//! report), memory samples summed across instances at the same sample index, and the
//! thresholds re-evaluated on the merged data. The result is a [`RunOutput`] + [`Meta`], so
//! the merged artefacts are written exactly as a run's are.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, bail, Context as _};
use hdrhistogram::Histogram;
use serde_json::Value;
use tokencache::client::CacheRefreshReason;
use tokencache::CacheStats;

use crate::report::histograms::{self, named};
use crate::report::observe::{interval_histogram, Aborted};
use crate::report::{hlog, time, Meta};
use crate::run::memory::{L2Baseline, MemSample};
use crate::run::stats::{Hists, WorkloadStats, LEVELS, SOURCES};
use crate::run::timeline::Tick;
use crate::run::{Interval, RunOutput};
use crate::thresholds::{parse_expr, parse_metric, Threshold};

/// Merged instances, ready for [`crate::report::build`].
#[derive(Debug)]
pub struct Merged {
    pub meta: Meta,
    pub output: RunOutput,
}

fn u(v: &Value, ptr: &str) -> u64 {
    v.pointer(ptr).and_then(Value::as_u64).unwrap_or(0)
}

struct Input {
    path: PathBuf,
    json: Value,
    hists: BTreeMap<String, Histogram<u64>>,
    index: u32,
    count: u32,
}

fn read_input(path: &Path) -> anyhow::Result<Input> {
    let json = crate::compare::read(path).map_err(|e| anyhow!(e))?;
    let at = path.display();
    let hists = histograms::decode_all(&json).with_context(|| format!("{at}"))?;
    if hists.is_empty() {
        bail!("{at}: no histograms (written by an older loadgen?): instances can only be merged exactly from their histograms");
    }
    let inst = &json["run"]["instance"];
    let (Some(index), Some(count)) = (inst["index"].as_u64(), inst["count"].as_u64()) else {
        bail!("{at}: not an instance of a multi-instance run (no run.instance; run it with --instance I/N)");
    };
    Ok(Input {
        path: path.to_owned(),
        json,
        hists,
        index: index as u32,
        count: count as u32,
    })
}

/// Checks the inputs are the N distinct instances of one scenario.
fn check_set(inputs: &[Input]) -> anyhow::Result<()> {
    let first = &inputs[0];
    let n = first.count as usize;
    if inputs.len() != n {
        bail!(
            "{} report(s) given for a run of {n} instances (every instance 0..{n} is needed)",
            inputs.len()
        );
    }
    let mut seen = vec![false; n];
    for i in inputs {
        let at = i.path.display();
        if i.count != first.count {
            bail!(
                "{at}: instance {}/{} of a run of {} instances, not {}",
                i.index,
                i.count,
                i.count,
                first.count
            );
        }
        for key in ["/scenario/name", "/run/seed", "/run/clock_speed"] {
            if i.json.pointer(key) != first.json.pointer(key) {
                bail!(
                    "{at}: {key} is {} but {} has {}",
                    i.json.pointer(key).unwrap_or(&Value::Null),
                    first.path.display(),
                    first.json.pointer(key).unwrap_or(&Value::Null)
                );
            }
        }
        let flows = |j: &Value| -> Vec<String> {
            j["flows"]
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()
        };
        if flows(&i.json) != flows(&first.json) {
            bail!(
                "{at}: workloads {:?} differ from {}'s {:?}",
                flows(&i.json),
                first.path.display(),
                flows(&first.json)
            );
        }
        let slot = seen
            .get_mut(i.index as usize)
            .ok_or_else(|| anyhow!("{at}: instance index {} out of range", i.index))?;
        if std::mem::replace(slot, true) {
            bail!("{at}: instance {} given twice", i.index);
        }
    }
    Ok(())
}

/// The histograms of `h` in the order of [`named`].
fn hists_mut(h: &mut Hists) -> impl Iterator<Item = &mut Histogram<u64>> {
    let [s0, s1] = &mut h.by_source;
    let [l0, l1, l2] = &mut h.by_level;
    [
        &mut h.total,
        &mut h.total_uncorrected,
        &mut h.in_cache,
        &mut h.in_http,
        s0,
        s1,
        l0,
        l1,
        l2,
    ]
    .into_iter()
}

/// One workload's stats: its histograms added, its counters summed.
fn workload(inputs: &[Input], name: &str) -> anyhow::Result<WorkloadStats> {
    let mut s = WorkloadStats::default();
    let prefix = format!("flows.{name}.");
    for i in inputs {
        let f = &i.json["flows"][name];
        let c = &mut s.counts;
        c.acquisitions += u(f, "/acquisitions/total");
        c.failed += u(f, "/acquisitions/failed");
        c.dropped += u(f, "/acquisitions/dropped_iterations");
        for (k, src) in SOURCES.iter().enumerate() {
            c.source[k] += u(f, &format!("/token_source/{src}"));
        }
        for (k, l) in LEVELS.iter().enumerate() {
            c.level[k] += u(f, &format!("/cache_level/{l}"));
        }
        for (k, r) in CacheRefreshReason::ALL.iter().enumerate() {
            c.reason[k] += u(f, &format!("/refresh_reason/{}", r.as_str()));
        }
        let names: Vec<String> = named(&prefix, &s.hists)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        for (hname, target) in names.iter().zip(hists_mut(&mut s.hists)) {
            let h = i
                .hists
                .get(hname)
                .ok_or_else(|| anyhow!("{}: no histograms.{hname}", i.path.display()))?;
            target
                .add(h)
                .map_err(|e| anyhow!("{}: histograms.{hname}: {e:?}", i.path.display()))?;
        }
    }
    Ok(s)
}

/// The instances' interval logs (beside their reports), intervals of one workload at the
/// same start added.
fn intervals(inputs: &[Input], names: &[String]) -> anyhow::Result<Vec<Interval>> {
    // (start in ms, workload) → (start_s, length_s, histogram)
    let mut acc: BTreeMap<(u64, usize), (f64, f64, Histogram<u64>)> = BTreeMap::new();
    for i in inputs {
        let path = i
            .path
            .parent()
            .unwrap_or(Path::new("."))
            .join("intervals.hlog");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{}: merging needs each instance's intervals.hlog beside its report.json",
                path.display()
            )
        })?;
        for (n, line) in text.lines().enumerate() {
            let Some(rest) = line.strip_prefix("Tag=") else {
                continue;
            };
            let at = || format!("{}:{}", path.display(), n + 1);
            let mut f = rest.splitn(4, ',');
            let (tag, start, length) = (f.next(), f.next(), f.next());
            let (Some(tag), Some(start), Some(length)) = (tag, start, length) else {
                bail!("{}: not an interval line", at());
            };
            let w = names
                .iter()
                .position(|x| x == tag)
                .ok_or_else(|| anyhow!("{}: unknown workload tag {tag:?}", at()))?;
            let (start_s, length_s): (f64, f64) = match (start.parse(), length.parse()) {
                (Ok(s), Ok(l)) => (s, l),
                _ => bail!("{}: bad interval start/length", at()),
            };
            let h = interval_histogram(line)
                .ok_or_else(|| anyhow!("{}: the interval histogram does not decode", at()))?;
            let key = ((start_s * 1000.0).round() as u64, w);
            match acc.get_mut(&key) {
                Some((_, len, sum)) => {
                    *len = len.max(length_s);
                    sum.add(&h).map_err(|e| anyhow!("{}: {e:?}", at()))?;
                }
                None => {
                    acc.insert(key, (start_s, length_s, h));
                }
            }
        }
    }
    Ok(acc
        .into_iter()
        .map(|((_, w), (start_s, length_s, h))| Interval {
            workload: w,
            start_s,
            length_s,
            line: hlog::line(&h, &names[w], start_s, length_s),
        })
        .collect())
}

/// The fleet's timeline: the instances' ticks of the same interval added (a report without
/// `timeline`, written before it was added, contributes nothing).
fn timeline(inputs: &[Input]) -> anyhow::Result<Vec<Tick>> {
    let mut acc: BTreeMap<u64, Tick> = BTreeMap::new();
    for i in inputs {
        let Some(v) = i.json.get("timeline").filter(|v| !v.is_null()) else {
            continue;
        };
        let entries = v
            .as_array()
            .ok_or_else(|| anyhow!("{}: timeline is not an array", i.path.display()))?;
        for (k, e) in entries.iter().enumerate() {
            let t = Tick::from_report(e)
                .with_context(|| format!("{}: timeline[{k}]", i.path.display()))?;
            let key = (t.t_virtual_s * 1000.0).round() as u64;
            match acc.get_mut(&key) {
                Some(sum) => sum.add(&t),
                None => {
                    acc.insert(key, t);
                }
            }
        }
    }
    Ok(acc.into_values().collect())
}

/// Memory of the whole fleet: the instances' samples summed index by index (they sample on
/// the same virtual schedule), as long as every instance has one.
fn memory(inputs: &[Input]) -> anyhow::Result<Vec<MemSample>> {
    let mut per: Vec<Vec<MemSample>> = Vec::new();
    for i in inputs {
        let v: Vec<MemSample> = serde_json::from_value(i.json["memory"]["samples"].clone())
            .with_context(|| format!("{}: memory.samples", i.path.display()))?;
        per.push(v);
    }
    let n = per.iter().map(Vec::len).min().unwrap_or(0);
    Ok((0..n)
        .map(|k| {
            let mut s = per[0][k];
            for other in &per[1..] {
                let o = &other[k];
                s.t_wall_s = s.t_wall_s.max(o.t_wall_s);
                s.l1_bytes += o.l1_bytes;
                s.l1_entries += o.l1_entries;
                s.l2_bytes += o.l2_bytes;
                s.l2_keys += o.l2_keys;
                s.rss_bytes += o.rss_bytes;
                // Instances share one L2 server: its size is not added up.
                s.l2_server_bytes = s.l2_server_bytes.max(o.l2_server_bytes);
            }
            s
        })
        .collect())
}

/// The instances' L2 method (the first's) and the smallest server baseline: they share
/// one L2 server, so the earliest-looking figure is the closest to before any wrote.
fn l2_baseline(inputs: &[Input]) -> L2Baseline {
    let method = inputs
        .first()
        .and_then(|i| i.json["memory"]["l2_method"].as_str())
        .unwrap_or("unavailable")
        .to_owned();
    let server_bytes = inputs
        .iter()
        .filter_map(|i| i.json["memory"]["l2_server"]["baseline_bytes"].as_u64())
        .min();
    L2Baseline {
        method,
        server_bytes,
    }
}

/// The thresholds as the instances' reports list them (re-parsed from metric and expr).
fn thresholds(first: &Input) -> anyhow::Result<Vec<Threshold>> {
    let list = first.json["thresholds"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    list.iter()
        .map(|t| {
            let (metric, expr) = (
                t["metric"].as_str().unwrap_or(""),
                t["expr"].as_str().unwrap_or(""),
            );
            let at = || format!("{}: threshold {metric:?} {expr:?}", first.path.display());
            let (def, tags) = parse_metric(metric).map_err(|e| anyhow!("{}: {e}", at()))?;
            let (agg, op, limit) = parse_expr(def, expr).map_err(|e| anyhow!("{}: {e}", at()))?;
            Ok(Threshold {
                metric: metric.to_owned(),
                name: def.name,
                unit: def.unit,
                workload: tags.workload,
                expr: expr.to_owned(),
                agg,
                op,
                limit,
                window: tags.window,
                abort_on_fail: false,
                delay_abort_eval: Duration::ZERO,
            })
        })
        .collect()
}

/// Reads and merges the instances' reports.
pub fn merge(paths: &[PathBuf]) -> anyhow::Result<Merged> {
    if paths.is_empty() {
        bail!("no reports to merge");
    }
    let inputs: Vec<Input> = paths
        .iter()
        .map(|p| read_input(p))
        .collect::<anyhow::Result<_>>()?;
    check_set(&inputs)?;
    let first = &inputs[0];
    let workloads: Vec<(String, String)> = first.json["flows"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v["flow"].as_str().unwrap_or("").to_owned()))
        .collect();
    let names: Vec<String> = workloads.iter().map(|w| w.0.clone()).collect();
    let mut stats: Vec<WorkloadStats> = names
        .iter()
        .map(|n| workload(&inputs, n))
        .collect::<anyhow::Result<_>>()?;
    // Failure messages are reported for the whole run only: keep them on the first workload.
    if let Some(w0) = stats.first_mut() {
        for i in &inputs {
            for (msg, n) in i.json["errors"].as_object().into_iter().flatten() {
                *w0.counts.errors.entry(msg.clone()).or_insert(0) += n.as_u64().unwrap_or(0);
            }
        }
    }
    let mut idp_by_status: BTreeMap<String, u64> = BTreeMap::new();
    let mut idp_by_grant: BTreeMap<String, u64> = BTreeMap::new();
    let mut cache = CacheStats::default();
    let mut populated = (0, 0);
    let mut wall = 0.0f64;
    let mut virt = 0.0f64;
    let mut started_at: Option<SystemTime> = None;
    let mut interrupted = false;
    let mut aborted: Option<Aborted> = None;
    for i in &inputs {
        let j = &i.json;
        for (k, v) in j["identity_provider"]["by_status"]
            .as_object()
            .into_iter()
            .flatten()
        {
            *idp_by_status.entry(k.clone()).or_insert(0) += v.as_u64().unwrap_or(0);
        }
        for (k, v) in j["identity_provider"]["by_grant_type"]
            .as_object()
            .into_iter()
            .flatten()
        {
            *idp_by_grant.entry(k.clone()).or_insert(0) += v.as_u64().unwrap_or(0);
        }
        cache.l2_reads += u(j, "/l2/reads");
        cache.l2_hits += u(j, "/l2/hits");
        cache.l2_misses += u(j, "/l2/misses");
        cache.l2_writes += u(j, "/l2/writes");
        cache.l2_errors += u(j, "/l2/errors");
        cache.l2_timeouts += u(j, "/l2/timeouts");
        cache.l2_lost_writes += u(j, "/l2/lost_writes");
        cache.decode_errors += u(j, "/l2/decode_errors");
        populated.0 += u(j, "/run/populate/acquisitions");
        populated.1 += u(j, "/run/populate/failed");
        wall = wall.max(j["run"]["wall_seconds"].as_f64().unwrap_or(0.0));
        virt = virt.max(j["run"]["virtual_seconds"].as_f64().unwrap_or(0.0));
        if let Some(t) = j["run"]["started_at"]
            .as_str()
            .and_then(time::parse_rfc3339)
        {
            started_at = Some(started_at.map_or(t, |s| s.min(t)));
        }
        interrupted |= j["run"]["interrupted"].as_bool() == Some(true);
        if aborted.is_none() {
            if let Some(a) = j["run"]["aborted"].as_object() {
                aborted = Some(Aborted {
                    metric: a["metric"].as_str().unwrap_or("").to_owned(),
                    expr: a["expr"].as_str().unwrap_or("").to_owned(),
                    observed: a["observed"].as_f64(),
                    at_virtual_s: a["at_virtual_s"].as_f64().unwrap_or(0.0),
                    window: None,
                });
            }
        }
    }
    let output = RunOutput {
        started_at: started_at.unwrap_or(SystemTime::UNIX_EPOCH),
        wall: Duration::from_secs_f64(wall),
        virtual_secs: virt,
        interrupted,
        aborted,
        workloads: std::mem::take(&mut stats),
        idp_by_status,
        cache,
        memory: memory(&inputs)?,
        l2_baseline: l2_baseline(&inputs),
        intervals: intervals(&inputs, &names)?,
        timeline: timeline(&inputs)?,
        populated,
        // Bytes per partition and the capacity inputs are per process: a merged report
        // has none (plan from one instance's report).
        populate_steps: Vec::new(),
        idp_by_grant,
        // The instances ran with their own ids (each in its own report): the merge is new.
        run_id: crate::telemetry::new_run_id(),
    };
    let meta = Meta {
        name: first.json["scenario"]["name"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        file: first.json["scenario"]["file"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        description: first.json["scenario"]["description"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        seed: u(&first.json, "/run/seed"),
        speed: first.json["run"]["clock_speed"].as_f64().unwrap_or(1.0),
        workloads,
        thresholds: thresholds(first)?,
        instance: None,
        merged_instances: Some(first.count),
        shape: None,
    };
    Ok(Merged { meta, output })
}
