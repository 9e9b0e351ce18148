//! Geometries and vectors encoded by `CopyEncoder`, loaded by the real PostgreSQL (with PostGIS)
//! through `COPY ... FROM STDIN (FORMAT binary)` and read back: every GeoJSON kind as PostGIS
//! sees it (`ST_AsGeoJSON`, `ST_IsValid`, `ST_SRID`, `GeometryType`), and vectors byte for byte
//! (`float4send` of every element).
//!
//! Needs PostgreSQL with PostGIS installed (Debian: `apt-get install postgresql-15-postgis-3`);
//! a missing server or extension fails the test.

use bson::spec::BinarySubtype;
use bson::{bson, Binary, Bson, RawBson};
use migrator::geo::{Geometry, LineString, MultiPolygon, Point};
use migrator::sink::copy::CopyEncoder;
use migrator::testing::with_test_database;
use migrator::value::{FromBson, PgValue};
use migrator::{RowSink, Vector};
use sqlx::{Connection, Executor, PgConnection, Row};

fn read<T: FromBson>(value: Bson) -> T {
    let raw = RawBson::try_from(value.clone()).expect("raw BSON");
    T::from_bson(raw.as_raw_bson_ref()).unwrap_or_else(|e| panic!("{value} rejected: {e}"))
}

async fn copy(conn: &mut PgConnection, encoder: &mut CopyEncoder, table: &str) {
    let payload = encoder.take(0).expect("rows to copy");
    let mut copy_in = conn
        .copy_in_raw(&format!("COPY {table} FROM STDIN (FORMAT binary)"))
        .await
        .expect("COPY starts");
    copy_in.send(payload).await.expect("COPY data");
    copy_in.finish().await.expect("PostgreSQL accepts the rows");
}

/// Marks the case `ST_AsGeoJSON` cannot print.
const NESTED: &str = "<nested>";

/// Every GeoJSON kind, with the GeoJSON PostGIS gives back for it.
fn geometries() -> Vec<(Bson, &'static str)> {
    let square = bson!([
        [0.0, 0.0],
        [10.0, 0.0],
        [10.0, 10.0],
        [0.0, 10.0],
        [0.0, 0.0]
    ]);
    let hole = bson!([[2.0, 2.0], [2.0, 4.0], [4.0, 4.0], [4.0, 2.0], [2.0, 2.0]]);
    vec![
        (
            bson!({ "type": "Point", "coordinates": [-93.24565, 44.85466] }),
            r#"{"type":"Point","coordinates":[-93.24565,44.85466]}"#,
        ),
        (
            bson!({ "type": "LineString", "coordinates": [[-180, -90], [180, 90.0]] }),
            r#"{"type":"LineString","coordinates":[[-180,-90],[180,90]]}"#,
        ),
        (
            bson!({ "type": "Polygon", "coordinates": [square.clone(), hole] }),
            r#"{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,0]],[[2,2],[2,4],[4,4],[4,2],[2,2]]]}"#,
        ),
        (
            bson!({ "type": "MultiPoint", "coordinates": [[1, 2], [3.5, -4.25]] }),
            r#"{"type":"MultiPoint","coordinates":[[1,2],[3.5,-4.25]]}"#,
        ),
        (
            bson!({ "type": "MultiLineString", "coordinates": [[[1, 2], [3, 4]], [[5, 6], [7, 8], [9, 10]]] }),
            r#"{"type":"MultiLineString","coordinates":[[[1,2],[3,4]],[[5,6],[7,8],[9,10]]]}"#,
        ),
        (
            bson!({ "type": "MultiPolygon", "coordinates": [[square], [[[20, 20], [30, 20], [30, 30], [20, 20]]]] }),
            r#"{"type":"MultiPolygon","coordinates":[[[[0,0],[10,0],[10,10],[0,10],[0,0]]],[[[20,20],[30,20],[30,30],[20,20]]]]}"#,
        ),
        (
            bson!({ "type": "GeometryCollection", "geometries": [
                { "type": "Point", "coordinates": [1, 2] },
                { "type": "LineString", "coordinates": [[0, 0], [1, 1]] },
            ] }),
            r#"{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[1,2]},{"type":"LineString","coordinates":[[0,0],[1,1]]}]}"#,
        ),
        // A collection inside a collection (GeoJSON discourages them; PostGIS stores them, but
        // its `ST_AsGeoJSON` refuses them): compared by EWKT only.
        (
            bson!({ "type": "GeometryCollection", "geometries": [
                { "type": "GeometryCollection", "geometries": [{ "type": "Point", "coordinates": [3, 4] }] },
            ] }),
            NESTED,
        ),
        (
            bson!({ "type": "MultiPoint", "coordinates": [] }),
            r#"{"type":"MultiPoint","coordinates":[]}"#,
        ),
    ]
}

