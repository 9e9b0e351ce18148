//! Models with geometry and vector fields: the rows documents become (insta snapshots, on real
//! theaters from `../shared/data/sample_mflix` and on made-up documents), the DDL they generate
//! (PostGIS first, a GiST index), and the errors of shapes and vectors that do not fit.

use std::path::PathBuf;

use migrator::bson::oid::ObjectId;
use migrator::bson::spec::BinarySubtype;
use migrator::bson::{doc, Binary, Bson};
use migrator::geo::{Geometry, Point, Polygon};
use migrator::sink::ddl::Ddl;
use migrator::testing::{read_documents, rows};
use migrator::{Migrate, Vector};

/// A theater: `location` holds `address` and the GeoJSON point `geo`, read by path (the address
/// as flattened columns is in `shapes_paths.rs`).
#[derive(Debug, Migrate)]
#[migrate(collection = "theaters", rename_all = "camelCase", ignore = ["location.address"])]
struct Theater {
    #[migrate(id)]
    id: ObjectId,
    theater_id: i32,
    #[migrate(path = "location.geo", index)]
    geo: Point,
}

fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(path)
}

#[test]
fn theaters_locations_become_postgis_points() {
    let docs = read_documents(&data("sample_mflix/theaters.bson")).expect("theaters.bson");
    assert_eq!(docs.len(), 1564);
    let mut rejected = 0;
    for doc in &docs {
        let doc = migrator::bson::Document::try_from(doc.as_ref()).expect("a document");
        if matches!(
            rows::<Theater>(&doc),
            migrator::testing::Transformed::Rejected { .. }
        ) {
            rejected += 1;
        }
    }
    assert_eq!(rejected, 0, "every theater has a valid point");
    let first: Vec<_> = docs[..3]
        .iter()
        .map(|d| rows::<Theater>(&migrator::bson::Document::try_from(d.as_ref()).expect("doc")))
        .collect();
    insta::assert_yaml_snapshot!(first);
}

#[test]
fn a_bad_theater_point_names_the_path_and_the_value() {
    let doc = doc! {
        "_id": ObjectId::parse_str("59a47286cfa9a3a73e51e72c").expect("oid"),
        "theaterId": 1000,
        "location": { "geo": { "type": "Point", "coordinates": [-93.24565, 144.85466] } },
    };
    insta::assert_yaml_snapshot!(rows::<Theater>(&doc));
}

#[test]
fn theaters_ddl_creates_postgis_and_a_gist_index() {
    let schema = migrator::schema![Theater].expect("schema");
    let sql = Ddl::new(&schema, None).to_sql();
    insta::assert_snapshot!(sql);
}

/// Made-up places with every shape kind a model can hold, and an embedding.
#[derive(Debug, Migrate)]
#[migrate(collection = "places")]
struct Place {
    #[migrate(id)]
    id: i32,
    area: Option<Polygon>,
    shape: Geometry,
    #[migrate(dimensions = 3)]
    embedding: Vector<f32>,
    #[migrate(dimensions = 4)]
    codes: Option<Vector<i8>>,
    /// Bytes only, whatever the subtype.
    blob: Option<Binary>,
    /// The whole value as Extended JSON: a binary keeps its subtype here.
    raw: Option<Bson>,
}

fn vector(dtype: u8, data: &[u8]) -> Binary {
    let mut bytes = vec![dtype, 0];
    bytes.extend_from_slice(data);
    Binary {
        subtype: BinarySubtype::from(9u8),
        bytes,
    }
}

fn floats(values: &[f32]) -> Binary {
    let data: Vec<u8> = values.iter().flat_map(|f| f.to_le_bytes()).collect();
    vector(0x27, &data)
}

fn place() -> migrator::bson::Document {
    doc! {
        "_id": 1,
        "area": { "type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]] },
        "shape": { "type": "MultiLineString", "coordinates": [[[0, 0], [1, 1]], [[2, 2], [3, 3.5]]] },
        "embedding": floats(&[0.25, -1.5, 0.1]),
        "codes": vector(0x03, &[1, 0xff, 0x80, 0x7f]),
        "blob": vector(0x03, &[1]),
        "raw": vector(0x03, &[1]),
    }
}

#[test]
fn places_with_shapes_and_vectors() {
    insta::assert_yaml_snapshot!(rows::<Place>(&place()));
}

#[test]
fn wrong_dimensions_and_dtypes_are_rejected_with_the_value() {
    let mut short = place();
    short.insert("embedding", floats(&[0.5, 0.5]));
    insta::assert_yaml_snapshot!("wrong_dimensions", rows::<Place>(&short));
    let mut ints = place();
    ints.insert("embedding", vector(0x03, &[1, 2, 3]));
    insta::assert_yaml_snapshot!("wrong_dtype", rows::<Place>(&ints));
    let mut open = place();
    open.insert(
        "area",
        doc! { "type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]] },
    );
    insta::assert_yaml_snapshot!("open_ring", rows::<Place>(&open));
}

#[test]
fn places_ddl_has_real_and_smallint_arrays() {
    let schema = migrator::schema![Place].expect("schema");
    let sql = Ddl::new(&schema, None).to_sql();
    assert!(
        sql.starts_with(
            "-- Types (extensions and enums)\n\nCREATE EXTENSION IF NOT EXISTS postgis;"
        ),
        "{sql}"
    );
    for column in [
        "\"area\" geometry(Polygon, 4326)",
        "\"shape\" geometry(Geometry, 4326) NOT NULL",
        "\"embedding\" real[] NOT NULL",
        "\"codes\" smallint[]",
    ] {
        assert!(sql.contains(column), "{column} in {sql}");
    }
}
