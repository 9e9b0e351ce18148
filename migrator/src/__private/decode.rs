//! Decoding: a document's declared fields read from its raw BSON.

use std::fmt::Display;

use super::*;

/// The values of a document's declared keys, in the order of `keys`: one pass over the
/// elements, each key compared with the declared ones (first with those after the last one
/// found, since documents mostly keep their fields in one order). A key repeated in a document
/// keeps its first value. `skipped` keys are declared but not read; any other key is an error
/// under `UnknownFields::Reject`.
pub fn fields<'a, const N: usize>(
    doc: &'a RawDocument,
    keys: &[&[u8]; N],
    skipped: &[&[u8]],
    unknown: UnknownFields,
) -> Result<[Option<RawBsonRef<'a>>; N], FieldError> {
    let mut slots: [Option<RawBsonRef<'a>>; N] = [None; N];
    let mut next = 0;
    for element in Elements::of(doc) {
        let (key, value) = element?;
        // Forward from the slot after the last one found, then from the start: a document that
        // keeps the declared order but lacks some optional keys finds each key in a few steps.
        let slot = (next..N)
            .chain(0..next.min(N))
            .find(|&i| same_key(keys[i], key));
        match slot {
            Some(i) => {
                if slots[i].is_none() {
                    slots[i] = Some(value);
                }
                next = i + 1;
            }
            None if unknown == UnknownFields::Reject && !skipped.contains(&key) => {
                return Err(unknown_field(key, value));
            }
            None => {}
        }
    }
    Ok(slots)
}

/// Whether two keys are equal: short keys are compared as two (overlapping) machine words each,
/// which costs less than a call to `memcmp` per declared key.
#[inline]
fn same_key(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    fn word<const W: usize>(s: &[u8], at: usize) -> [u8; W] {
        s.get(at..at + W)
            .and_then(|w| w.try_into().ok())
            .unwrap_or([0; W])
    }
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => word::<4>(a, 0) == word::<4>(b, 0) && word::<4>(a, n - 4) == word::<4>(b, n - 4),
        8..=16 => word::<8>(a, 0) == word::<8>(b, 0) && word::<8>(a, n - 8) == word::<8>(b, n - 8),
        _ => a == b,
    }
}

/// The error for a key the model does not declare, under `unknown_fields = "reject"`.
pub fn unknown_field(key: &[u8], value: RawBsonRef<'_>) -> FieldError {
    FieldError::new(FieldErrorKind::UnknownField {
        found: crate::value::bson_type_name(&value),
        value: crate::value::excerpt(value),
    })
    .at_key(String::from_utf8_lossy(key).into_owned())
}

/// Reads a field: present values through [`FromBson::from_bson`], absent ones through
/// [`FromBson::from_missing`].
pub fn read<T: FromBson>(
    value: Option<RawBsonRef<'_>>,
    key: &'static str,
) -> Result<T, FieldError> {
    match value {
        Some(v) => T::from_bson(v),
        None => T::from_missing(),
    }
    .map_err(|e| e.at_key(key))
}

/// Reads a field with a user's `with = path` conversion; `missing` decides what an absent key gives.
pub fn read_with<'a, T, E: Display>(
    value: Option<RawBsonRef<'a>>,
    key: &'static str,
    convert: impl FnOnce(RawBsonRef<'a>) -> Result<T, E>,
    missing: impl FnOnce() -> Result<T, FieldError>,
) -> Result<T, FieldError> {
    match value {
        Some(v) => convert(v).map_err(|e| with_value(e, v)),
        None => missing(),
    }
    .map_err(|e| e.at_key(key))
}

/// A `with` conversion's error, followed by the value it was given: `bad date (found string "x")`.
fn with_value(error: impl Display, value: RawBsonRef<'_>) -> FieldError {
    FieldError::custom(format!(
        "{error} (found {} {})",
        crate::value::bson_type_name(&value),
        crate::value::excerpt(value)
    ))
}

/// Checks the length of a vector field read by `read` against its `dimensions = expected`.
pub fn dimensions<T: crate::value::Dimensions>(
    read: Result<T, FieldError>,
    expected: usize,
    key: &'static str,
) -> Result<T, FieldError> {
    let value = read?;
    crate::value::check_dimensions(&value, expected).map_err(|e| e.at_key(key))?;
    Ok(value)
}

/// An absent key with no default: the missing-field error.
pub fn missing<T>() -> Result<T, FieldError> {
    Err(FieldError::missing())
}

/// Reads a `jsonb` field with its serde `Deserialize` impl; `missing` decides what an absent key gives.
pub fn read_json<T: DeserializeOwned>(
    value: Option<RawBsonRef<'_>>,
    key: &'static str,
    missing: impl FnOnce() -> Result<T, FieldError>,
) -> Result<T, FieldError> {
    match value {
        Some(v) => decode_serde(v),
        None => missing(),
    }
    .map_err(|e| e.at_key(key))
}

