//! A BSON element's key read from the document's bytes eight at a time: the one reader behind
//! the transform's elements (`transform::elements`) and the census's frame (`census::frame`).

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The NUL-terminated UTF-8 key at the start of `bytes` (as `bson` requires keys to be), and its
/// first eight bytes as [`word_of`] gives them. Read eight bytes at a time: the first zero byte
/// of a word ends the key, and a key with no high bit set is ASCII, needing no further check.
/// The transform ignores the word; computing it costs a few instructions per key where the
/// compiler calls this rather than inlining it (a dry run at scale 1 used no more in all).
#[inline]
pub(crate) fn key_and_word(bytes: &[u8]) -> Option<(&[u8], u64)> {
    let mut high = 0u64;
    let mut first = 0u64;
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        // The lowest byte flagged here is the first zero byte (later flags may be spurious).
        let zero = word.wrapping_sub(ONES) & !word & HIGHS;
        if zero != 0 {
            let len = (zero.trailing_zeros() / 8) as usize;
            let before = if len == 0 {
                0
            } else {
                word & (u64::MAX >> (64 - 8 * len))
            };
            if at == 0 {
                first = before;
            }
            let key = &bytes[..at + len];
            return utf8(key, high | before).then_some((key, first));
        }
        if at == 0 {
            first = word;
        }
        high |= word;
        at += 8;
    }
    let len = bytes[at..].iter().position(|&b| b == 0)?;
    let key = &bytes[..at + len];
    let tail = key[at..].iter().fold(0u64, |h, &b| h | u64::from(b));
    let first = if at == 0 { word_of(key) } else { first };
    utf8(key, high | tail).then_some((key, first))
}

/// The first eight bytes of `key`, zero-padded, as a little-endian word (for comparing keys a
/// word at a time).
pub(crate) fn word_of(key: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    for (w, k) in word.iter_mut().zip(key) {
        *w = *k;
    }
    u64::from_le_bytes(word)
}

/// Whether `key` is UTF-8; `high` has some byte's high bit set if any byte of it had.
fn utf8(key: &[u8], high: u64) -> bool {
    high & HIGHS == 0 || std::str::from_utf8(key).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The obvious byte loop: the key up to its NUL, if that is UTF-8.
    fn naive(bytes: &[u8]) -> Option<&[u8]> {
        let len = bytes.iter().position(|&b| b == 0)?;
        std::str::from_utf8(&bytes[..len])
            .ok()
            .map(|_| &bytes[..len])
    }

    /// Against the byte loop, for keys of every length up to three words, ASCII, UTF-8 and not
    /// UTF-8 at every position, followed by bytes that look like more keys; the word is the key's
    /// first eight bytes.
    #[test]
    fn keys_are_read_as_a_byte_loop_reads_them() {
        for len in 0..24 {
            for special in [None, Some(b"\xc3\xa9".as_slice()), Some(b"\xff".as_slice())] {
                for at in 0..=len {
                    let mut key = vec![b'k'; len];
                    if let Some(bytes) = special {
                        key.splice(at..at, bytes.iter().copied());
                    }
                    for tail in [
                        &[0u8, 1, 2][..],
                        &[0][..],
                        &[0, 0x80, 0xff, 7, 7, 7, 7, 7, 7, 7][..],
                        &[0, 9, 9, 9, 9, 9, 9, 9, 9][..],
                    ] {
                        let mut bytes = key.clone();
                        bytes.extend_from_slice(tail);
                        let read = key_and_word(&bytes);
                        assert_eq!(read.map(|r| r.0), naive(&bytes), "{bytes:?}");
                        if let Some((k, word)) = read {
                            assert_eq!(word, word_of(k), "{bytes:?}");
                        }
                    }
                    assert_eq!(key_and_word(&key), None, "no terminator: {key:?}");
                }
            }
        }
    }

    #[test]
    fn a_key_is_utf8_and_ends_with_its_nul() {
        assert_eq!(key_and_word(b"ab\xffc\0"), None, "not UTF-8");
        assert_eq!(key_and_word(b"abc"), None, "no NUL");
        assert_eq!(key_and_word(b""), None, "nothing");
        assert_eq!(key_and_word(b"\0x"), Some((&b""[..], 0)));
        assert_eq!(
            key_and_word("ké\0".as_bytes()).map(|k| k.0),
            Some("ké".as_bytes())
        );
        assert_eq!(word_of(b"abcdefghij"), u64::from_le_bytes(*b"abcdefgh"));
        assert_eq!(word_of(b"ab"), u64::from_le_bytes(*b"ab\0\0\0\0\0\0"));
    }
}
