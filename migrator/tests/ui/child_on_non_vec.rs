use migrator::bson::oid::ObjectId;
use migrator::Migrate;

#[derive(Migrate)]
#[migrate(embedded)]
struct Address {
    city: String,
}

#[derive(Migrate)]
struct User {
    #[migrate(id)]
    id: ObjectId,
    #[migrate(child)]
    address: Option<Address>,
}

fn main() {}
