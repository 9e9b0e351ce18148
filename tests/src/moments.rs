//! Reproducible "random" moments: a seeded SplitMix64 sequence, so a failing interruption test
//! can be replayed with the same delays.

use std::time::Duration;

/// Uniform numbers in `[0, 1)` from a fixed seed.
#[derive(Debug, Clone)]
pub struct Moments {
    state: u64,
}

impl Moments {
    pub fn new(seed: u64) -> Moments {
        Moments { state: seed }
    }

    /// The next number in `[0, 1)`.
    pub fn next_fraction(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A duration uniformly between `min` and `max`.
    pub fn between(&mut self, min: Duration, max: Duration) -> Duration {
        min + (max.saturating_sub(min)).mul_f64(self.next_fraction())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sequence_is_reproducible_and_in_range() {
        let a: Vec<f64> = {
            let mut m = Moments::new(7);
            (0..1000).map(|_| m.next_fraction()).collect()
        };
        let mut m = Moments::new(7);
        assert!(a.iter().all(|&x| x == m.next_fraction()));
        assert!(a.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = a.iter().sum::<f64>() / a.len() as f64;
        assert!((0.45..0.55).contains(&mean), "{mean}");
        assert_ne!(Moments::new(8).next_fraction(), a[0]);
    }
}
