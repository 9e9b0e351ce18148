use migrator::Migrate;

#[derive(Migrate)]
#[migrate(collection = "posts")]
struct Post {
    #[migrate(id, path = "meta.id")]
    id: i32,
    #[migrate(path = "author..handle")]
    handle: String,
}

fn main() {}