#[tokio::test]
async fn every_geojson_kind_round_trips_as_postgis_geometry() {
    with_test_database("geometry_roundtrip", |url| async move {
        let mut conn = PgConnection::connect(&url).await.expect("connect");
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            .await
            .expect("PostGIS is installed (Debian: apt-get install postgresql-15-postgis-3)");
        let cases = geometries();
        // The generic column takes every kind; typed columns check the kind PostGIS sees.
        conn.execute(
            format!(
                "CREATE TABLE shapes (n integer, g {}, p {}, l {}, m {})",
                Geometry::column_type().0.sql(),
                Point::column_type().0.sql(),
                LineString::column_type().0.sql(),
                MultiPolygon::column_type().0.sql(),
            )
            .as_str(),
        )
        .await
        .expect("create the table");
        let mut encoder = CopyEncoder::new(1);
        for (n, (input, _)) in cases.iter().enumerate() {
            let geometry: Geometry = read(input.clone());
            encoder.begin_row(0);
            encoder.value(&(n as i32));
            encoder.value(&geometry);
            let typed = |kind: &str| input.as_document().and_then(|d| d.get_str("type").ok()) == Some(kind);
            encoder.value(&typed("Point").then(|| read::<Point>(input.clone())));
            encoder.value(&typed("LineString").then(|| read::<LineString>(input.clone())));
            encoder.value(&typed("MultiPolygon").then(|| read::<MultiPolygon>(input.clone())));
            encoder.end_row();
        }
        copy(&mut conn, &mut encoder, "shapes").await;

        let rows = sqlx::query(
            "SELECT CASE WHEN ST_NumGeometries(g) = 1 AND GeometryType(ST_GeometryN(g, 1)) = 'GEOMETRYCOLLECTION' \
                         THEN '<nested>' ELSE ST_AsGeoJSON(g) END, \
                    ST_IsValid(g), ST_SRID(g), \
                    ST_AsGeoJSON(p), ST_AsGeoJSON(l), ST_AsGeoJSON(m), ST_AsEWKT(g) FROM shapes ORDER BY n",
        )
        .fetch_all(&mut conn)
        .await
        .expect("read back");
        assert_eq!(rows.len(), cases.len());
        for (row, (input, geojson)) in rows.iter().zip(&cases) {
            let got: String = row.get(0);
            assert_eq!(got, *geojson, "{input}");
            assert!(row.get::<bool, _>(1), "PostGIS finds {input} invalid");
            assert_eq!(row.get::<i32, _>(2), 4326);
            let typed: Vec<Option<String>> = (3..6).map(|i| row.get(i)).collect();
            let present: Vec<&String> = typed.iter().flatten().collect();
            for text in present {
                assert_eq!(text, geojson, "typed column of {input}");
            }
            let geometry: Geometry = read(input.clone());
            assert_eq!(row.get::<String, _>(6), geometry.to_ewkt(), "EWKT of {input}");
        }
        conn.close().await.expect("close");
    })
    .await;
}

fn vector(dtype: u8, padding: u8, data: &[u8]) -> Bson {
    let mut bytes = vec![dtype, padding];
    bytes.extend_from_slice(data);
    Bson::Binary(Binary {
        subtype: BinarySubtype::from(9u8),
        bytes,
    })
}

