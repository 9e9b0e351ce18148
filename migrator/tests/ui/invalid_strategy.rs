use migrator::bson::oid::ObjectId;
use migrator::Migrate;

#[derive(Migrate)]
struct Post {
    #[migrate(id, strategy = "uuid4")]
    id: ObjectId,
}

fn main() {}
