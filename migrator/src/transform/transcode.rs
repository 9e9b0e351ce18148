//! What `Migrate::transcode` (the one-pass reading a load runs) is made of: each field read as a
//! borrowed view where its type has one, and junction and child rows written straight from the
//! document's arrays.
//!
//! A field's value is read with `(&ViewOf::<T>::NEW).view(value, key)`: method lookup finds the
//! borrowed reading on `ViewOf<T>` itself when `T` is one of the types below, and falls back to
//! the owned one (`FromBson`) on `&ViewOf<T>` for every other type. The derive writes that call
//! for every field; nothing else depends on which way it went.
//!
//! | field type         | read as                     |
//! |--------------------|-----------------------------|
//! | `String`           | [`TextRef`]                 |
//! | `Vec<String>`      | [`TextArrayRef`]            |
//! | `Document`, `Bson` | [`JsonRef`]                 |
//! | `Option` of these  | `Option` of the view        |
//! | anything else      | the owned value             |

use std::marker::PhantomData;

use bson::{Bson, Document, RawBsonRef};

use super::{Elements, Embedded, RowSink};
use crate::__private::{junction_row, position, read, ArrayField};
use crate::error::FieldError;
use crate::id::Key;
use crate::value::view::{self, JsonRef, TextArrayRef, TextRef};
use crate::value::{wrong_type, FromBson, PgValue};

/// The type a field's value is read as (see the module docs).
#[derive(Debug)]
pub struct ViewOf<T>(PhantomData<T>);

impl<T> ViewOf<T> {
    pub const NEW: Self = ViewOf(PhantomData);
}

/// Any `FromBson` type: its owned value.
pub trait ViewOwned<T> {
    fn view(&self, value: Option<RawBsonRef<'_>>, key: &'static str) -> Result<T, FieldError>;
}

impl<T: FromBson> ViewOwned<T> for &ViewOf<T> {
    fn view(&self, value: Option<RawBsonRef<'_>>, key: &'static str) -> Result<T, FieldError> {
        read::<T>(value, key)
    }
}

/// Implements a borrowed view trait for a field type: `$read` reads a present, non-null value;
/// `Option<$ty>` gets `Option` of the same view.
macro_rules! borrowed_view {
    ($($view:ident, $optional:ident: $ty:ty => $out:ident via $read:path;)*) => {$(
        pub trait $view {
            fn view<'a>(
                &self,
                value: Option<RawBsonRef<'a>>,
                key: &'static str,
            ) -> Result<$out<'a>, FieldError>;
        }

        impl $view for ViewOf<$ty> {
            fn view<'a>(
                &self,
                value: Option<RawBsonRef<'a>>,
                key: &'static str,
            ) -> Result<$out<'a>, FieldError> {
                match value {
                    Some(value) => $read(value),
                    // Absent: the type's own `from_missing`, an error for each of these types.
                    None => Err(<$ty as FromBson>::from_missing()
                        .err()
                        .unwrap_or_else(FieldError::missing)),
                }
                .map_err(|e| e.at_key(key))
            }
        }

        pub trait $optional {
            fn view<'a>(
                &self,
                value: Option<RawBsonRef<'a>>,
                key: &'static str,
            ) -> Result<Option<$out<'a>>, FieldError>;
        }

        impl $optional for ViewOf<Option<$ty>> {
            fn view<'a>(
                &self,
                value: Option<RawBsonRef<'a>>,
                key: &'static str,
            ) -> Result<Option<$out<'a>>, FieldError> {
                match value {
                    Some(value) => view::optional(value, $read),
                    None => Ok(None),
                }
                .map_err(|e| e.at_key(key))
            }
        }
    )*};
}

borrowed_view! {
    ViewString, ViewOptionString: String => TextRef via view::text;
    ViewStrings, ViewOptionStrings: Vec<String> => TextArrayRef via view::text_array;
    ViewDocument, ViewOptionDocument: Document => JsonRef via view::json_document;
    ViewBson, ViewOptionBson: Bson => JsonRef via view::json_value;
}

