use migrator::bson::oid::ObjectId;
use migrator::Migrate;

#[derive(Migrate)]
enum Role {
    Admin,
    Member,
}

#[derive(Migrate)]
struct User {
    #[migrate(id)]
    id: ObjectId,
    roles: Vec<Role>,
}

fn main() {}
