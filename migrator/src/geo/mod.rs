//! PostGIS `geometry` columns from GeoJSON subdocuments.
//!
//! A field of one of these types reads a GeoJSON geometry (`{type: "Point", coordinates: [lng,
//! lat]}`, or `{type: "GeometryCollection", geometries: [...]}`) and is stored in a
//! `geometry(<Kind>, 4326)` column, written through binary `COPY` as EWKB (the SRID inside):
//!
//! | Rust | column | GeoJSON `type` accepted |
//! |---|---|---|
//! | [`Point`] | `geometry(Point, 4326)` | `Point` |
//! | [`LineString`] | `geometry(LineString, 4326)` | `LineString` |
//! | [`Polygon`] | `geometry(Polygon, 4326)` | `Polygon` |
//! | [`MultiPoint`] | `geometry(MultiPoint, 4326)` | `MultiPoint` |
//! | [`MultiLineString`] | `geometry(MultiLineString, 4326)` | `MultiLineString` |
//! | [`MultiPolygon`] | `geometry(MultiPolygon, 4326)` | `MultiPolygon` |
//! | [`GeometryCollection`] | `geometry(GeometryCollection, 4326)` | `GeometryCollection` |
//! | [`Geometry`] | `geometry(Geometry, 4326)` | any of them |
//!
//! What is checked (anything else is a per-document error naming the path inside the GeoJSON and
//! why, with the value): positions are two finite numbers, longitude within ±180 and latitude
//! within ±90 (SRID 4326, as MongoDB's `2dsphere` indexes require; a third coordinate is refused
//! rather than dropped), a line string has at least 2 positions, a polygon at least one ring and
//! each ring at least 4 positions with the last equal to the first. Multi-geometries and
//! collections may be empty. Self-intersections are not looked for (PostGIS's `ST_IsValid` does).
//! `#[migrate(index)]` on a geometry field creates a GiST index.

mod geojson;
mod wkb;

use bson::RawBsonRef;

use crate::error::FieldError;
use crate::model::PgType;
use crate::value::{Cell, FromBson, PgValue};

/// The spatial reference every geometry column uses: WGS 84 longitude/latitude, GeoJSON's.
pub const SRID: u32 = 4326;

/// A position: longitude, latitude.
pub type Position = [f64; 2];

/// The geometry type of a column (`geometry(<Kind>, 4326)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GeometryKind {
    Point,
    LineString,
    Polygon,
    MultiPoint,
    MultiLineString,
    MultiPolygon,
    GeometryCollection,
    /// Any kind.
    Geometry,
}

impl GeometryKind {
    /// The name GeoJSON's `type` and PostGIS's type modifier use (`MultiPolygon`).
    pub fn name(self) -> &'static str {
        match self {
            GeometryKind::Point => "Point",
            GeometryKind::LineString => "LineString",
            GeometryKind::Polygon => "Polygon",
            GeometryKind::MultiPoint => "MultiPoint",
            GeometryKind::MultiLineString => "MultiLineString",
            GeometryKind::MultiPolygon => "MultiPolygon",
            GeometryKind::GeometryCollection => "GeometryCollection",
            GeometryKind::Geometry => "Geometry",
        }
    }

    /// The WKB type code (0 for the generic kind, which no value has).
    fn code(self) -> u32 {
        match self {
            GeometryKind::Point => 1,
            GeometryKind::LineString => 2,
            GeometryKind::Polygon => 3,
            GeometryKind::MultiPoint => 4,
            GeometryKind::MultiLineString => 5,
            GeometryKind::MultiPolygon => 6,
            GeometryKind::GeometryCollection => 7,
            GeometryKind::Geometry => 0,
        }
    }
}

/// A GeoJSON `Point`.
#[derive(Debug, Clone, PartialEq)]
pub struct Point(pub Position);

/// A GeoJSON `LineString`: at least 2 positions.
#[derive(Debug, Clone, PartialEq)]
pub struct LineString(pub Vec<Position>);

/// A GeoJSON `Polygon`: an exterior ring, then holes; each ring closed, at least 4 positions.
#[derive(Debug, Clone, PartialEq)]
pub struct Polygon(pub Vec<Vec<Position>>);

/// A GeoJSON `MultiPoint`.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiPoint(pub Vec<Position>);

/// A GeoJSON `MultiLineString`.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiLineString(pub Vec<Vec<Position>>);

