use migrator::bson::oid::ObjectId;
use migrator::Migrate;

#[derive(Migrate)]
struct Post {
    #[migrate(id)]
    id: ObjectId,
    #[migrate(refs = User)]
    author: ObjectId,
}

fn main() {}
