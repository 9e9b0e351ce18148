use migrator::bson::oid::ObjectId;
use migrator::Migrate;

#[derive(Migrate)]
struct User {
    #[migrate(id)]
    id: ObjectId,
    #[migrate(junction, references = User)]
    friends: Vec<ObjectId>,
}

fn main() {}
