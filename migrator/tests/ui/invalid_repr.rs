use migrator::Migrate;

#[derive(Migrate)]
#[migrate(repr = "integer")]
enum Role {
    Admin,
    Member,
}

fn main() {}
