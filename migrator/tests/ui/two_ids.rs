use migrator::bson::oid::ObjectId;
use migrator::Migrate;

#[derive(Migrate)]
struct Post {
    #[migrate(id)]
    id: ObjectId,
    #[migrate(id)]
    legacy_id: i32,
}

fn main() {}