/// An absent key of an `Option` field: `None`.
pub fn none<T>() -> Result<Option<T>, FieldError> {
    Ok(None)
}

/// Reads a field with `read`, or gives `default()` when the key is absent.
pub fn or_default<'a, T>(
    value: Option<RawBsonRef<'a>>,
    read: impl FnOnce(Option<RawBsonRef<'a>>) -> Result<T, FieldError>,
    default: impl FnOnce() -> T,
) -> Result<T, FieldError> {
    match value {
        Some(_) => read(value),
        None => Ok(default()),
    }
}

/// `Vec<T>` or `Option<Vec<T>>`: the field types of `child` and `junction` arrays.
pub trait ArrayField: Sized {
    type Item;
    /// The value when the key is absent or `null` (`error` says which).
    fn absent(error: FieldError) -> Result<Self, FieldError>;
    fn from_items(items: Vec<Self::Item>) -> Self;
    fn items(&self) -> &[Self::Item];
}

impl<T> ArrayField for Vec<T> {
    type Item = T;

    fn absent(error: FieldError) -> Result<Self, FieldError> {
        Err(error)
    }

    fn from_items(items: Vec<T>) -> Self {
        items
    }

    fn items(&self) -> &[T] {
        self
    }
}

impl<T> ArrayField for Option<Vec<T>> {
    type Item = T;

    fn absent(_error: FieldError) -> Result<Self, FieldError> {
        Ok(None)
    }

    fn from_items(items: Vec<T>) -> Self {
        Some(items)
    }

    fn items(&self) -> &[T] {
        self.as_deref().unwrap_or_default()
    }
}

fn read_items<A: ArrayField>(
    value: Option<RawBsonRef<'_>>,
    item: impl Fn(RawBsonRef<'_>) -> Result<A::Item, FieldError>,
) -> Result<A, FieldError> {
    match value {
        None => A::absent(FieldError::missing()),
        Some(RawBsonRef::Null) => A::absent(FieldError::null()),
        Some(RawBsonRef::Array(array)) => {
            let mut items = Vec::new();
            for (index, element) in Elements::of_array(array).enumerate() {
                // The key of an array element is its index, which the path has.
                let (_, element) = element.map_err(|e| e.at_index(index))?;
                items.push(item(element).map_err(|e| e.at_index(index))?);
            }
            Ok(A::from_items(items))
        }
        Some(other) => Err(wrong_type("array", &other)),
    }
}

/// Reads the array of a `junction` field.
pub fn read_array<A>(value: Option<RawBsonRef<'_>>, key: &'static str) -> Result<A, FieldError>
where
    A: ArrayField,
    A::Item: FromBson,
{
    read_items(value, <A::Item as FromBson>::from_bson).map_err(|e| e.at_key(key))
}

/// Reads the array of subdocuments of a `child` field.
pub fn read_children<A>(value: Option<RawBsonRef<'_>>, key: &'static str) -> Result<A, FieldError>
where
    A: ArrayField,
    A::Item: Embedded,
{
    read_items(value, embedded::<A::Item>).map_err(|e| e.at_key(key))
}

/// Reads an embedded struct from a subdocument.
pub fn embedded<T: Embedded>(value: RawBsonRef<'_>) -> Result<T, FieldError> {
    match value {
        RawBsonRef::Document(doc) => T::decode(doc),
        other => Err(wrong_type("object", &other)),
    }
}

/// The label of an enum value.
pub fn enum_label<'a>(value: RawBsonRef<'a>) -> Result<&'a str, FieldError> {
    match value {
        RawBsonRef::String(s) => Ok(s),
        other => Err(wrong_type("string", &other)),
    }
}

/// The error for a string that is not one of an enum's labels.
pub fn not_in_enum(value: &str, expected: &'static [&'static str]) -> FieldError {
    FieldError::new(FieldErrorKind::NotInEnum {
        value: value.to_string(),
        expected,
    })
}

/// A derived `decode`'s field errors: every field is read, and every bad one is reported.
#[derive(Debug, Default)]
pub struct Gather(Vec<FieldError>);

impl Gather {
    /// The value, or `None` with its error kept.
    pub fn keep<T>(&mut self, read: Result<T, FieldError>) -> Option<T> {
        match read {
            Ok(value) => Some(value),
            Err(error) => {
                self.0.push(error);
                None
            }
        }
    }

    /// All the kept errors as one (the first leads).
    pub fn into_error(self) -> FieldError {
        FieldError::gather(self.0)
            .unwrap_or_else(|| FieldError::invalid("a field failed without an error"))
    }
}

/// An absent `child` or `junction` array read by a `with` function: `None` for an `Option`.
pub fn absent_array<A: ArrayField>() -> Result<A, FieldError> {
    A::absent(FieldError::missing())
}
