//! intervals.hlog: HdrHistogram's interval log (V2 + deflate, base64) of DurationTotal per
//! workload (tag = workload name), readable by the HdrHistogram log processor and plotter.
//! Interval timestamps are virtual seconds since the start of the measured phase. Lines are
//! encoded when each interval closes, so a long run keeps kilobytes, not histograms.

use std::time::Duration;

use anyhow::Context as _;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;

use crate::run::RunOutput;

/// Max values are written in milliseconds (histograms hold nanoseconds).
const MAX_VALUE_DIVISOR: f64 = 1e6;

/// One interval line: `Tag=name,start,length,max_ms,base64(V2 deflate)`.
pub fn line(h: &Histogram<u64>, name: &str, start_s: f64, length_s: f64) -> String {
    let mut buf = Vec::new();
    let mut ser = V2DeflateSerializer::new();
    let written = IntervalLogWriterBuilder::new()
        .with_max_value_divisor(MAX_VALUE_DIVISOR)
        .begin_log_with(&mut buf, &mut ser)
        .ok()
        .and_then(|mut w| {
            w.write_histogram(
                h,
                Duration::from_secs_f64(start_s),
                Duration::from_secs_f64(length_s),
                Tag::new(name),
            )
            .ok()
        });
    let text = String::from_utf8(buf).unwrap_or_default();
    // The builder wrote its MaxValueDivisor header first: keep only the interval line.
    match written {
        Some(()) => text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n"),
        None => format!("#interval {start_s:.3}+{length_s:.3} of {name} could not be encoded"),
    }
}

pub fn render(name: &str, out: &RunOutput) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut ser = V2DeflateSerializer::new();
    IntervalLogWriterBuilder::new()
        .add_comment(&format!("loadgen {}: DurationTotal in nanoseconds per workload (tag); interval times in virtual seconds since the start; max values in milliseconds", name))
        .with_start_time(out.started_at)
        .with_max_value_divisor(MAX_VALUE_DIVISOR)
        .begin_log_with(&mut buf, &mut ser)
        .context("starting intervals.hlog")?;
    for i in &out.intervals {
        buf.extend_from_slice(i.line.as_bytes());
        buf.push(b'\n');
    }
    Ok(buf)
}
