//! Reading and checking a GeoJSON geometry from raw BSON. Every error names the path inside
//! the geometry (`coordinates[0][3]`) and shows the offending value.

use bson::{RawArray, RawBsonRef};

use super::{
    Geometry, GeometryCollection, GeometryKind, LineString, MultiLineString, MultiPoint,
    MultiPolygon, Point, Polygon, Position,
};
use crate::error::FieldError;
use crate::transform::Elements;
use crate::value::{excerpt, excerpt_str, wrong_type};

/// Reads a GeoJSON geometry object.
pub(super) fn read(value: RawBsonRef<'_>) -> Result<Geometry, FieldError> {
    let doc = match value {
        RawBsonRef::Document(doc) => doc,
        other => return Err(wrong_type("GeoJSON geometry object", &other)),
    };
    let mut kind = None;
    let mut coordinates = None;
    let mut geometries = None;
    for element in Elements::of(doc) {
        let (key, value) = element?;
        match key {
            b"type" => kind = Some(value),
            b"coordinates" => coordinates = Some(value),
            b"geometries" => geometries = Some(value),
            _ => {}
        }
    }
    let kind = match kind {
        Some(RawBsonRef::String(name)) => name,
        Some(other) => return Err(wrong_type("string", &other).at_key("type")),
        None => {
            return Err(invalid(
                "a GeoJSON geometry has a `type`, found none",
                value,
            ))
        }
    };
    if kind == "GeometryCollection" {
        let members = array(geometries, "geometries")?;
        let mut out = Vec::new();
        for (index, element) in Elements::of_array(members).enumerate() {
            let member = element
                .and_then(|(_, v)| read(v))
                .map_err(|e| e.at_index(index).at_key("geometries"))?;
            out.push(member);
        }
        return Ok(Geometry::GeometryCollection(GeometryCollection(out)));
    }
    let Some(c) = coordinates else {
        return Err(FieldError::missing().at_key("coordinates"));
    };
    let geometry = match kind {
        "Point" => position(c).map(|p| Geometry::Point(Point(p))),
        "LineString" => line(c).map(|l| Geometry::LineString(LineString(l))),
        "Polygon" => polygon(c).map(|p| Geometry::Polygon(Polygon(p))),
        "MultiPoint" => items(c, position).map(|m| Geometry::MultiPoint(MultiPoint(m))),
        "MultiLineString" => items(c, line).map(|m| Geometry::MultiLineString(MultiLineString(m))),
        "MultiPolygon" => items(c, polygon).map(|m| Geometry::MultiPolygon(MultiPolygon(m))),
        _ => {
            return Err(FieldError::invalid(format!(
                "{} is not a GeoJSON geometry type; expected one of `Point`, `LineString`, `Polygon`, `MultiPoint`, `MultiLineString`, `MultiPolygon`, `GeometryCollection`",
                excerpt_str(kind)
            ))
            .at_key("type"))
        }
    };
    geometry.map_err(|e| e.at_key("coordinates"))
}

/// The error for a geometry of another kind than the field's.
pub(super) fn other_kind(
    expected: GeometryKind,
    found: GeometryKind,
    value: RawBsonRef<'_>,
) -> FieldError {
    invalid(
        &format!(
            "expected a GeoJSON {}, found a {}",
            expected.name(),
            found.name()
        ),
        value,
    )
}

fn invalid(why: &str, value: RawBsonRef<'_>) -> FieldError {
    FieldError::invalid(format!("{why}: {}", excerpt(value)))
}

fn array<'a>(value: Option<RawBsonRef<'a>>, key: &'static str) -> Result<&'a RawArray, FieldError> {
    match value {
        Some(RawBsonRef::Array(a)) => Ok(a),
        Some(other) => Err(wrong_type("array", &other).at_key(key)),
        None => Err(FieldError::missing().at_key(key)),
    }
}

/// Reads the items of an array with `item`, each error under its index.
fn items<'a, T>(
    value: RawBsonRef<'a>,
    item: impl Fn(RawBsonRef<'a>) -> Result<T, FieldError>,
) -> Result<Vec<T>, FieldError> {
    let array = match value {
        RawBsonRef::Array(a) => a,
        other => return Err(wrong_type("array", &other)),
    };
    let mut out = Vec::new();
    for (index, element) in Elements::of_array(array).enumerate() {
        let v = element
            .and_then(|(_, v)| item(v))
            .map_err(|e| e.at_index(index))?;
        out.push(v);
    }
    Ok(out)
}

fn position(value: RawBsonRef<'_>) -> Result<Position, FieldError> {
    let numbers = items(value, number)?;
    match numbers.as_slice() {
        [lng, lat] => {
            if !(-180.0..=180.0).contains(lng) {
                return Err(invalid("a longitude is within -180 and 180", value));
            }
            if !(-90.0..=90.0).contains(lat) {
                return Err(invalid("a latitude is within -90 and 90", value));
            }
            Ok([*lng, *lat])
        }
        _ => Err(invalid(
            &format!(
                "a position is 2 numbers (longitude, latitude), found {}",
                numbers.len()
            ),
            value,
        )),
    }
}

fn number(value: RawBsonRef<'_>) -> Result<f64, FieldError> {
    let x = match value {
        RawBsonRef::Double(x) => x,
        RawBsonRef::Int32(i) => f64::from(i),
        // Coordinates are within ±180: a larger int64 is refused by the range check.
        RawBsonRef::Int64(i) => i as f64,
        other => return Err(wrong_type("number", &other)),
    };
    if x.is_finite() {
        Ok(x)
    } else {
        Err(invalid("a coordinate is a finite number", value))
    }
}

fn line(value: RawBsonRef<'_>) -> Result<Vec<Position>, FieldError> {
    let positions = items(value, position)?;
    if positions.len() < 2 {
        return Err(invalid(
            &format!(
                "a LineString has at least 2 positions, found {}",
                positions.len()
            ),
            value,
        ));
    }
    Ok(positions)
}

fn polygon(value: RawBsonRef<'_>) -> Result<Vec<Vec<Position>>, FieldError> {
    let rings = items(value, ring)?;
    if rings.is_empty() {
        return Err(invalid(
            "a Polygon has at least one ring, found none",
            value,
        ));
    }
    Ok(rings)
}

fn ring(value: RawBsonRef<'_>) -> Result<Vec<Position>, FieldError> {
    let positions = items(value, position)?;
    if positions.len() < 4 {
        return Err(invalid(
            &format!(
                "a Polygon's ring has at least 4 positions, found {}",
                positions.len()
            ),
            value,
        ));
    }
    if positions.first() != positions.last() {
        return Err(invalid(
            "a Polygon's ring is closed (its last position equals its first)",
            value,
        ));
    }
    Ok(positions)
}
