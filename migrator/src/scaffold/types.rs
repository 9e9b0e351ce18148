//! The narrowest Rust type that holds every scalar value seen under a key exactly: integers by
//! their range (integral doubles among them flagged), doubles as `f64` (beyond ±2^53 flagged),
//! integers too large for a double next to fractions as `Decimal128`; numbers and strings mixed
//! get a generated `with` function with an arm per case seen; other mixes are jsonb.

use std::collections::BTreeMap;

use super::infer::{count as n, json, rust, with, Scalar};
use super::model::WithFn;
use super::scan::Profile;

const I32: std::ops::RangeInclusive<i64> = (i32::MIN as i64)..=(i32::MAX as i64);
const EXACT_IN_DOUBLE: i64 = 1 << 53;

fn int_type(p: &Profile) -> &'static str {
    let (mut lo, mut hi) = (p.int_min, p.int_max);
    if p.ints == 0 {
        lo = 0;
        hi = 0;
    }
    if p.integral_doubles > 0 {
        lo = lo.min(p.integral_min as i64);
        hi = hi.max(p.integral_max as i64);
    }
    if I32.contains(&lo) && I32.contains(&hi) {
        "i32"
    } else {
        "i64"
    }
}

/// The type of a number that is every value seen (ints and doubles), with notes.
fn number(p: &Profile) -> (String, Vec<String>) {
    let mut notes = Vec::new();
    if p.beyond_2_53 > 0 {
        notes.push(format!(
            "{} doubles beyond ±2^53, where not every integer is exact.",
            n(p.beyond_2_53)
        ));
    }
    if p.doubles == 0 {
        return (int_type(p).into(), notes);
    }
    if p.ints == 0 {
        if p.integral_doubles == p.doubles {
            notes.push(format!(
                "Every double is a whole number ({}); kept `f64` (a double field).",
                n(p.doubles)
            ));
        }
        return ("f64".into(), notes);
    }
    if p.integral_doubles == p.doubles && p.beyond_2_53 == 0 {
        notes.push(format!(
            "Integers with {} integral doubles (drift): every value is a whole number.",
            n(p.doubles)
        ));
        return (int_type(p).into(), notes);
    }
    if p.int_min < -EXACT_IN_DOUBLE || p.int_max > EXACT_IN_DOUBLE {
        notes.push(
            "Integers beyond ±2^53 next to fractions: `Decimal128` holds both exactly.".into(),
        );
        return ("Decimal128".into(), notes);
    }
    notes.push(format!(
        "{} integers and {} doubles (drift): `f64` holds them all exactly.",
        n(p.ints),
        n(p.doubles)
    ));
    ("f64".into(), notes)
}

