use migrator::Migrate;

#[derive(Migrate)]
#[migrate(embedded)]
struct Geo {
    lat: f64,
}

#[derive(Migrate)]
#[migrate(embedded)]
struct Address {
    street: String,
    #[migrate(flatten)]
    geo: Option<Geo>,
}

/// `address_geo_lat` comes from the flattened address and from the field.
#[derive(Migrate)]
#[migrate(collection = "shops")]
struct Shop {
    #[migrate(id)]
    id: i32,
    #[migrate(flatten)]
    address: Address,
    address_geo_lat: f64,
}

fn main() {}
