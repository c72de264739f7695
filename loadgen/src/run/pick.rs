//! Choosing a population member for each iteration: uniform, Zipf (inverse CDF over a
//! precomputed table) or round robin; every random draw comes from a seeded generator.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::scenario::model::Pick;

/// Zipf tables above this size are approximated by the first this-many ranks plus a
/// uniform tail (keeps memory bounded for huge populations).
const ZIPF_TABLE_MAX: u64 = 4_000_000;

/// Picks indexes in `0..n`.
#[derive(Debug)]
pub struct Picker {
    kind: Pick,
    n: u64,
    next: AtomicU64,
    cdf: Vec<f64>,
}

impl Picker {
    pub fn new(kind: Pick, n: u64) -> Self {
        let cdf = match kind {
            Pick::Zipf(s) => {
                let m = n.min(ZIPF_TABLE_MAX);
                let mut acc = 0.0;
                let mut cdf: Vec<f64> = (1..=m)
                    .map(|k| {
                        acc += 1.0 / (k as f64).powf(s);
                        acc
                    })
                    .collect();
                for c in &mut cdf {
                    *c /= acc;
                }
                cdf
            }
            _ => Vec::new(),
        };
        Picker {
            kind,
            n: n.max(1),
            next: AtomicU64::new(0),
            cdf,
        }
    }

    pub fn pick(&self, rng: &mut StdRng) -> u64 {
        match self.kind {
            Pick::Uniform => rng.random_range(0..self.n),
            Pick::RoundRobin => self.next.fetch_add(1, Ordering::Relaxed) % self.n,
            Pick::Zipf(_) => {
                let u: f64 = rng.random();
                let rank = self.cdf.partition_point(|c| *c < u) as u64;
                if rank >= self.cdf.len() as u64 && self.n > self.cdf.len() as u64 {
                    rng.random_range(self.cdf.len() as u64..self.n)
                } else {
                    rank.min(self.n - 1)
                }
            }
        }
    }
}

/// The generator of workload `w`, worker `k`, derived from the scenario seed.
pub fn rng(seed: u64, w: usize, k: u64) -> StdRng {
    let mix = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((w as u64) << 32)
        .wrapping_add(k);
    StdRng::seed_from_u64(mix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_are_seeded_and_shaped() {
        let z = Picker::new(Pick::Zipf(1.1), 1000);
        let draw = |seed| {
            let mut r = rng(seed, 0, 0);
            (0..1000).map(|_| z.pick(&mut r)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        let d = draw(7);
        let zeros = d.iter().filter(|x| **x == 0).count();
        assert!(zeros > 100, "rank 0 should be hot: {zeros}");
        assert!(d.iter().all(|x| *x < 1000));
        let rr = Picker::new(Pick::RoundRobin, 3);
        let mut r = rng(1, 0, 0);
        let v: Vec<u64> = (0..4).map(|_| rr.pick(&mut r)).collect();
        assert_eq!(v, [0, 1, 2, 0]);
    }
}
