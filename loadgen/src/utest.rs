//! Mann-Whitney U test (Wilcoxon rank-sum) computed exactly from two HdrHistograms: the
//! samples of a histogram bucket are ties, so rank sums run over buckets, not samples, and a
//! million-sample run costs a few thousand steps. As benchstat does for large samples: normal
//! approximation with tie and continuity correction, two-sided. Effect size: the probability
//! of superiority P(current > baseline) + ½·P(current = baseline) and Cliff's δ = 2·PS − 1.

use hdrhistogram::Histogram;

/// The outcome of one test of `current` against `baseline`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UTest {
    /// Sample sizes: baseline, current.
    pub n1: u64,
    pub n2: u64,
    /// U of the current sample: pairs (baseline, current) with current > baseline, plus ½
    /// for each tied pair.
    pub u: f64,
    /// Two-sided p-value (1 when every sample ties: nothing can be told apart).
    pub p: f64,
    /// Probability of superiority: U / (n1·n2).
    pub ps: f64,
    /// Cliff's δ = P(current > baseline) − P(current < baseline), in −1..1.
    pub cliffs_delta: f64,
}

/// `(value, count)` of every non-empty bucket, in increasing value order.
pub fn buckets(h: &Histogram<u64>) -> Vec<(u64, u64)> {
    h.iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect()
}

/// The test over two sorted bucket lists; `None` when either sample is empty.
pub fn from_buckets(baseline: &[(u64, u64)], current: &[(u64, u64)]) -> Option<UTest> {
    let n1: u64 = baseline.iter().map(|b| b.1).sum();
    let n2: u64 = current.iter().map(|b| b.1).sum();
    if n1 == 0 || n2 == 0 {
        return None;
    }
    // Walk both lists in value order; every distinct value is one group of ties.
    let (mut i, mut j) = (0, 0);
    let mut below = 0.0f64; // samples ranked before this group
    let mut rank_sum_current = 0.0f64;
    let mut ties = 0.0f64; // Σ (t³ − t)
    while i < baseline.len() || j < current.len() {
        let v = match (baseline.get(i), current.get(j)) {
            (Some(a), Some(b)) => a.0.min(b.0),
            (Some(a), None) => a.0,
            (None, Some(b)) => b.0,
            (None, None) => break,
        };
        let mut a = 0u64;
        while i < baseline.len() && baseline[i].0 == v {
            a += baseline[i].1;
            i += 1;
        }
        let mut c = 0u64;
        while j < current.len() && current[j].0 == v {
            c += current[j].1;
            j += 1;
        }
        let t = (a + c) as f64;
        // Ranks below+1 ..= below+t, all given their average.
        let mid_rank = below + (t + 1.0) / 2.0;
        rank_sum_current += c as f64 * mid_rank;
        ties += t * t * t - t;
        below += t;
    }
    let (f1, f2) = (n1 as f64, n2 as f64);
    let u = rank_sum_current - f2 * (f2 + 1.0) / 2.0;
    let n = f1 + f2;
    let mean = f1 * f2 / 2.0;
    let var = f1 * f2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    let p = if var <= 0.0 || !var.is_finite() {
        1.0
    } else {
        let d = u - mean;
        // Continuity correction towards the mean, never past it.
        let d = d.signum() * (d.abs() - 0.5).max(0.0);
        let z = d / var.sqrt();
        (erfc(z.abs() / std::f64::consts::SQRT_2)).min(1.0)
    };
    let ps = u / (f1 * f2);
    Some(UTest {
        n1,
        n2,
        u,
        p,
        ps,
        cliffs_delta: 2.0 * ps - 1.0,
    })
}

/// The test over two histograms of the same precision (buckets line up).
pub fn from_histograms(baseline: &Histogram<u64>, current: &Histogram<u64>) -> Option<UTest> {
    from_buckets(&buckets(baseline), &buckets(current))
}

