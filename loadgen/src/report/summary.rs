//! The end-of-run summary in the style of k6: thresholds with ✓/✗ and the observed value,
//! then the metrics, overall and per workload. Rendered from report.json alone, so
//! `loadgen report REPORT.json` shows a past run exactly as it was printed.

use std::fmt::Write as _;

use serde_json::Value;

use crate::thresholds::{parse_expr, parse_metric, Unit};

fn line(s: &mut String, indent: usize, name: &str, value: &str) {
    let dots = 34usize.saturating_sub(name.len() + indent);
    let _ = writeln!(s, "{:indent$}{name}{}: {value}", "", ".".repeat(dots));
}

fn f(v: &Value, path: &str) -> f64 {
    v.pointer(path).and_then(Value::as_f64).unwrap_or(0.0)
}

fn u(v: &Value, path: &str) -> u64 {
    v.pointer(path).and_then(Value::as_u64).unwrap_or(0)
}

fn ms(v: f64) -> String {
    if v < 1.0 {
        format!("{:.0}µs", v * 1000.0)
    } else if v < 1000.0 {
        format!("{v:.2}ms")
    } else {
        format!("{:.2}s", v / 1000.0)
    }
}

fn durations(d: &Value) -> String {
    if u(d, "/count") == 0 {
        return "no samples".into();
    }
    format!(
        "avg={} min={} med={} p(90)={} p(99)={} p(99.9)={} max={}",
        ms(f(d, "/mean")),
        ms(f(d, "/min")),
        ms(f(d, "/p50")),
        ms(f(d, "/p90")),
        ms(f(d, "/p99")),
        ms(f(d, "/p999")),
        ms(f(d, "/max"))
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

/// The metrics of the whole run or of one flow (same keys).
fn metrics(s: &mut String, indent: usize, w: &Value) {
    let (n, failed) = (u(w, "/acquisitions/total"), u(w, "/acquisitions/failed"));
    let pct = failed as f64 * 100.0 / n.max(1) as f64;
    line(
        s,
        indent,
        "acquisitions.failed",
        &format!("{pct:.2}%  {failed} of {n}"),
    );
    line(
        s,
        indent,
        "token_source",
        &format!(
            "cache={} identity_provider={} ratio={:.2}%",
            u(w, "/token_source/cache"),
            u(w, "/token_source/identity_provider"),
            f(w, "/token_source/cache_ratio") * 100.0
        ),
    );
    line(
        s,
        indent,
        "cache_level",
        &format!(
            "l1={} l2={} none={}",
            u(w, "/cache_level/l1"),
            u(w, "/cache_level/l2"),
            u(w, "/cache_level/none")
        ),
    );
    let reasons: Vec<String> = w["refresh_reason"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_u64().filter(|n| *n > 0).map(|n| format!("{k}={n}")))
        .collect();
    line(s, indent, "refresh_reason", &reasons.join(" "));
    let d = &w["durations_ms"];
    line(s, indent, "duration_total", &durations(&d["total"]));
    line(
        s,
        indent,
        "duration_total_uncorrected",
        &durations(&d["total_uncorrected"]),
    );
    line(s, indent, "duration_in_cache", &durations(&d["in_cache"]));
    line(s, indent, "duration_in_http", &durations(&d["in_http"]));
    line(
        s,
        indent,
        "dropped_iterations",
        &u(w, "/acquisitions/dropped_iterations").to_string(),
    );
}

fn thresholds(s: &mut String, r: &Value) {
    let Some(list) = r["thresholds"].as_array().filter(|l| !l.is_empty()) else {
        return;
    };
    s.push_str("  THRESHOLDS\n\n");
    let mut last = String::new();
    for t in list {
        let metric = t["metric"].as_str().unwrap_or("");
        let expr = t["expr"].as_str().unwrap_or("");
        if metric != last {
            let _ = writeln!(s, "    {metric}");
            last = metric.to_owned();
        }
        let mark = if t["pass"].as_bool() == Some(true) {
            "✓"
        } else {
            "✗"
        };
        let how = parse_metric(metric)
            .ok()
            .and_then(|(def, _)| Some((def.unit, parse_expr(def, expr).ok()?.0)));
        let obs = match (t["observed"].as_f64(), how) {
            (None, _) => "nothing observed".to_owned(),
            (Some(v), Some((unit, agg))) => format!("{agg}={}", observed(unit, v)),
            (Some(v), None) => format!("{v}"),
        };
        let mut extra = String::new();
        if let (Some(from), Some(to)) = (
            t.pointer("/window/from_s").and_then(Value::as_f64),
            t.pointer("/window/to_s").and_then(Value::as_f64),
        ) {
            let failed = u(t, "/windows_failed");
            extra = format!(" in window {from}s..{to}s ({failed} window(s) failed)");
        }
        if t["aborted"].as_bool() == Some(true) {
            extra.push_str(" — aborted the run");
        }
        let _ = writeln!(s, "    {mark} '{expr}' {obs}{extra}");
    }
    s.push('\n');
}

/// Renders a report (report.json's layout).
pub fn render(r: &Value) -> String {
    let mut s = String::new();
    let (wall, virt) = (f(r, "/run/wall_seconds"), f(r, "/run/virtual_seconds"));
    let _ =
        writeln!(
        s,
        "\n  scenario: {} ({}) · seed {} · {wall:.1}s wall · {virt:.0}s virtual (speed ×{}){}\n",
        r["scenario"]["name"].as_str().unwrap_or("?"),
        r["scenario"]["file"].as_str().unwrap_or("?"),
        u(r, "/run/seed"),
        f(r, "/run/clock_speed"),
        if r["run"]["interrupted"].as_bool() == Some(true) { " · INTERRUPTED" } else { "" }
    );
    if let Some(i) = r["run"]["instance"].as_object() {
        let _ = writeln!(
            s,
            "  instance {}/{} of a multi-instance run (merge the instances with `loadgen merge`)\n",
            i["index"], i["count"]
        );
    }
    if let Some(n) = r["run"]["merged_instances"].as_u64() {
        let _ = writeln!(s, "  merged from {n} instances\n");
    }
    if let Some(a) = r["run"]["aborted"].as_object() {
        let _ = writeln!(
            s,
            "  ABORTED at {}s (virtual) by {} '{}' (abortOnFail), observed {}\n",
            a["at_virtual_s"].as_f64().unwrap_or(0.0),
            a["metric"].as_str().unwrap_or("?"),
            a["expr"].as_str().unwrap_or("?"),
            a["observed"]
                .as_f64()
                .map_or("nothing".to_owned(), |v| format!("{v:.3}"))
        );
    }
    thresholds(&mut s, r);
    s.push_str("  METRICS\n\n");
    let n = u(r, "/acquisitions/total") as f64;
    line(
        &mut s,
        4,
        "acquisitions",
        &format!(
            "{n}  {:.1}/s wall  {:.1}/s virtual",
            n / wall.max(1e-9),
            n / virt.max(1e-9)
        ),
    );
    metrics(&mut s, 4, r);
    let by_status: Vec<String> = r["identity_provider"]["by_status"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    line(
        &mut s,
        4,
        "identity_provider.requests",
        &format!(
            "{}  ({})",
            u(r, "/identity_provider/requests"),
            by_status.join(" ")
        ),
    );
    line(
        &mut s,
        4,
        "l2",
        &format!(
            "reads={} hits={} writes={} errors={} timeouts={}",
            u(r, "/l2/reads"),
            u(r, "/l2/hits"),
            u(r, "/l2/writes"),
            u(r, "/l2/errors"),
            u(r, "/l2/timeouts")
        ),
    );
    let p = |k: &str| u(r, &format!("/memory/peak/{k}"));
    line(
        &mut s,
        4,
        "memory (peak)",
        &format!(
            "l1={} ({} entries) l2={} ({} keys) rss={}",
            bytes(p("l1_bytes")),
            p("l1_entries"),
            bytes(p("l2_bytes")),
            p("l2_keys"),
            bytes(p("rss_bytes"))
        ),
    );
    let server = &r["memory"]["l2_server"];
    if server.is_object() {
        let delta = server["delta_bytes"].as_i64().unwrap_or(0);
        line(
            &mut s,
            4,
            "l2 server",
            &format!(
                "{} before the run, {} at the end ({}{}); l2 bytes by {}",
                bytes(u(server, "/baseline_bytes")),
                bytes(u(server, "/last_bytes")),
                if delta < 0 { "-" } else { "+" },
                bytes(delta.unsigned_abs()),
                r["memory"]["l2_method"].as_str().unwrap_or("?")
            ),
        );
    }
    let flows = r["flows"].as_object().filter(|f| f.len() > 1);
    for (name, w) in flows.into_iter().flatten() {
        let _ = writeln!(
            s,
            "\n    workload {name} ({}): {} acquisitions",
            w["flow"].as_str().unwrap_or("?"),
            u(w, "/acquisitions/total")
        );
        metrics(&mut s, 6, w);
    }
    if let Some(errors) = r["errors"].as_object().filter(|e| !e.is_empty()) {
        s.push_str("\n  ERRORS\n\n");
        for (msg, n) in errors {
            let _ = writeln!(s, "    {n} × {msg}");
        }
    }
    let list = r["thresholds"].as_array().map_or(&[][..], Vec::as_slice);
    let passed = list
        .iter()
        .filter(|t| t["pass"].as_bool() == Some(true))
        .count();
    let _ = writeln!(
        s,
        "\n  verdict: {} (thresholds {passed}/{} passed)\n",
        if r["verdict"] == "pass" {
            "PASS"
        } else {
            "FAIL"
        },
        list.len()
    );
    s
}
