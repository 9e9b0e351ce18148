use migrator::bson::oid::ObjectId;
use migrator::Migrate;

#[derive(Migrate)]
struct Post {
    #[migrate(id)]
    id: ObjectId,
    title: String,
    #[migrate(rename = "headline", column = "title")]
    headline: String,
}

fn main() {}
