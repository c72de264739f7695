//! The end-of-run summary in the style of k6: thresholds with ✓/✗ and the observed value,
//! then the metrics, overall and per workload.

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use tokencache::client::CacheRefreshReason;

use super::observe::Outcome;
use crate::run::stats::WorkloadStats;
use crate::run::RunOutput;
use crate::scenario::Scenario;
use crate::thresholds::Unit;

fn line(s: &mut String, indent: usize, name: &str, value: &str) {
    let dots = 34usize.saturating_sub(name.len() + indent);
    let _ = writeln!(s, "{:indent$}{name}{}: {value}", "", ".".repeat(dots));
}

fn ms(ns: u64) -> String {
    let v = ns as f64 / 1e6;
    if v < 1.0 {
        format!("{:.0}µs", v * 1000.0)
    } else if v < 1000.0 {
        format!("{v:.2}ms")
    } else {
        format!("{:.2}s", v / 1000.0)
    }
}

fn durations(h: &Histogram<u64>) -> String {
    if h.is_empty() {
        return "no samples".into();
    }
    format!(
        "avg={} min={} med={} p(90)={} p(99)={} p(99.9)={} max={}",
        ms(h.mean() as u64),
        ms(h.min()),
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.9)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
        ms(h.max())
    )
}

pub fn bytes(b: u64) -> String {
    let b = b as f64;
    match b {
        b if b >= 1024.0 * 1024.0 * 1024.0 => format!("{:.2} GiB", b / (1024.0 * 1024.0 * 1024.0)),
        b if b >= 1024.0 * 1024.0 => format!("{:.1} MiB", b / (1024.0 * 1024.0)),
        b if b >= 1024.0 => format!("{:.1} KiB", b / 1024.0),
        b => format!("{b} B"),
    }
}

fn observed(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Millis => format!("{v:.3}ms"),
        Unit::Bytes => bytes(v as u64),
        Unit::Plain if v.fract() == 0.0 => format!("{v}"),
        Unit::Plain => format!("{v:.4}"),
    }
}

fn workload_metrics(s: &mut String, indent: usize, w: &WorkloadStats, open: bool) {
    let c = &w.counts;
    let failed_pct = c.failed as f64 * 100.0 / c.acquisitions.max(1) as f64;
    line(
        s,
        indent,
        "acquisitions.failed",
        &format!("{failed_pct:.2}%  {} of {}", c.failed, c.acquisitions),
    );
    line(
        s,
        indent,
        "token_source",
        &format!(
            "cache={} identity_provider={} ratio={:.2}%",
            c.source[0],
            c.source[1],
            w.cache_ratio() * 100.0
        ),
    );
    line(
        s,
        indent,
        "cache_level",
        &format!("l1={} l2={} none={}", c.level[1], c.level[2], c.level[0]),
    );
    let reasons: Vec<String> = CacheRefreshReason::ALL
        .iter()
        .zip(c.reason)
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| format!("{}={n}", r.as_str()))
        .collect();
    line(s, indent, "refresh_reason", &reasons.join(" "));
    line(s, indent, "duration_total", &durations(&w.hists.total));
    if open {
        line(
            s,
            indent,
            "duration_total_uncorrected",
            &durations(&w.hists.total_uncorrected),
        );
    }
    line(
        s,
        indent,
        "duration_in_cache",
        &durations(&w.hists.in_cache),
    );
    line(s, indent, "duration_in_http", &durations(&w.hists.in_http));
    if c.dropped > 0 || open {
        line(s, indent, "dropped_iterations", &c.dropped.to_string());
    }
}

pub fn render(
    scn: &Scenario,
    out: &RunOutput,
    all: &WorkloadStats,
    outcomes: &[Outcome],
    pass: bool,
) -> String {
    let mut s = String::new();
    let wall = out.wall.as_secs_f64();
    let _ = writeln!(
        s,
        "\n  scenario: {} ({}) · seed {} · {:.1}s wall · {:.0}s virtual (speed ×{}){}\n",
        scn.name,
        scn.file,
        scn.seed,
        wall,
        out.virtual_secs,
        scn.speed,
        if out.interrupted {
            " · INTERRUPTED"
        } else {
            ""
        }
    );
    if !outcomes.is_empty() {
        s.push_str("  THRESHOLDS\n\n");
        let mut last = "";
        for (o, t) in outcomes.iter().zip(&scn.thresholds) {
            if o.metric != last {
                let _ = writeln!(s, "    {}", o.metric);
                last = &o.metric;
            }
            let mark = if o.pass { "✓" } else { "✗" };
            let obs = o.observed.map_or("nothing observed".to_owned(), |v| {
                format!("{}={}", t.agg, observed(t.unit, v))
            });
            let _ = writeln!(s, "    {mark} '{}' {obs}", o.expr);
        }
        s.push('\n');
    }
    s.push_str("  METRICS\n\n");
    let n = all.counts.acquisitions;
    line(
        &mut s,
        4,
        "acquisitions",
        &format!(
            "{n}  {:.1}/s wall  {:.1}/s virtual",
            n as f64 / wall.max(1e-9),
            n as f64 / out.virtual_secs.max(1e-9)
        ),
    );
    let any_open = scn
        .workloads
        .iter()
        .any(|w| !matches!(w.arrival, crate::scenario::model::Arrival::Concurrency(_)));
    workload_metrics(&mut s, 4, all, any_open);
    let by_status: Vec<String> = out
        .idp_by_status
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    line(
        &mut s,
        4,
        "identity_provider.requests",
        &format!(
            "{}  ({})",
            out.idp_by_status.values().sum::<u64>(),
            by_status.join(" ")
        ),
    );
    let l2 = &out.cache;
    line(
        &mut s,
        4,
        "l2",
        &format!(
            "reads={} hits={} writes={} errors={} timeouts={}",
            l2.l2_reads, l2.l2_hits, l2.l2_writes, l2.l2_errors, l2.l2_timeouts
        ),
    );
    let peak =
        |f: fn(&crate::run::memory::MemSample) -> u64| out.memory.iter().map(f).max().unwrap_or(0);
    line(
        &mut s,
        4,
        "memory (peak)",
        &format!(
            "l1={} ({} entries) l2={} ({} keys) rss={}",
            bytes(peak(|m| m.l1_bytes)),
            peak(|m| m.l1_entries),
            bytes(peak(|m| m.l2_bytes)),
            peak(|m| m.l2_keys),
            bytes(peak(|m| m.rss_bytes))
        ),
    );
    if scn.workloads.len() > 1 {
        for (w, st) in scn.workloads.iter().zip(&out.workloads) {
            let _ = writeln!(
                s,
                "\n    workload {} ({}): {} acquisitions",
                w.name,
                w.flow.name(),
                st.counts.acquisitions
            );
            let open = !matches!(w.arrival, crate::scenario::model::Arrival::Concurrency(_));
            workload_metrics(&mut s, 6, st, open);
        }
    }
    if !all.counts.errors.is_empty() {
        s.push_str("\n  ERRORS\n\n");
        for (msg, n) in &all.counts.errors {
            let _ = writeln!(s, "    {n} × {msg}");
        }
    }
    let passed = outcomes.iter().filter(|o| o.pass).count();
    let _ = writeln!(
        s,
        "\n  verdict: {} (thresholds {passed}/{} passed)\n",
        if pass { "PASS" } else { "FAIL" },
        outcomes.len()
    );
    s
}
