//! CRC-64 with the ECMA-182 polynomial in its reflected form (what Go's `hash/crc64` computes
//! with `crc64.ECMA`, also known as CRC-64/XZ): mongodump's checksum of a collection's documents.

const POLY: u64 = 0xC96C_5795_D787_0F42;

const TABLE: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// A running checksum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Crc64(u64);

impl Crc64 {
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        let mut crc = !self.0;
        for &b in bytes {
            crc = TABLE[usize::from(crc as u8 ^ b)] ^ (crc >> 8);
        }
        self.0 = !crc;
    }

    /// The checksum as the archive stores it (an `int64` with the same bits).
    pub(crate) fn value(&self) -> i64 {
        self.0 as i64
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
