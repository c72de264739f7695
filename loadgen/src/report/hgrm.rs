//! HdrHistogram's percentile-distribution text (`.hgrm`), as `outputPercentileDistribution`
//! writes it: values in milliseconds, 5 ticks per half-distance, mean/stddev/max footer.
//! Read by the public HdrHistogram plotter.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// Renders `h` (nanoseconds) in milliseconds.
pub fn render(h: &Histogram<u64>) -> String {
    let scale = 1e6;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    if !h.is_empty() {
        let mut total = 0u64;
        for v in h.iter_quantiles(5) {
            let q = v.quantile_iterated_to();
            let value = h.highest_equivalent(v.value_iterated_to()) as f64 / scale;
            total += v.count_since_last_iteration();
            if q < 1.0 {
                let _ = writeln!(
                    s,
                    "{value:>12.3} {q:>2.12} {total:>10} {:>14.2}",
                    1.0 / (1.0 - q)
                );
            } else {
                let _ = writeln!(s, "{value:>12.3} {q:>2.12} {:>10}", h.len());
            }
        }
    }
    let (mean, sd, max) = if h.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (h.mean() / scale, h.stdev() / scale, h.max() as f64 / scale)
    };
    let _ = writeln!(s, "#[Mean    = {mean:>12.3}, StdDeviation   = {sd:>12.3}]");
    let _ = writeln!(
        s,
        "#[Max     = {max:>12.3}, Total count    = {:>12}]",
        h.len()
    );
    let sub_buckets = h.distinct_values() / (usize::from(h.buckets()) + 1).max(1) * 2;
    let _ = writeln!(
        s,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        h.buckets(),
        sub_buckets
    );
    s
}
