//! report.html: one self-contained page (inline CSS and SVG, no script, no network; a strict
//! Content-Security-Policy) rendered from report.json alone — the histograms it embeds give
//! the percentile curves, `timeline` the charts over time, `memory.samples` the memory growth.
//! With two reports (`loadgen report A.json B.json`) every chart overlays both runs (the
//! second dashed). Every number taken from report.json carries `data-run` (0 or 1) and
//! `data-key` (its path in report.json, dot-separated) and `data-value` (the JSON value), so a
//! browser test can check the page against the report.

pub mod svg;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde_json::Value;

use super::histograms;
use svg::{chart, Axis, Scale, Series, PALETTE};

/// Escapes text for HTML content and attributes.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One report to render, with a short label (A, B) and where it came from.
#[derive(Debug)]
pub struct Run<'a> {
    pub label: String,
    pub source: String,
    pub json: &'a Value,
    hists: BTreeMap<String, Histogram<u64>>,
}

impl<'a> Run<'a> {
    /// Decodes the report's histograms; an error names the broken one.
    pub fn new(label: &str, source: &str, json: &'a Value) -> anyhow::Result<Self> {
        Ok(Run {
            label: label.to_owned(),
            source: source.to_owned(),
            json,
            hists: histograms::decode_all(json)?,
        })
    }
}

fn get<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    key.split('.').try_fold(v, |v, k| match v {
        Value::Array(a) => k.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => v.get(k),
    })
}

fn f(v: &Value, key: &str) -> f64 {
    get(v, key).and_then(Value::as_f64).unwrap_or(0.0)
}

/// A number as shown: integers whole, others with at most three decimals.
fn show(v: &Value) -> String {
    match v {
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or(0.0);
            let s = format!("{x:.3}");
            let s = s.trim_end_matches('0').trim_end_matches('.');
            if s == "-0" {
                "0".into()
            } else {
                s.into()
            }
        }
        Value::Null => "–".into(),
        other => other.to_string().trim_matches('"').to_owned(),
    }
}

/// A `<td>` holding report.json's `key` of run `run`.
fn cell(run: usize, json: &Value, key: &str) -> String {
    match get(json, key) {
        Some(v) if !v.is_object() && !v.is_array() => format!(
            r#"<td class="num" data-run="{run}" data-key="{}" data-value="{}">{}</td>"#,
            esc(key),
            esc(&v.to_string()),
            esc(&show(v))
        ),
        _ => r#"<td class="num missing">–</td>"#.into(),
    }
}

pub fn fmt_ms(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v < 0.001 {
        format!("{} ns", trim(v * 1e6))
    } else if v < 1.0 {
        format!("{} µs", trim(v * 1e3))
    } else if v < 1000.0 {
        format!("{} ms", trim(v))
    } else {
        format!("{} s", trim(v / 1e3))
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_owned()
    }
}

pub fn fmt_bytes(v: f64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = v;
    let mut i = 0;
    while x.abs() >= 1024.0 && i + 1 < U.len() {
        x /= 1024.0;
        i += 1;
    }
    format!("{} {}", trim(x), U[i])
}

fn fmt_plain(v: f64) -> String {
    trim(v)
}

fn fmt_pct(v: f64) -> String {
    format!("{}%", trim(v * 100.0))
}

/// Percentile axis ticks: x = log10(1 / (1 - q)).
fn pct_ticks() -> Vec<(f64, String)> {
    ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"]
        .iter()
        .enumerate()
        .map(|(i, l)| (i as f64, (*l).to_owned()))
        .collect()
}

/// The percentile curve of a histogram on the log percentile axis, in milliseconds.
fn curve(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    // Up to the percentile of the last value (1 - 1/count), at most 99.9999%.
    let xmax = (h.len() as f64).log10().clamp(1.0, 6.0);
    let n = 120;
    (0..=n)
        .map(|i| {
            let x = xmax * i as f64 / n as f64;
            let q = 1.0 - 10f64.powf(-x);
            (x, h.value_at_quantile(q) as f64 / 1e6)
        })
        .chain(std::iter::once((xmax, h.max() as f64 / 1e6)))
        .collect()
}

