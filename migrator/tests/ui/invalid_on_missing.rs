use migrator::bson::oid::ObjectId;
use migrator::Migrate;

#[derive(Migrate)]
struct User {
    #[migrate(id)]
    id: ObjectId,
}

#[derive(Migrate)]
struct Post {
    #[migrate(id)]
    id: ObjectId,
    #[migrate(references = User, on_missing = "ignore")]
    author: Option<ObjectId>,
}

fn main() {}
