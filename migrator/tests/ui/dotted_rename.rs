use migrator::Migrate;

#[derive(Migrate)]
#[migrate(collection = "posts")]
struct Post {
    #[migrate(id)]
    id: i32,
    #[migrate(rename = "author.handle")]
    author_handle: Option<String>,
}

fn main() {}
