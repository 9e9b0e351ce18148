use migrator::bson::oid::ObjectId;
use migrator::Migrate;

#[derive(Migrate)]
struct Movie {
    #[migrate(id)]
    id: ObjectId,
    #[migrate(dimensions = 1536)]
    plot: String,
}

fn main() {}
