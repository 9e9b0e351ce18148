use migrator::bson::oid::ObjectId;
use migrator::Migrate;

#[derive(Migrate)]
struct Post {
    #[migrate(id)]
    id: ObjectId,
    #[migrate(skip, rename = "cache", unique)]
    cache: Vec<u8>,
}

fn main() {}
