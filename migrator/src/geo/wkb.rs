//! EWKB, what a PostGIS `geometry` column receives through binary `COPY` (its `geometry_recv`
//! reads the same bytes `ST_AsEWKB` writes), and EWKT for snapshots.
//!
//! Little-endian throughout: a byte order byte (`1`), the type code as `u32` (with `0x20000000`
//! set when an SRID follows, which only the outermost geometry has), the SRID, then the body:
//! a point's two `f64`s; a line string's or ring's count and points; a polygon's ring count and
//! rings; a multi-geometry's or collection's count and members, each a whole WKB geometry.

use super::{Geometry, GeometryKind, Position};
use crate::value::wire::{begin_field, end_field};

/// The EWKB flag saying an SRID follows the type code.
const SRID_FLAG: u32 = 0x2000_0000;

/// A geometry's parts, borrowed from a typed geometry or from [`Geometry`].
#[derive(Debug, Clone, Copy)]
pub(super) enum Shape<'a> {
    Point(&'a Position),
    LineString(&'a [Position]),
    Polygon(&'a [Vec<Position>]),
    MultiPoint(&'a [Position]),
    MultiLineString(&'a [Vec<Position>]),
    MultiPolygon(&'a [Vec<Vec<Position>>]),
    Collection(&'a [Geometry]),
}

impl Shape<'_> {
    fn kind(self) -> GeometryKind {
        match self {
            Shape::Point(_) => GeometryKind::Point,
            Shape::LineString(_) => GeometryKind::LineString,
            Shape::Polygon(_) => GeometryKind::Polygon,
            Shape::MultiPoint(_) => GeometryKind::MultiPoint,
            Shape::MultiLineString(_) => GeometryKind::MultiLineString,
            Shape::MultiPolygon(_) => GeometryKind::MultiPolygon,
            Shape::Collection(_) => GeometryKind::GeometryCollection,
        }
    }
}

/// Appends the geometry as a binary COPY field: its length, then its EWKB with SRID 4326.
pub(super) fn field(shape: Shape<'_>, buf: &mut Vec<u8>) {
    let start = begin_field(buf);
    write(shape, Some(super::SRID), buf);
    end_field(buf, start);
}

/// Appends the geometry as (E)WKB; `srid` only on the outermost geometry.
pub(super) fn write(shape: Shape<'_>, srid: Option<u32>, out: &mut Vec<u8>) {
    out.push(1);
    let code = shape.kind().code();
    match srid {
        Some(srid) => {
            put_u32(out, code | SRID_FLAG);
            put_u32(out, srid);
        }
        None => put_u32(out, code),
    }
    match shape {
        Shape::Point(p) => put_position(out, p),
        Shape::LineString(points) => put_points(out, points),
        Shape::Polygon(rings) => put_rings(out, rings),
        Shape::MultiPoint(points) => {
            put_len(out, points.len());
            for p in points {
                write(Shape::Point(p), None, out);
            }
        }
        Shape::MultiLineString(lines) => {
            put_len(out, lines.len());
            for l in lines {
                write(Shape::LineString(l), None, out);
            }
        }
        Shape::MultiPolygon(polygons) => {
            put_len(out, polygons.len());
            for p in polygons {
                write(Shape::Polygon(p), None, out);
            }
        }
        Shape::Collection(members) => {
            put_len(out, members.len());
            for m in members {
                write(m.as_shape(), None, out);
            }
        }
    }
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// A count; a geometry read from one BSON document has far fewer than 2^32 parts.
fn put_len(out: &mut Vec<u8>, len: usize) {
    put_u32(out, u32::try_from(len).unwrap_or(u32::MAX));
}

fn put_position(out: &mut Vec<u8>, p: &Position) {
    out.extend_from_slice(&p[0].to_le_bytes());
    out.extend_from_slice(&p[1].to_le_bytes());
}

fn put_points(out: &mut Vec<u8>, points: &[Position]) {
    put_len(out, points.len());
    for p in points {
        put_position(out, p);
    }
}

fn put_rings(out: &mut Vec<u8>, rings: &[Vec<Position>]) {
    put_len(out, rings.len());
    for ring in rings {
        put_points(out, ring);
    }
}

/// `SRID=4326;` and the geometry's WKT.
pub(super) fn ewkt(shape: Shape<'_>) -> String {
    let mut out = format!("SRID={};", super::SRID);
    wkt(shape, &mut out);
    out
}

fn wkt(shape: Shape<'_>, out: &mut String) {
    out.push_str(&shape.kind().name().to_uppercase());
    let empty = match shape {
        Shape::Point(_) => false,
        Shape::LineString(s) | Shape::MultiPoint(s) => s.is_empty(),
        Shape::Polygon(s) | Shape::MultiLineString(s) => s.is_empty(),
        Shape::MultiPolygon(s) => s.is_empty(),
        Shape::Collection(s) => s.is_empty(),
    };
    if empty {
        out.push_str(" EMPTY");
        return;
    }
    match shape {
        Shape::Point(p) => {
            out.push('(');
            wkt_position(p, out);
            out.push(')');
        }
        Shape::LineString(points) => wkt_points(points, out),
        Shape::Polygon(rings) => wkt_list(rings, out, |r, out| wkt_points(r, out)),
        // As `ST_AsEWKT` prints it: `MULTIPOINT(1 2,3 4)`.
        Shape::MultiPoint(points) => wkt_points(points, out),
        Shape::MultiLineString(lines) => wkt_list(lines, out, |l, out| wkt_points(l, out)),
        Shape::MultiPolygon(polygons) => wkt_list(polygons, out, |p, out| {
            wkt_list(p, out, |r, out| wkt_points(r, out));
        }),
        Shape::Collection(members) => wkt_list(members, out, |m, out| wkt(m.as_shape(), out)),
    }
}

fn wkt_position(p: &Position, out: &mut String) {
    out.push_str(&format!("{} {}", p[0], p[1]));
}

fn wkt_points(points: &[Position], out: &mut String) {
    wkt_list(points, out, wkt_position);
}

fn wkt_list<T>(items: &[T], out: &mut String, item: impl Fn(&T, &mut String)) {
    out.push('(');
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        item(x, out);
    }
    out.push(')');
}
