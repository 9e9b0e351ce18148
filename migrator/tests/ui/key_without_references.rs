use migrator::bson::oid::ObjectId;
use migrator::Migrate;

#[derive(Migrate)]
struct Comment {
    #[migrate(id)]
    id: ObjectId,
    #[migrate(key = "email")]
    email: String,
}

fn main() {}