#[tokio::test]
async fn vectors_round_trip_byte_for_byte() {
    with_test_database("vector_roundtrip", |url| async move {
        let mut conn = PgConnection::connect(&url).await.expect("connect");
        let floats = [
            0.1f32,
            -2.5,
            f32::MAX,
            f32::MIN_POSITIVE,
            1.0e-45,
            -0.0,
            f32::INFINITY,
            f32::NAN,
            std::f32::consts::PI,
        ];
        let data: Vec<u8> = floats.iter().flat_map(|f| f.to_le_bytes()).collect();
        let f: Vector<f32> = read(vector(0x27, 0, &data));
        let i: Vector<i8> = read(vector(0x03, 0, &[0, 1, 0x7f, 0x80, 0xff]));
        let b: Vector<bool> = read(vector(0x10, 4, &[0b1010_0000, 0b0110_0000]));
        let empty: Vector<f32> = read(vector(0x27, 0, &[]));
        conn.execute(
            format!(
                "CREATE TABLE vectors (f {}, i {}, b {}, e {})",
                Vector::<f32>::column_type().0.sql(),
                Vector::<i8>::column_type().0.sql(),
                Vector::<bool>::column_type().0.sql(),
                Vector::<f32>::column_type().0.sql(),
            )
            .as_str(),
        )
        .await
        .expect("create the table");
        let mut encoder = CopyEncoder::new(1);
        encoder.begin_row(0);
        encoder.value(&f);
        encoder.value(&i);
        encoder.value(&b);
        encoder.value(&empty);
        encoder.end_row();
        copy(&mut conn, &mut encoder, "vectors").await;

        let row = sqlx::query(
            "SELECT (SELECT array_agg(float4send(x) ORDER BY o) FROM unnest(f) WITH ORDINALITY AS u(x, o)), \
                    i, b, cardinality(e), pg_typeof(f)::text, pg_typeof(i)::text FROM vectors",
        )
        .fetch_one(&mut conn)
        .await
        .expect("read back");
        let stored: Vec<Vec<u8>> = row.get(0);
        let expected: Vec<Vec<u8>> = floats.iter().map(|f| f.to_be_bytes().to_vec()).collect();
        assert_eq!(stored, expected, "float32 elements, bit for bit");
        assert_eq!(row.get::<Vec<i16>, _>(1), [0, 1, 127, -128, -1]);
        assert_eq!(
            row.get::<Vec<bool>, _>(2),
            [true, false, true, false, false, false, false, false, false, true, true, false]
        );
        assert_eq!(row.get::<i32, _>(3), 0);
        assert_eq!(row.get::<String, _>(4), "real[]");
        assert_eq!(row.get::<String, _>(5), "smallint[]");
        conn.close().await.expect("close");
    })
    .await;
}

/// A server without the extension stops a run before it writes anything, saying how to install
/// it (checked against the real server with an extension name it does not have, since this
/// machine has PostGIS).
#[tokio::test]
async fn a_server_without_the_extension_is_refused_with_how_to_install_it() {
    with_test_database("missing_extension", |url| async move {
        let mut conn = PgConnection::connect(&url).await.expect("connect");
        let refused = migrator::sink::extensions::require_extension(
            &mut conn,
            "postgis_not_on_this_server",
            "geometry columns (places.area)",
            migrator::sink::extensions::INSTALL_POSTGIS,
        )
        .await
        .expect_err("the extension is not available");
        let message = refused.to_string();
        for part in [
            "geometry columns (places.area)",
            "`postgis_not_on_this_server`",
            "nothing was written",
            "apt-get install postgresql-15-postgis-3",
        ] {
            assert!(message.contains(part), "{part} in {message}");
        }
        migrator::sink::extensions::require_extension(
            &mut conn,
            "postgis",
            "geometry columns",
            migrator::sink::extensions::INSTALL_POSTGIS,
        )
        .await
        .expect("PostGIS is available here");
        conn.close().await.expect("close");
    })
    .await;
}