/// The type for values of these (non-null) BSON types.
pub(super) fn scalar(p: Option<&Profile>, kinds: &BTreeMap<&str, u64>, rel: &str) -> Scalar {
    let default = Profile::default();
    let p = p.unwrap_or(&default);
    let has = |t: &str| kinds.contains_key(t);
    let numeric = ["int", "long", "double"];
    let all_numeric = kinds.keys().all(|k| numeric.contains(k));
    if all_numeric {
        let (ty, notes) = number(p);
        return rust(&ty, notes);
    }
    if kinds.len() == 1 {
        let only = kinds.keys().next().copied().unwrap_or_default();
        let ty = match only {
            "string" => {
                let mut notes = Vec::new();
                if p.nul_strings > 0 {
                    notes.push(format!(
                        "{} strings hold a NUL character, which PostgreSQL's text cannot store: those documents will be rejected.",
                        n(p.nul_strings)
                    ));
                }
                return rust("String", notes);
            }
            "bool" => "bool",
            "date" if p.dates_out_of_range > 0 => {
                return rust(
                    "DateTime",
                    vec![format!(
                        "{} dates lie outside PostgreSQL's range (4714 BC to 294247 AD): those documents will be rejected.",
                        n(p.dates_out_of_range)
                    )],
                );
            }
            "date" => "DateTime",
            "objectId" => "ObjectId",
            "decimal" => "Decimal128",
            "binData"
                if p.float32_vectors > 0
                    && p.float32_vectors == p.binary_subtypes.values().sum::<u64>() =>
            {
                "migrator::Vector<f32>"
            }
            "binData" => "Binary",
            other => return json(format!("BSON type `{other}`: kept as jsonb.")),
        };
        return rust(ty, Vec::new());
    }
    let numbers: u64 = numeric.iter().filter_map(|t| kinds.get(t)).sum();
    let cases = kinds
        .iter()
        .map(|(t, c)| format!("{t} {}", n(*c)))
        .collect::<Vec<_>>()
        .join(", ");
    if has("string") && kinds.keys().all(|k| *k == "string" || numeric.contains(k)) {
        let strings = kinds["string"];
        if numbers >= strings {
            let (ty, _) = number(p);
            let mut arms = vec![];
            if has("double") {
                arms.push(if ty == "f64" {
                    "RawBsonRef::Double(d) => Ok(Some(d)),".to_string()
                } else {
                    format!("RawBsonRef::Double(d) if d.fract() == 0.0 => Ok(Some(d as {ty})),")
                });
            }
            for (t, variant) in [("int", "Int32"), ("long", "Int64")] {
                if has(t) {
                    arms.push(match ty.as_str() {
                        "f64" => format!("RawBsonRef::{variant}(i) => Ok(Some(i as f64)),"),
                        "i64" => format!("RawBsonRef::{variant}(i) => Ok(Some(i64::from(i))),"),
                        _ => format!("RawBsonRef::{variant}(i) => {ty}::try_from(i).map(Some).map_err(|e| e.to_string()),"),
                    });
                }
            }
            arms.push("RawBsonRef::String(s) if s.trim().is_empty() => Ok(None),".into());
            arms.push(format!(
                "RawBsonRef::String(s) => s.trim().parse::<{ty}>().map(Some).map_err(|_| format!(\"`{{s}}` is not a number\")),"
            ));
            return with(WithFn {
                ident: String::new(),
                ty: format!("Option<{ty}>"),
                arms,
                docs: {
                    let mut docs = vec![format!(
                        "Mixed types ({cases}; {} empty strings, {} numeric strings): read with a generated `with` function, an empty string as NULL.",
                        n(p.empty_strings),
                        n(p.numeric_strings)
                    )];
                    let words = p
                        .strings
                        .saturating_sub(p.empty_strings + p.numeric_strings);
                    if words > 0 {
                        docs.push(format!(
                            "{} strings are not numbers: those documents will be rejected.",
                            n(words)
                        ));
                    }
                    docs
                },
            });
        }
        let mut arms = vec!["RawBsonRef::String(s) => Ok(Some(s.to_string())),".to_string()];
        for (t, variant) in [("int", "Int32"), ("long", "Int64"), ("double", "Double")] {
            if has(t) {
                arms.push(format!(
                    "RawBsonRef::{variant}(x) => Ok(Some(x.to_string())),"
                ));
            }
        }
        return with(WithFn {
            ident: String::new(),
            ty: "Option<String>".into(),
            arms,
            docs: vec![format!(
                "Mixed types ({cases}): mostly text, read with a generated `with` function that writes numbers as text."
            )],
        });
    }
    if kinds.len() == 2 && has("objectId") && has("string") && p.hex24_strings == kinds["string"] {
        return with(WithFn {
            ident: String::new(),
            ty: "Option<ObjectId>".into(),
            arms: vec![
                "RawBsonRef::ObjectId(o) => Ok(Some(o)),".into(),
                "RawBsonRef::String(s) => ObjectId::parse_str(s).map(Some).map_err(|e| e.to_string()),".into(),
            ],
            docs: vec![format!("ObjectIds, some written as hex text ({cases}): read with a generated `with` function.")],
        });
    }
    json(format!("Mixed types at `{rel}` ({cases}): kept as jsonb."))
}
