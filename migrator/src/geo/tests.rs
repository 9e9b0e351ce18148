use bson::{bson, Bson};

use super::*;
use crate::value::fixtures::{body, decode, hex, rejection};

fn point(lng: f64, lat: f64) -> Bson {
    bson!({ "type": "Point", "coordinates": [lng, lat] })
}

#[test]
fn every_kind_is_read() {
    let square = bson!([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]);
    for (input, ewkt) in [
        (
            point(-93.24565, 44.85466),
            "SRID=4326;POINT(-93.24565 44.85466)",
        ),
        (
            bson!({ "type": "LineString", "coordinates": [[0, 0], [1_i64, 2.5]] }),
            "SRID=4326;LINESTRING(0 0,1 2.5)",
        ),
        (
            bson!({ "type": "Polygon", "coordinates": [square.clone()] }),
            "SRID=4326;POLYGON((0 0,1 0,1 1,0 0))",
        ),
        (
            bson!({ "type": "MultiPoint", "coordinates": [[1, 2], [3, 4]] }),
            "SRID=4326;MULTIPOINT(1 2,3 4)",
        ),
        (
            bson!({ "type": "MultiLineString", "coordinates": [[[1, 2], [3, 4]]] }),
            "SRID=4326;MULTILINESTRING((1 2,3 4))",
        ),
        (
            bson!({ "type": "MultiPolygon", "coordinates": [[square.clone()], [square]] }),
            "SRID=4326;MULTIPOLYGON(((0 0,1 0,1 1,0 0)),((0 0,1 0,1 1,0 0)))",
        ),
        (
            bson!({ "type": "GeometryCollection", "geometries": [point(1.0, 2.0), { "type": "GeometryCollection", "geometries": [] }] }),
            "SRID=4326;GEOMETRYCOLLECTION(POINT(1 2),GEOMETRYCOLLECTION EMPTY)",
        ),
        (
            bson!({ "type": "MultiPoint", "coordinates": [] }),
            "SRID=4326;MULTIPOINT EMPTY",
        ),
    ] {
        let geometry = decode::<Geometry>(input.clone()).expect("a valid geometry");
        assert_eq!(geometry.to_cell(), Cell::Geometry(ewkt.into()), "{input}");
    }
}

#[test]
fn typed_fields_read_their_own_kind_only() {
    assert_eq!(
        decode::<Point>(point(2.0, 3.0)).expect("point"),
        Point([2.0, 3.0])
    );
    assert_eq!(
        rejection::<Polygon>(point(2.0, 3.0)),
        "expected a GeoJSON Polygon, found a Point: {\"type\":\"Point\",\"coordinates\":[2.0,3.0]}"
    );
    assert_eq!(
        <Polygon>::column_type(),
        (PgType::Geometry(GeometryKind::Polygon), false)
    );
    assert_eq!(
        PgType::Geometry(GeometryKind::MultiPolygon).sql(),
        "geometry(MultiPolygon, 4326)"
    );
    assert_eq!(
        <Geometry>::column_type().0.sql(),
        "geometry(Geometry, 4326)"
    );
}

#[test]
fn invalid_shapes_name_the_path_and_why() {
    for (input, message) in [
        (
            bson!({ "type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]] }),
            "field `coordinates[0]`: a Polygon's ring is closed (its last position equals its first): [[0,0],[1,0],[1,1],[0,1]]",
        ),
        (
            bson!({ "type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]] }),
            "field `coordinates[0]`: a Polygon's ring has at least 4 positions, found 3: [[0,0],[1,0],[0,0]]",
        ),
        (
            bson!({ "type": "Polygon", "coordinates": [] }),
            "field `coordinates`: a Polygon has at least one ring, found none: []",
        ),
        (
            bson!({ "type": "LineString", "coordinates": [[0, 0]] }),
            "field `coordinates`: a LineString has at least 2 positions, found 1: [[0,0]]",
        ),
        (
            bson!({ "type": "Point", "coordinates": [1, "2"] }),
            "field `coordinates[1]`: expected number, found string \"2\"",
        ),
        (
            bson!({ "type": "Point", "coordinates": [1, 2, 3] }),
            "field `coordinates`: a position is 2 numbers (longitude, latitude), found 3: [1,2,3]",
        ),
        (
            bson!({ "type": "Point", "coordinates": [f64::NAN, 2] }),
            "field `coordinates[0]`: a coordinate is a finite number: {\"$numberDouble\":\"NaN\"}",
        ),
        (
            bson!({ "type": "Point", "coordinates": [181, 2] }),
            "field `coordinates`: a longitude is within -180 and 180: [181,2]",
        ),
        (
            bson!({ "type": "Point", "coordinates": [1, -91] }),
            "field `coordinates`: a latitude is within -90 and 90: [1,-91]",
        ),
        (
            bson!({ "type": "Point" }),
            "field `coordinates`: required field is missing",
        ),
        (
            bson!({ "coordinates": [1, 2] }),
            "a GeoJSON geometry has a `type`, found none: {\"coordinates\":[1,2]}",
        ),
        (
            bson!({ "type": "Circle", "coordinates": [1, 2] }),
            "field `type`: \"Circle\" is not a GeoJSON geometry type; expected one of `Point`, `LineString`, `Polygon`, `MultiPoint`, `MultiLineString`, `MultiPolygon`, `GeometryCollection`",
        ),
        (
            bson!({ "type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 0]]], [[[0, 0], [1, 0], [1, 1], [5, 5]]]] }),
            "field `coordinates[1][0]`: a Polygon's ring is closed (its last position equals its first): [[0,0],[1,0],[1,1],[5,5]]",
        ),
        (
            bson!({ "type": "GeometryCollection", "geometries": [{ "type": "Point", "coordinates": [1, 2] }, { "type": "LineString", "coordinates": [[1, 2]] }] }),
            "field `geometries[1].coordinates`: a LineString has at least 2 positions, found 1: [[1,2]]",
        ),
        (
            Bson::String("POINT(1 2)".into()),
            "expected GeoJSON geometry object, found string \"POINT(1 2)\"",
        ),
    ] {
        assert_eq!(rejection::<Geometry>(input.clone()), message, "{input}");
    }
}

#[test]
fn geometries_are_written_as_ewkb_with_the_srid() {
    // Little-endian, type 1 with the SRID flag, SRID 4326, x, y.
    assert_eq!(
        body(&Point([1.0, 2.0])),
        hex("01 01000020 e6100000 000000000000f03f 0000000000000040")
    );
    // Members of a multi-geometry are plain WKB, without the SRID.
    assert_eq!(
        body(&MultiPoint(vec![[1.0, 2.0]])),
        hex("01 04000020 e6100000 01000000
             01 01000000 000000000000f03f 0000000000000040")
    );
    let collection = Geometry::GeometryCollection(GeometryCollection(vec![Geometry::LineString(
        LineString(vec![[0.0, 0.0], [1.0, 1.0]]),
    )]));
    assert_eq!(
        collection.to_ewkb(),
        hex("01 07000020 e6100000 01000000
             01 02000000 02000000 0000000000000000 0000000000000000 000000000000f03f 000000000000f03f")
    );
}
