//! report.json `histograms`: every histogram of the run, losslessly, so that a report alone
//! is enough to compare runs statistically, merge instances exactly and redraw percentile
//! curves. Each value is base64 of HdrHistogram's V2 + deflate serialization (the encoding of
//! interval-log lines), nanoseconds, 3 significant digits.
//!
//! Names: `total`, `total_uncorrected`, `in_cache`, `in_http`,
//! `by_token_source.{cache,identity_provider}`, `by_cache_level.{none,l1,l2}` for the whole
//! run, and the same names under `flows.<workload>.` for each workload.

use std::collections::BTreeMap;

use anyhow::{anyhow, Context as _};
use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde_json::{Map, Value};

use crate::run::stats::{Hists, WorkloadStats, LEVELS, SOURCES};

/// The named histograms of one workload (or of the whole run), `prefix` prepended.
pub fn named<'a>(prefix: &str, h: &'a Hists) -> Vec<(String, &'a Histogram<u64>)> {
    let mut v: Vec<(String, &Histogram<u64>)> = vec![
        (format!("{prefix}total"), &h.total),
        (format!("{prefix}total_uncorrected"), &h.total_uncorrected),
        (format!("{prefix}in_cache"), &h.in_cache),
        (format!("{prefix}in_http"), &h.in_http),
    ];
    for (i, s) in SOURCES.iter().enumerate() {
        v.push((format!("{prefix}by_token_source.{s}"), &h.by_source[i]));
    }
    for (i, l) in LEVELS.iter().enumerate() {
        v.push((format!("{prefix}by_cache_level.{l}"), &h.by_level[i]));
    }
    v
}

/// Encodes one histogram (base64 of V2 + deflate).
pub fn encode(h: &Histogram<u64>) -> anyhow::Result<String> {
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .map_err(|e| anyhow!("serializing a histogram: {e:?}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(buf))
}

/// Decodes one histogram written by [`encode`] (or an interval-log payload).
pub fn decode(text: &str) -> anyhow::Result<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .context("not base64")?;
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| anyhow!("not an HdrHistogram V2 payload: {e:?}"))?;
    h.auto(true);
    Ok(h)
}

/// The `histograms` object of report.json: the whole run (`overall`) and each workload.
pub fn encode_all<'a>(
    overall: &WorkloadStats,
    workloads: impl IntoIterator<Item = (&'a str, &'a WorkloadStats)>,
) -> anyhow::Result<Value> {
    let mut m = Map::new();
    for (name, h) in named("", &overall.hists) {
        m.insert(name, Value::String(encode(h)?));
    }
    for (w, s) in workloads {
        for (name, h) in named(&format!("flows.{w}."), &s.hists) {
            m.insert(name, Value::String(encode(h)?));
        }
    }
    Ok(Value::Object(m))
}

/// Reads the `histograms` object of a report; an error names the histogram that is broken.
/// A report without `histograms` (written before they were added) gives an empty map.
pub fn decode_all(report: &Value) -> anyhow::Result<BTreeMap<String, Histogram<u64>>> {
    let obj = match report.get("histograms") {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(obj) => obj,
    };
    let obj = obj
        .as_object()
        .ok_or_else(|| anyhow!("`histograms` is not an object"))?;
    obj.iter()
        .map(|(k, v)| {
            let text = v
                .as_str()
                .ok_or_else(|| anyhow!("histograms.{k} is not a string"))?;
            let h = decode(text).with_context(|| format!("histograms.{k}"))?;
            Ok((k.clone(), h))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_survives_the_round_trip_exactly() {
        let mut h = Histogram::<u64>::new(3).unwrap();
        h.auto(true);
        for v in [1u64, 950, 1_000, 1_234_567, 99_000_000_000] {
            h.record_n(v, v % 7 + 1).unwrap();
        }
        let back = decode(&encode(&h).unwrap()).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.value_at_quantile(0.99), h.value_at_quantile(0.99));
    }

    #[test]
    fn a_broken_histogram_is_named_in_the_error() {
        let report = serde_json::json!({"histograms": {"total": "AAAA", "in_cache": "%%"}});
        let err = format!("{:#}", decode_all(&report).unwrap_err());
        assert!(
            err.contains("histograms.in_cache") || err.contains("histograms.total"),
            "{err}"
        );
    }

    #[test]
    fn a_report_without_histograms_decodes_to_nothing() {
        assert!(decode_all(&serde_json::json!({})).unwrap().is_empty());
    }

    #[test]
    fn every_workload_gets_the_overall_names_under_its_prefix() {
        let s = WorkloadStats::default();
        let v = encode_all(&s, [("daemon", &s)]).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert!(keys.iter().any(|k| *k == "flows.daemon.by_cache_level.l2"));
        assert!(keys
            .iter()
            .any(|k| *k == "by_token_source.identity_provider"));
        assert_eq!(keys.len(), 2 * 9);
    }
}
