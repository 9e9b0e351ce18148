use migrator::bson::oid::ObjectId;
use migrator::Migrate;

#[derive(Migrate)]
#[migrate(embedded)]
struct Line {
    sku: String,
}

#[derive(Migrate)]
struct Order {
    #[migrate(id)]
    id: ObjectId,
    #[migrate(child, references = Order)]
    lines: Vec<Line>,
}

fn main() {}