/// Complementary error function, relative error below 1.2e-7 everywhere (the Chebyshev
/// fit of Press et al., Numerical Recipes §6.2), so tiny p-values keep their magnitude.
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(values: &[u64]) -> Histogram<u64> {
        let mut h = Histogram::<u64>::new(3).unwrap();
        h.auto(true);
        for v in values {
            h.record(*v).unwrap();
        }
        h
    }

    #[test]
    fn u_counts_pairs_where_current_is_larger_with_ties_as_half() {
        // Baseline {1, 2, 3}, current {2, 4}: pairs current > baseline: 2>1, 4>1, 4>2, 4>3
        // = 4; one tie (2, 2) = ½ → U = 4.5 of 6 pairs.
        let t = from_histograms(&hist(&[1, 2, 3]), &hist(&[2, 4])).unwrap();
        assert_eq!((t.n1, t.n2), (3, 2));
        assert_eq!(t.u, 4.5);
        assert_eq!(t.ps, 0.75);
        assert_eq!(t.cliffs_delta, 0.5);
        // Fully separated: every current sample above every baseline sample.
        let t = from_histograms(&hist(&[1, 2, 3, 4]), &hist(&[10, 11, 12])).unwrap();
        assert_eq!(t.u, 12.0);
        assert_eq!(t.cliffs_delta, 1.0);
        let t = from_histograms(&hist(&[10, 11, 12]), &hist(&[1, 2, 3, 4])).unwrap();
        assert_eq!(t.u, 0.0);
        assert_eq!(t.cliffs_delta, -1.0);
    }

    #[test]
    fn p_value_matches_scipy_with_ties() {
        // scipy.stats.mannwhitneyu(x, y) (two-sided, continuity correction, asymptotic):
        // U = 223.0, p = 0.5426959774289482 (also ClickHouse's mannWhitneyUTest test).
        let x = [
            310, 195, 530, 155, 530, 245, 385, 450, 465, 545, 170, 180, 125, 180, 230, 75, 430,
            480, 495, 295,
        ];
        let y = [
            116, 171, 176, 421, 111, 326, 481, 111, 346, 441, 261, 411, 206, 521, 456, 446, 296,
            51, 426, 261,
        ];
        // U of x over y is current = x, baseline = y.
        let t = from_histograms(&hist(&y), &hist(&x)).unwrap();
        assert_eq!(t.u, 223.0);
        assert!((t.p - 0.542_695_977_428_948_2).abs() < 1e-6, "{}", t.p);
        // The test is symmetric: swapping the samples gives U' = n1·n2 − U and the same p.
        let s = from_histograms(&hist(&x), &hist(&y)).unwrap();
        assert_eq!(s.u, 400.0 - 223.0);
        assert!((s.p - t.p).abs() < 1e-12);
    }

    #[test]
    fn ties_within_a_bucket_are_one_group() {
        // 3 significant digits: 100_000 and 100_020 share a bucket (width 64), so they tie.
        let a = hist(&[100_000, 100_000]);
        let b = hist(&[100_020, 100_020]);
        let t = from_histograms(&a, &b).unwrap();
        assert_eq!(t.u, 2.0);
        assert_eq!(t.p, 1.0, "all samples tie: nothing to tell apart");
    }

    #[test]
    fn a_large_shift_has_a_tiny_p_and_no_shift_a_large_one() {
        let base: Vec<u64> = (0..5_000).map(|i| 1_000 + i % 1_000).collect();
        let same: Vec<u64> = (0..5_000).map(|i| 1_000 + (i * 7) % 1_000).collect();
        let slower: Vec<u64> = base.iter().map(|v| v + 200).collect();
        let t = from_histograms(&hist(&base), &hist(&same)).unwrap();
        assert!(t.p > 0.5, "{t:?}");
        let t = from_histograms(&hist(&base), &hist(&slower)).unwrap();
        assert!(t.p < 1e-30, "{t:?}");
        assert!(t.cliffs_delta > 0.3, "{t:?}");
    }

    #[test]
    fn erfc_is_accurate_in_the_tails() {
        // Reference values of erfc.
        for (x, want) in [
            (0.0, 1.0),
            (0.5, 0.479_500_122_186_953_5),
            (1.0, 0.157_299_207_050_285_13),
            (3.0, 2.209_049_699_858_544e-5),
            (6.0, 2.151_973_671_249_891e-17),
            (-1.0, 1.842_700_792_949_715),
        ] {
            let got = erfc(x);
            assert!(
                ((got - want) / want).abs() < 2e-7,
                "erfc({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn an_empty_sample_gives_no_test() {
        assert!(from_histograms(&hist(&[]), &hist(&[1])).is_none());
    }
}
