//! Emitting rows: references' stored keys, junction and child rows, values written as COPY
//! fields.

use super::*;

/// The stored key of a reference to model `T`: the referencing value's key under `T`'s strategy.
///
/// `I` is `T::Id` (the derive asserts it at the field); it is not a bound here, so a wrong type
/// is reported once, at the field.
pub fn reference<T: Migrate, I: IdKey>(id: &I) -> Key {
    id.key(T::ID_STRATEGY)
}

/// The stored key of an optional reference to model `T`.
pub fn optional_reference<T: Migrate, I: IdKey>(id: Option<&I>) -> Option<Key> {
    id.map(reference::<T, I>)
}

/// An array position as stored in a `position` column.
pub fn position(index: usize) -> i32 {
    i32::try_from(index).unwrap_or(i32::MAX)
}

/// Writes the rows of a junction table: one per distinct target, the first occurrence kept.
pub fn emit_junction<V: PgValue>(
    out: &mut dyn RowSink,
    table: usize,
    owner: &Key,
    targets: impl IntoIterator<Item = V>,
    with_position: bool,
) {
    crate::transform::transcode::Distinct::with(|seen| {
        for (index, target) in targets.into_iter().enumerate() {
            if seen.first(&target) {
                junction_row(out, table, owner, &target, with_position.then_some(index));
            }
        }
    });
}

/// One junction row: the owner's key, the target, and the array position if the table keeps it.
pub fn junction_row<S: RowSink + ?Sized, V: PgValue>(
    out: &mut S,
    table: usize,
    owner: &Key,
    target: &V,
    index: Option<usize>,
) {
    out.begin_row(table);
    out.value(owner);
    out.value(target);
    if let Some(index) = index {
        out.value(&position(index));
    }
    out.end_row();
}

/// The child rows of the `child` field `field`, at table index `table`.
pub fn emit_children<T: Embedded>(
    out: &mut dyn RowSink,
    table: usize,
    parent: &Key,
    field: &'static str,
    children: &[T],
) {
    for (index, child) in children.iter().enumerate() {
        child.emit_child(parent, field, position(index), table, out);
    }
}

/// A borrowed value, written as the value itself.
#[derive(Debug)]
pub struct ByRef<'a, T>(pub &'a T);

impl<T: PgValue> PgValue for ByRef<'_, T> {
    fn column_type() -> (PgType, bool) {
        T::column_type()
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        self.0.encode(buf)
    }

    fn to_cell(&self) -> Cell {
        self.0.to_cell()
    }
}

/// Appends text in the binary COPY field format (enum labels).
pub fn encode_text(text: &str, buf: &mut Vec<u8>) {
    let len = i32::try_from(text.len()).unwrap_or(i32::MAX);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(text.as_bytes());
}
