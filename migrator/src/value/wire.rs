//! Field framing of PostgreSQL's binary format: every value is a big-endian `i32` byte length
//! followed by that many bytes, and NULL is the length `-1` with no bytes.
//!
//! Values append straight into the caller's buffer; a value whose length is only known once it
//! is written reserves the length with [`begin_field`] and patches it with [`end_field`].

/// The length word of a NULL field.
pub(crate) const NULL_LENGTH: [u8; 4] = (-1i32).to_be_bytes();

/// Appends a NULL field.
pub(crate) fn put_null(buf: &mut Vec<u8>) {
    buf.extend_from_slice(&NULL_LENGTH);
}

/// Appends a field whose bytes are all at hand.
pub(crate) fn put_field(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&length_word(bytes.len()));
    buf.extend_from_slice(bytes);
}

/// Reserves the length word of a field written piece by piece; see [`end_field`].
pub(crate) fn begin_field(buf: &mut Vec<u8>) -> FieldStart {
    let at = buf.len();
    buf.extend_from_slice(&[0; 4]);
    FieldStart(at)
}

/// Where a field's length word was reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a reserved field must be closed with `end_field`"]
pub(crate) struct FieldStart(usize);

impl FieldStart {
    /// Where the field's bytes begin.
    pub(crate) fn body(self) -> usize {
        self.0 + 4
    }
}

/// Writes the length of the field reserved at `start`: everything appended since.
pub(crate) fn end_field(buf: &mut [u8], start: FieldStart) {
    let len = buf.len().saturating_sub(start.body());
    buf[start.0..start.body()].copy_from_slice(&length_word(len));
}

/// A length as the `i32` word PostgreSQL reads. Values are checked at decode time to be far
/// smaller than 2 GiB (a BSON document is at most 16 MiB), so the clamp never applies.
fn length_word(len: usize) -> [u8; 4] {
    i32::try_from(len).unwrap_or(i32::MAX).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_length_prefixed() {
        let mut buf = Vec::new();
        put_field(&mut buf, b"ab");
        put_null(&mut buf);
        let start = begin_field(&mut buf);
        buf.extend_from_slice(b"xyz");
        end_field(&mut buf, start);
        assert_eq!(
            buf,
            [
                &[0, 0, 0, 2][..],
                b"ab",
                &[0xff, 0xff, 0xff, 0xff],
                &[0, 0, 0, 3],
                b"xyz"
            ]
            .concat()
        );
    }

    #[test]
    fn an_empty_field_is_not_null() {
        let mut buf = vec![9];
        let start = begin_field(&mut buf);
        end_field(&mut buf, start);
        assert_eq!(buf, [9, 0, 0, 0, 0]);
    }
}
