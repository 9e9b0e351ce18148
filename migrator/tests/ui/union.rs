use migrator::Migrate;

#[derive(Migrate)]
union Number {
    int: i32,
    float: f32,
}

fn main() {}
