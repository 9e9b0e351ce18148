use migrator::bson::oid::ObjectId;
use migrator::Migrate;

#[derive(Migrate)]
#[migrate(rename_all = "camel_case")]
struct Post {
    #[migrate(id)]
    id: ObjectId,
    author_name: String,
}

fn main() {}
