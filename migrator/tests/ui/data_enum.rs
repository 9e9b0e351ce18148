use migrator::Migrate;

#[derive(Migrate)]
enum Shape {
    Point,
    Circle { radius: f64 },
    Square(f64),
}

fn main() {}