struct Page {
    body: String,
    charts: usize,
}

impl Page {
    fn figure(&mut self, id: &str, title: &str, note: &str, x: &Axis, y: &Axis, series: &[Series]) {
        self.charts += 1;
        let _ = write!(
            self.body,
            r#"<figure class="chart" id="{id}" data-chart="{id}"><figcaption>{}</figcaption>"#,
            esc(title)
        );
        match chart(title, x, y, series) {
            Some(svg) => {
                self.body.push_str(&svg);
                self.body.push_str(r#"<ul class="legend">"#);
                for s in series.iter().filter(|s| !s.points.is_empty()) {
                    let dash = if s.dashed { " dashed" } else { "" };
                    let _ = write!(
                        self.body,
                        r#"<li><span class="swatch{dash}" style="border-color:{}"></span>{}</li>"#,
                        s.color,
                        esc(&s.label)
                    );
                }
                self.body.push_str("</ul>");
            }
            None => {
                self.body
                    .push_str(r#"<p class="empty" data-empty="true">No data in this run.</p>"#);
            }
        }
        if !note.is_empty() {
            let _ = write!(self.body, r#"<p class="note">{}</p>"#, esc(note));
        }
        self.body.push_str("</figure>");
    }
}

fn timeline(j: &Value) -> &[Value] {
    j.get("timeline")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Workload names of every run, in first-seen order.
fn workloads(runs: &[Run]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in runs {
        if let Some(m) = r.json.get("flows").and_then(Value::as_object) {
            for k in m.keys() {
                if !out.contains(k) {
                    out.push(k.clone());
                }
            }
        }
    }
    out
}

fn label(runs: &[Run], i: usize, what: &str) -> String {
    if runs.len() > 1 {
        format!("{} · {what}", runs[i].label)
    } else {
        what.to_owned()
    }
}

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:16px 24px;color:#222}
h1{font-size:22px;margin:4px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}th{background:#f4f4f4}
td.num{text-align:right;font-variant-numeric:tabular-nums}.pass{color:#1a7f37;font-weight:600}.fail{color:#c62828;font-weight:600}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:12px}
figure.chart{margin:0;border:1px solid #e3e3e3;border-radius:4px;padding:8px}figcaption{font-weight:600;margin-bottom:4px}
svg{width:100%;height:auto}svg text{font-size:11px;fill:#444}svg text.axis{font-size:12px;fill:#222}
ul.legend{list-style:none;padding:0;margin:4px 0;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px}
.swatch{display:inline-block;width:22px;border-top:3px solid;margin-right:5px;vertical-align:middle}.swatch.dashed{border-top-style:dashed}
.note,.meta{color:#666;font-size:12px}.empty{color:#999}";

/// Renders the page of one run, or the overlay of two.
pub fn render(runs: &[Run]) -> String {
    let mut p = Page {
        body: String::new(),
        charts: 0,
    };
    let title = if runs.len() > 1 {
        format!(
            "loadgen overlay: {}",
            runs.iter()
                .map(|r| f_str(r.json, "scenario.name"))
                .collect::<Vec<_>>()
                .join(" vs ")
        )
    } else {
        format!(
            "loadgen report: {}",
            runs.first()
                .map_or(String::new(), |r| f_str(r.json, "scenario.name"))
        )
    };
    let _ = write!(p.body, "<h1>{}</h1>", esc(&title));
    summary(&mut p.body, runs);
    thresholds(&mut p.body, runs);
    p.body
        .push_str(r#"<h2>Latency by percentile</h2><div class="charts">"#);
    percentile_charts(&mut p, runs);
    p.body
        .push_str(r#"</div><h2>Over time</h2><div class="charts">"#);
    time_charts(&mut p, runs);
    p.body.push_str(r#"</div><h2>Capacity</h2>"#);
    capacity(&mut p, runs);
    let _ = write!(
        p.body,
        r#"<p class="meta">{} charts. Rendered by loadgen from report.json alone (its histograms, timeline and memory samples).</p>"#,
        p.charts
    );
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{}</title><style>{STYLE}</style></head>
<body>{}</body></html>
"#,
        esc(&title),
        p.body
    )
}

fn f_str(v: &Value, key: &str) -> String {
    get(v, key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

const SUMMARY_KEYS: [(&str, &str); 16] = [
    ("verdict", "verdict"),
    ("run.started_at", "started at"),
    ("run.virtual_seconds", "virtual seconds"),
    ("run.wall_seconds", "wall seconds"),
    ("acquisitions.total", "acquisitions"),
    ("acquisitions.failed", "failed"),
    ("acquisitions.dropped_iterations", "dropped iterations"),
    ("token_source.cache_ratio", "cache ratio"),
    ("durations_ms.total.p50", "total p50 (ms)"),
    ("durations_ms.total.p90", "total p90 (ms)"),
    ("durations_ms.total.p99", "total p99 (ms)"),
    ("durations_ms.total.p999", "total p99.9 (ms)"),
    ("durations_ms.in_cache.p99", "in cache p99 (ms)"),
    ("durations_ms.in_http.p99", "in HTTP p99 (ms)"),
    ("identity_provider.requests", "identity-provider requests"),
    (
        "throughput.acquisitions_per_wall_second",
        "acquisitions / wall s",
    ),
];

fn summary(b: &mut String, runs: &[Run]) {
    b.push_str("<h2>Summary</h2><table><tr><th></th>");
    for r in runs {
        let _ = write!(
            b,
            "<th>{} <span class=\"meta\">{}</span></th>",
            esc(&r.label),
            esc(&r.source)
        );
    }
    b.push_str("</tr>");
    for (key, name) in SUMMARY_KEYS {
        let _ = write!(b, "<tr><th>{}</th>", esc(name));
        for (i, r) in runs.iter().enumerate() {
            let mut c = cell(i, r.json, key);
            if key == "verdict" {
                let cls = if f_str(r.json, key) == "pass" {
                    "pass"
                } else {
                    "fail"
                };
                c = c.replacen("class=\"num\"", &format!("class=\"{cls}\""), 1);
            }
            b.push_str(&c);
        }
        b.push_str("</tr>");
    }
    b.push_str("</table>");
}

fn thresholds(b: &mut String, runs: &[Run]) {
    b.push_str("<h2>Thresholds</h2>");
    for (i, r) in runs.iter().enumerate() {
        let list = r
            .json
            .get("thresholds")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        if runs.len() > 1 {
            let _ = write!(b, "<h3>{}</h3>", esc(&r.label));
        }
        if list.is_empty() {
            b.push_str("<p class=\"meta\">No thresholds.</p>");
            continue;
        }
        b.push_str(
            "<table><tr><th>metric</th><th>threshold</th><th>observed</th><th>result</th></tr>",
        );
        for (k, t) in list.iter().enumerate() {
            let pass = t.get("pass").and_then(Value::as_bool).unwrap_or(false);
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td>{}<td class=\"{}\" data-run=\"{i}\" data-key=\"thresholds.{k}.pass\" data-value=\"{pass}\">{}</td></tr>",
                esc(&f_str(t, "metric")),
                esc(&f_str(t, "expr")),
                cell(i, r.json, &format!("thresholds.{k}.observed")),
                if pass { "pass" } else { "fail" },
                if pass { "pass" } else { "FAIL" },
            );
        }
        b.push_str("</table>");
    }
}

fn percentile_charts(p: &mut Page, runs: &[Run]) {
    let x = Axis {
        ticks: Some(pct_ticks()),
        from_zero: false,
        ..Axis::new("percentile", Scale::Linear, fmt_plain)
    };
    let y = Axis::new("latency", Scale::Log, fmt_ms);
    let parts = [
        ("total", PALETTE[0]),
        ("in_cache", PALETTE[2]),
        ("in_http", PALETTE[1]),
    ];
    let mut scopes: Vec<(String, String)> = vec![("".into(), "all workloads".into())];
    scopes.extend(
        workloads(runs)
            .into_iter()
            .map(|w| (format!("flows.{w}."), format!("workload {w}"))),
    );
    for (k, (prefix, name)) in scopes.iter().enumerate() {
        let mut series = Vec::new();
        for (i, r) in runs.iter().enumerate() {
            for (part, color) in parts {
                if let Some(h) = r.hists.get(&format!("{prefix}{part}")) {
                    series.push(Series {
                        label: label(runs, i, part),
                        color,
                        dashed: i > 0,
                        points: curve(h),
                    });
                }
            }
        }
        p.figure(
            &format!("percentiles-{k}"),
            &format!("Latency by percentile: {name}"),
            "DurationTotal (total), DurationInCache (in_cache) and DurationInHttp (in_http); the percentile axis is logarithmic as in HdrHistogram's plotter. Acquisitions without an HTTP call have in_http 0, drawn at the 1 ns floor.",
            &x,
            &y,
            &series,
        );
    }
}

fn over_time(
    runs: &[Run],
    keys: &[(&str, &str)],
    value: impl Fn(&Value, &str) -> Option<f64>,
) -> Vec<Series> {
    let mut out = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        // A run's last interval can be a sliver (the run ended just past an interval
        // boundary): too short to be a rate, it is left out.
        let full = timeline(r.json)
            .iter()
            .map(|t| f(t, "length_s"))
            .fold(0.0, f64::max);
        for (k, (key, name)) in keys.iter().enumerate() {
            let points: Vec<(f64, f64)> = timeline(r.json)
                .iter()
                .filter(|t| f(t, "length_s") > 0.0 && f(t, "length_s") >= full / 2.0)
                .filter_map(|t| Some((f(t, "t_virtual_s") + f(t, "length_s"), value(t, key)?)))
                .collect();
            out.push(Series {
                label: label(runs, i, name),
                color: PALETTE[k % PALETTE.len()],
                dashed: i > 0,
                points,
            });
        }
    }
    out
}

/// Names under `key` of any timeline entry of any run, with a non-zero count.
fn nonzero_keys(runs: &[Run], key: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in runs {
        for t in timeline(r.json) {
            if let Some(m) = get(t, key).and_then(Value::as_object) {
                for (k, v) in m {
                    if v.as_u64().unwrap_or(0) > 0 && !out.contains(k) {
                        out.push(k.clone());
                    }
                }
            }
        }
    }
    out
}

fn time_charts(p: &mut Page, runs: &[Run]) {
    let x = Axis::new("virtual time (s)", Scale::Linear, fmt_plain);
    let lat = [
        ("latency_ms.p50", "p50"),
        ("latency_ms.p90", "p90"),
        ("latency_ms.p99", "p99"),
    ];
    let series = over_time(runs, &lat, |t, k| get(t, k).and_then(Value::as_f64));
    p.figure(
        "latency-over-time",
        "Latency over time (DurationTotal per interval)",
        "",
        &x,
        &Axis::new("latency", Scale::Log, fmt_ms),
        &series,
    );
    let ratio = over_time(runs, &[("", "cache ratio")], |t, _| {
        let c = f(t, "token_source.cache");
        let idp = f(t, "token_source.identity_provider");
        (c + idp > 0.0).then(|| c / (c + idp))
    });
    let y = Axis {
        ticks: Some(
            (0..=5)
                .map(|i| (i as f64 / 5.0, fmt_pct(i as f64 / 5.0)))
                .collect(),
        ),
        ..Axis::new("served from the cache", Scale::Linear, fmt_pct)
    };
    p.figure(
        "token-source-over-time",
        "Token source over time (share served from the cache)",
        "cache / (cache + identity_provider) per interval.",
        &x,
        &y,
        &ratio,
    );
    rate_figure(
        p,
        runs,
        &x,
        ("refresh-reasons-over-time", "Refresh reasons over time"),
        "Acquisitions per virtual second by CacheRefreshReason.",
        "refresh_reason",
        |k| k.to_owned(),
    );
    rate_figure(
        p,
        runs,
        &x,
        ("idp-over-time", "Identity-provider requests over time"),
        "Token-endpoint requests per virtual second by HTTP status.",
        "identity_provider.by_status",
        |k| format!("HTTP {k}"),
    );
    let mem = [
        ("l1_bytes", "L1 bytes"),
        ("l2_bytes", "L2 bytes"),
        ("rss_bytes", "process RSS"),
    ];
    let mut series = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        let samples = get(r.json, "memory.samples")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for (k, (key, name)) in mem.iter().enumerate() {
            series.push(Series {
                label: label(runs, i, name),
                color: PALETTE[k],
                dashed: i > 0,
                points: samples
                    .iter()
                    .map(|s| (f(s, "t_virtual_s"), f(s, key)))
                    .collect(),
            });
        }
    }
    p.figure(
        "memory-over-time",
        "Memory over time",
        "",
        &x,
        &Axis {
            base: 1024.0,
            ..Axis::new("bytes", Scale::Linear, fmt_bytes)
        },
        &series,
    );
}

/// A chart of the per-interval counters under `prefix` (those not zero in every run), as
/// rates per virtual second, one series per key labelled by `label`.
fn rate_figure(
    p: &mut Page,
    runs: &[Run],
    x: &Axis,
    (id, title): (&str, &str),
    caption: &str,
    prefix: &str,
    label: impl Fn(&str) -> String,
) {
    let keys: Vec<(String, String)> = nonzero_keys(runs, prefix)
        .into_iter()
        .map(|k| (format!("{prefix}.{k}"), label(&k)))
        .collect();
    let refs: Vec<(&str, &str)> = keys.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let series = over_time(runs, &refs, |t, k| {
        Some(f(t, k) / f(t, "length_s").max(1e-9))
    });
    p.figure(
        id,
        title,
        caption,
        x,
        &Axis::new("per second", Scale::Linear, fmt_plain),
        &series,
    );
}

/// Numeric leaves of `v` as (dot path, value).
fn leaves(prefix: &str, v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                leaves(&format!("{prefix}.{k}"), x, out);
            }
        }
        Value::Number(_) => out.push(prefix.to_owned()),
        _ => {}
    }
}

fn capacity(p: &mut Page, runs: &[Run]) {
    let b = &mut p.body;
    let mut rows: Vec<(String, bool)> = [
        "memory.peak.l1_bytes",
        "memory.peak.l1_entries",
        "memory.peak.l2_bytes",
        "memory.peak.l2_keys",
        "memory.peak.rss_bytes",
    ]
    .iter()
    .map(|k| ((*k).to_owned(), k.ends_with("bytes")))
    .collect();
    // Optional keys (written by newer runs): shown when present.
    for key in [
        "memory.l2_server",
        "memory.bytes_per_partition",
        "memory.growth_per_1000_partitions",
        "capacity",
    ] {
        let mut found = Vec::new();
        for r in runs {
            if let Some(v) = get(r.json, key) {
                leaves(key, v, &mut found);
            }
        }
        for k in found {
            if !rows.iter().any(|(x, _)| *x == k) {
                let bytes = k.contains("bytes");
                rows.push((k, bytes));
            }
        }
    }
    b.push_str("<table><tr><th>report.json key</th>");
    for r in runs {
        let _ = write!(b, "<th colspan=\"2\">{}</th>", esc(&r.label));
    }
    b.push_str("</tr>");
    for (key, bytes) in &rows {
        let _ = write!(b, "<tr><th>{}</th>", esc(key));
        for (i, r) in runs.iter().enumerate() {
            b.push_str(&cell(i, r.json, key));
            let human = match get(r.json, key).and_then(Value::as_f64) {
                Some(v) if *bytes => fmt_bytes(v),
                _ => String::new(),
            };
            let _ = write!(b, "<td class=\"meta\">{human}</td>");
        }
        b.push_str("</tr>");
    }
    // Derived: bytes per cached entry at the peak.
    for (label, bytes, count) in [
        (
            "L1 bytes per entry at peak (derived)",
            "memory.peak.l1_bytes",
            "memory.peak.l1_entries",
        ),
        (
            "L2 bytes per key at peak (derived)",
            "memory.peak.l2_bytes",
            "memory.peak.l2_keys",
        ),
    ] {
        let _ = write!(b, "<tr><th>{label}</th>");
        for r in runs {
            let (by, n) = (f(r.json, bytes), f(r.json, count));
            let v = if n > 0.0 {
                fmt_bytes(by / n)
            } else {
                "–".into()
            };
            let _ = write!(b, "<td class=\"num\" colspan=\"2\">{v}</td>");
        }
        b.push_str("</tr>");
    }
    b.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_show_at_most_three_decimals_and_carry_their_key() {
        let j = serde_json::json!({"durations_ms": {"total": {"p99": 1.234_567}}, "acquisitions": {"total": 42}});
        let c = cell(1, &j, "durations_ms.total.p99");
        assert!(
            c.contains(r#"data-run="1""#) && c.contains(r#"data-key="durations_ms.total.p99""#)
        );
        assert!(
            c.contains(r#"data-value="1.234567""#) && c.contains(">1.235<"),
            "{c}"
        );
        assert!(cell(0, &j, "acquisitions.total").contains(">42<"));
        assert!(cell(0, &j, "nope").contains("missing"));
    }

    #[test]
    fn capacity_keys_of_newer_reports_are_shown_when_present() {
        let j = serde_json::json!({
            "schema_version": 1,
            "memory": {"peak": {"l1_bytes": 2048, "l1_entries": 4}, "bytes_per_partition": {"l1": 512.5},
                       "l2_method": "memory-usage-sample",
                       "l2_server": {"baseline_bytes": 988_960, "delta_bytes": 5_557_664, "delta_bytes_per_key": 2778.8},
                       "growth_per_1000_partitions": {"l1_bytes": 2_266_000}},
            "capacity": {"partitions_per_gib": 1_000_000, "flows": {"daemon": {"bytes_per_partition": 600}}},
        });
        let html = render(&[Run::new("A", "a.json", &j).unwrap()]);
        for key in [
            "memory.bytes_per_partition.l1",
            "memory.l2_server.delta_bytes",
            "memory.l2_server.delta_bytes_per_key",
            "memory.growth_per_1000_partitions.l1_bytes",
            "capacity.partitions_per_gib",
            "capacity.flows.daemon.bytes_per_partition",
            "memory.peak.l1_bytes",
        ] {
            assert!(
                html.contains(&format!(r#"data-key="{key}""#)),
                "{key} missing"
            );
        }
        // Bytes also shown in binary units; the derived per-entry size from the peak.
        assert!(html.contains("2 KiB") && html.contains("512 B"), "{html}");
        let old =
            render(&[Run::new("A", "a.json", &serde_json::json!({"schema_version": 1})).unwrap()]);
        assert!(!old.contains("data-key=\"capacity"));
    }

    #[test]
    fn text_from_the_report_is_escaped() {
        let j =
            serde_json::json!({"schema_version": 1, "scenario": {"name": "<script>x</script>"}});
        let run = Run::new("A", "a.json", &j).unwrap();
        let html = render(&[run]);
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
    }
}