/// A GeoJSON `MultiPolygon`.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiPolygon(pub Vec<Vec<Vec<Position>>>);

/// A GeoJSON `GeometryCollection` (which may hold collections).
#[derive(Debug, Clone, PartialEq)]
pub struct GeometryCollection(pub Vec<Geometry>);

/// Any GeoJSON geometry.
#[derive(Debug, Clone, PartialEq)]
pub enum Geometry {
    Point(Point),
    LineString(LineString),
    Polygon(Polygon),
    MultiPoint(MultiPoint),
    MultiLineString(MultiLineString),
    MultiPolygon(MultiPolygon),
    GeometryCollection(GeometryCollection),
}

impl Geometry {
    pub fn kind(&self) -> GeometryKind {
        match self {
            Geometry::Point(_) => GeometryKind::Point,
            Geometry::LineString(_) => GeometryKind::LineString,
            Geometry::Polygon(_) => GeometryKind::Polygon,
            Geometry::MultiPoint(_) => GeometryKind::MultiPoint,
            Geometry::MultiLineString(_) => GeometryKind::MultiLineString,
            Geometry::MultiPolygon(_) => GeometryKind::MultiPolygon,
            Geometry::GeometryCollection(_) => GeometryKind::GeometryCollection,
        }
    }

    /// The geometry as EWKB with SRID 4326: what the column stores and binary `COPY` sends.
    pub fn to_ewkb(&self) -> Vec<u8> {
        let mut out = Vec::new();
        wkb::write(self.as_shape(), Some(SRID), &mut out);
        out
    }

    /// The geometry as EWKT (`SRID=4326;POINT(-93.24565 44.85466)`), as `ST_AsEWKT` prints it.
    pub fn to_ewkt(&self) -> String {
        wkb::ewkt(self.as_shape())
    }

    fn as_shape(&self) -> wkb::Shape<'_> {
        match self {
            Geometry::Point(p) => wkb::Shape::Point(&p.0),
            Geometry::LineString(l) => wkb::Shape::LineString(&l.0),
            Geometry::Polygon(p) => wkb::Shape::Polygon(&p.0),
            Geometry::MultiPoint(m) => wkb::Shape::MultiPoint(&m.0),
            Geometry::MultiLineString(m) => wkb::Shape::MultiLineString(&m.0),
            Geometry::MultiPolygon(m) => wkb::Shape::MultiPolygon(&m.0),
            Geometry::GeometryCollection(c) => wkb::Shape::Collection(&c.0),
        }
    }
}

impl FromBson for Geometry {
    fn from_bson(value: RawBsonRef<'_>) -> Result<Self, FieldError> {
        geojson::read(value)
    }
}

impl PgValue for Geometry {
    fn column_type() -> (PgType, bool) {
        (PgType::Geometry(GeometryKind::Geometry), false)
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        wkb::field(self.as_shape(), buf);
    }

    fn to_cell(&self) -> Cell {
        Cell::Geometry(self.to_ewkt())
    }
}

/// One typed geometry: reads only its own GeoJSON `type`.
macro_rules! typed {
    ($ty:ident, $shape:ident) => {
        impl FromBson for $ty {
            fn from_bson(value: RawBsonRef<'_>) -> Result<Self, FieldError> {
                match geojson::read(value)? {
                    Geometry::$ty(g) => Ok(g),
                    other => Err(geojson::other_kind(GeometryKind::$ty, other.kind(), value)),
                }
            }
        }

        impl PgValue for $ty {
            fn column_type() -> (PgType, bool) {
                (PgType::Geometry(GeometryKind::$ty), false)
            }

            fn encode(&self, buf: &mut Vec<u8>) {
                wkb::field(wkb::Shape::$shape(&self.0), buf);
            }

            fn to_cell(&self) -> Cell {
                Cell::Geometry(wkb::ewkt(wkb::Shape::$shape(&self.0)))
            }
        }

        impl From<$ty> for Geometry {
            fn from(g: $ty) -> Geometry {
                Geometry::$ty(g)
            }
        }
    };
}

typed!(Point, Point);
typed!(LineString, LineString);
typed!(Polygon, Polygon);
typed!(MultiPoint, MultiPoint);
typed!(MultiLineString, MultiLineString);
typed!(MultiPolygon, MultiPolygon);
typed!(GeometryCollection, Collection);

#[cfg(test)]
mod tests;
