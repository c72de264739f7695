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

/// An instance's share of a population (`run --instance I/N`): members (tenants or users)
/// `I, I+N, I+2N, ...`, each with its `stride` consecutive indexes (resources). Instance `I`
/// picks a local index in `0..local_population` and [`Partition::global`] maps it back, so
/// instances drive disjoint members whose union is the whole population.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub index: u64,
    pub count: u64,
    pub stride: u64,
}

impl Partition {
    /// The whole population (a single-instance run).
    pub fn whole(stride: u64) -> Self {
        Partition {
            index: 0,
            count: 1,
            stride: stride.max(1),
        }
    }

    /// How many of `members` this instance owns.
    pub fn members(&self, members: u64) -> u64 {
        if self.index >= members {
            0
        } else {
            (members - self.index).div_ceil(self.count)
        }
    }

    /// Local indexes this instance picks from.
    pub fn local_population(&self, members: u64) -> u64 {
        self.members(members) * self.stride
    }

    /// The population index of local index `local`.
    pub fn global(&self, local: u64) -> u64 {
        let (m, r) = (local / self.stride, local % self.stride);
        (m * self.count + self.index) * self.stride + r
    }
}

/// The generator of workload `w`, worker `k`, derived from the scenario seed.
pub fn rng(seed: u64, w: usize, k: u64) -> StdRng {
    StdRng::seed_from_u64(stream_seed(seed, w, k))
}

/// The seed of stream `k` of workload `w` (also seeds the driver's trace sampler).
pub fn stream_seed(seed: u64, w: usize, k: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((w as u64) << 32)
        .wrapping_add(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_disjoint_and_cover_the_population() {
        let (members, stride, n) = (7u64, 3u64, 3u64);
        let mut seen: Vec<u64> = Vec::new();
        for index in 0..n {
            let p = Partition {
                index,
                count: n,
                stride,
            };
            for local in 0..p.local_population(members) {
                let g = p.global(local);
                assert_eq!((g / stride) % n, index, "member of another instance");
                seen.push(g);
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..members * stride).collect::<Vec<_>>());
        assert_eq!(Partition::whole(3).global(5), 5);
    }

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
