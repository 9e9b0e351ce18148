use migrator::Migrate;

#[derive(Migrate)]
struct Post<Id> {
    #[migrate(id)]
    id: Id,
}

fn main() {}
