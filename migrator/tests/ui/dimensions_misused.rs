use migrator::bson::oid::ObjectId;
use migrator::{Migrate, Vector};

#[derive(Migrate)]
struct Movie {
    #[migrate(id)]
    id: ObjectId,
    #[migrate(dimensions = "1536")]
    quoted: Vector<f32>,
    #[migrate(dimensions = 0)]
    empty: Vector<f32>,
    #[migrate(jsonb, dimensions = 3)]
    serde: Vector<f32>,
    #[migrate(child, dimensions = 3)]
    children: Vec<Vector<f32>>,
}

fn main() {}
