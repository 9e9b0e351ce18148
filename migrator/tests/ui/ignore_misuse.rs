use migrator::Migrate;

#[derive(Migrate)]
#[migrate(collection = "posts", ignore = ["title", "legacy..x", "notes", "notes"])]
struct Post {
    #[migrate(id)]
    id: i32,
    title: String,
}

#[derive(Migrate)]
#[migrate(collection = "drafts", ignore = "notes")]
struct Draft {
    #[migrate(id)]
    id: i32,
}

fn main() {}
