use migrator::Migrate;

/// A plain struct, not `#[migrate(embedded)]`.
struct Address {
    street: String,
}

#[derive(Migrate)]
#[migrate(collection = "shops")]
struct Shop {
    #[migrate(id)]
    id: i32,
    #[migrate(flatten)]
    address: Address,
}

fn main() {}
