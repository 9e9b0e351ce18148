//! CRC-64 with the ECMA-182 polynomial in its reflected form (what Go's `hash/crc64` computes
//! with `crc64.ECMA`, also known as CRC-64/XZ): mongodump's checksum of a collection's documents.

use crc::{Crc, Digest, Table, CRC_64_XZ};

/// Go's `crc64.ECMA` with its usual pre- and post-inversion is CRC-64/XZ.
static ECMA: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_XZ);

/// A running checksum.
#[derive(Clone)]
pub(crate) struct Crc64(Digest<'static, u64, Table<16>>);

impl Default for Crc64 {
    fn default() -> Self {
        Crc64(ECMA.digest())
    }
}

impl std::fmt::Debug for Crc64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Crc64({:#018x})", self.value())
    }
}

impl Crc64 {
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The checksum as the archive stores it (an `int64` with the same bits).
    pub(crate) fn value(&self) -> i64 {
        self.0.clone().finalize() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_check_values() {
        let cases: [(&[&[u8]], u64); 3] = [
            (&[], 0),
            (&[b"123456789"], 0x995D_C9BB_DF19_39FA),
            (&[b"1234", b"", b"56789"], 0x995D_C9BB_DF19_39FA),
        ];
        for (chunks, expected) in cases {
            let mut crc = Crc64::default();
            for chunk in chunks {
                crc.update(chunk);
            }
            assert_eq!(crc.value(), expected as i64, "{chunks:?}");
        }
    }
}
