use migrator::bson::oid::ObjectId;
use migrator::Migrate;

#[derive(Migrate)]
#[migrate(embedded)]
struct Review {
    #[migrate(id)]
    id: ObjectId,
    rating: i32,
}

fn main() {}
