use migrator::bson::oid::ObjectId;
use migrator::Migrate;

struct Location {
    lat: f64,
    lng: f64,
}

#[derive(Migrate)]
struct Place {
    #[migrate(id)]
    id: ObjectId,
    location: Location,
}

fn main() {}