/// Writes the rows of a `junction` field of type `A` straight from the document's array: one per
/// distinct target (`target` turns an element into the stored value), the first kept.
pub fn transcode_junction<A, V, S: RowSink>(
    out: &mut S,
    table: usize,
    owner: &Key,
    value: Option<RawBsonRef<'_>>,
    key: &'static str,
    target: impl Fn(A::Item) -> V,
    with_position: bool,
) -> Result<(), FieldError>
where
    A: ArrayField,
    A::Item: FromBson,
    V: PgValue,
{
    let Some(array) = array_of::<A>(value, key)? else {
        return Ok(());
    };
    Distinct::with(|seen| {
        for (index, element) in Elements::of_array(array).enumerate() {
            let item = element
                .and_then(|(_, value)| A::Item::from_bson(value))
                .map_err(|e| e.at_index(index).at_key(key))?;
            let target = target(item);
            if !seen.first(&target) {
                continue;
            }
            junction_row(out, table, owner, &target, with_position.then_some(index));
        }
        Ok(())
    })
}

/// Writes the rows of a `child` field of type `A` straight from the document's array of
/// subdocuments.
pub fn transcode_children<A, S: RowSink>(
    out: &mut S,
    table: usize,
    parent: &Key,
    field: &'static str,
    value: Option<RawBsonRef<'_>>,
) -> Result<(), FieldError>
where
    A: ArrayField,
    A::Item: Embedded,
{
    let Some(array) = array_of::<A>(value, field)? else {
        return Ok(());
    };
    for (index, element) in Elements::of_array(array).enumerate() {
        let written = element.and_then(|(_, value)| match value {
            RawBsonRef::Document(doc) => {
                A::Item::transcode_child(doc, parent, field, position(index), table, out)
            }
            other => Err(wrong_type("object", &other)),
        });
        written.map_err(|e| e.at_index(index).at_key(field))?;
    }
    Ok(())
}

/// The array of an array field, or `None` when it is absent or null and `A` allows that (an
/// error names `key` otherwise, as it does a value of another type).
fn array_of<'a, A: ArrayField>(
    value: Option<RawBsonRef<'a>>,
    key: &'static str,
) -> Result<Option<&'a bson::RawArray>, FieldError> {
    let absent = match value {
        None => FieldError::missing(),
        Some(RawBsonRef::Null) => FieldError::null(),
        Some(RawBsonRef::Array(array)) => return Ok(Some(array)),
        Some(other) => return Err(wrong_type("array", &other).at_key(key)),
    };
    A::absent(absent).map(|_| None).map_err(|e| e.at_key(key))
}

/// The encoded values seen so far in one array (a junction keeps the first occurrence of each
/// target): a short array is searched in order, a long one through a hash set.
#[derive(Default)]
pub(crate) struct Distinct {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    many: Option<std::collections::HashSet<Vec<u8>>>,
}

/// Arrays longer than this keep their values in a hash set.
const SHORT: usize = 32;

thread_local! {
    /// Each thread's [`Distinct`], emptied for every array: its memory is reused.
    static SEEN: std::cell::RefCell<Distinct> = std::cell::RefCell::new(Distinct::default());
}

impl Distinct {
    /// Runs `f` with an empty `Distinct` (the thread's own, if it is not in use).
    pub(crate) fn with<R>(f: impl FnOnce(&mut Distinct) -> R) -> R {
        SEEN.with(|seen| match seen.try_borrow_mut() {
            Ok(mut seen) => {
                seen.bytes.clear();
                seen.ends.clear();
                seen.many = None;
                f(&mut seen)
            }
            Err(_) => f(&mut Distinct::default()),
        })
    }

    /// Whether `value` is seen for the first time (it is remembered).
    pub(crate) fn first(&mut self, value: &dyn PgValue) -> bool {
        let start = self.bytes.len();
        value.encode(&mut self.bytes);
        if let Some(many) = &mut self.many {
            let new = many.insert(self.bytes[start..].to_vec());
            self.bytes.truncate(start);
            return new;
        }
        let encoded = &self.bytes[start..];
        let mut from = 0;
        let repeated = self.ends.iter().any(|&end| {
            let earlier = &self.bytes[from..end];
            from = end;
            earlier == encoded
        });
        if repeated {
            self.bytes.truncate(start);
            return false;
        }
        self.ends.push(self.bytes.len());
        if self.ends.len() > SHORT {
            let mut from = 0;
            let mut many = std::collections::HashSet::new();
            for &end in &self.ends {
                many.insert(self.bytes[from..end].to_vec());
                from = end;
            }
            self.bytes.clear();
            self.ends.clear();
            self.many = Some(many);
        }
        true
    }
}
