use migrator::Migrate;

#[derive(Migrate)]
struct Post {
    title: String,
}

fn main() {}
