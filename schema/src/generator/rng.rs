//! Random streams: one ChaCha8 stream per document, keyed by (seed, collection) and numbered by
//! the document's index, so document #i is the same whatever else is generated.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// SplitMix64's finalizer over two words: a well-spread 64-bit hash.
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The random streams of one collection (or of another purpose, such as fault selection).
#[derive(Debug, Clone)]
pub struct Streams {
    base: ChaCha8Rng,
}

impl Streams {
    /// The streams for `purpose` (a collection number, or a tag above 255) under `seed`.
    pub fn new(seed: u64, purpose: u64) -> Self {
        let mut key = [0u8; 32];
        for (i, chunk) in key.chunks_mut(8).enumerate() {
            let word = mix(mix(seed, purpose), i as u64 + 1);
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        Streams {
            base: ChaCha8Rng::from_seed(key),
        }
    }

    /// Stream number `index`.
    pub fn stream(&self, index: u64) -> ChaCha8Rng {
        let mut rng = self.base.clone();
        rng.set_stream(index);
        rng.set_word_pos(0);
        rng
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let s = Streams::new(42, 3);
        let a: u64 = s.stream(5).random();
        let b: u64 = s.stream(5).random();
        let c: u64 = s.stream(6).random();
        let d: u64 = Streams::new(43, 3).stream(5).random();
        let e: u64 = Streams::new(42, 4).stream(5).random();
        assert_eq!(a, b);
        assert!(a != c && a != d && a != e);
    }
}
