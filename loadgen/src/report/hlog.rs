//! intervals.hlog: HdrHistogram's interval log (V2 + deflate, base64) of DurationTotal per
//! workload (tag = workload name), readable by the HdrHistogram log processor and plotter.
//! Interval timestamps are virtual seconds since the start of the measured phase.

use std::time::Duration;

use anyhow::Context as _;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;

use crate::run::RunOutput;
use crate::scenario::Scenario;

pub fn render(scn: &Scenario, out: &RunOutput) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut ser = V2DeflateSerializer::new();
    {
        let mut w = IntervalLogWriterBuilder::new()
            .add_comment(&format!("loadgen {}: DurationTotal in nanoseconds per workload (tag); interval times in virtual seconds since the start; max values in milliseconds", scn.name))
            .with_start_time(out.started_at)
            .with_max_value_divisor(1e6)
            .begin_log_with(&mut buf, &mut ser)
            .context("starting intervals.hlog")?;
        for i in &out.intervals {
            let name = &scn.workloads[i.workload].name;
            w.write_histogram(
                &i.hist,
                Duration::from_secs_f64(i.start_s),
                Duration::from_secs_f64(i.length_s),
                Tag::new(name),
            )
            .map_err(|e| anyhow::anyhow!("writing intervals.hlog: {e}"))?;
        }
    }
    Ok(buf)
}
