use migrator::bson::oid::ObjectId;
use migrator::Migrate;

#[derive(Migrate)]
struct Tag {
    #[migrate(id)]
    id: ObjectId,
}

#[derive(Migrate)]
struct Post {
    #[migrate(id)]
    id: ObjectId,
    #[migrate(junction, references = Tag)]
    tag: ObjectId,
}

fn main() {}
