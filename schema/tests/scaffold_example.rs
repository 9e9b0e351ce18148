//! `scaffold` on the example application's dump (`generate-data --seed 42 --scale 1`) against
//! the hand-written `schema::example`, feature by feature from both models' descriptions: the
//! table and every difference, explained, are printed (`cargo test -p schema --test
//! scaffold_example -- --nocapture`); the target is asserted: every reference and junction found
//! with its target, no reference invented.

use migrator::scaffold::compare::{self, Feature};
use migrator::scaffold::{self};
use migrator::source::DumpSource;
use schema::generator::dump::write_dump;
use schema::generator::{Generator, GeneratorConfig};

#[test]
fn the_scaffold_finds_every_reference_and_junction_of_the_example_models() {
    let dir = tempfile::tempdir().expect("temp dir");
    let generator = Generator::new(GeneratorConfig::new(42, 1.0)).expect("generator");
    write_dump(&generator, dir.path()).expect("the dump is written");
    let source = DumpSource::open(dir.path()).expect("the dump opens");
    let unique = |c: &str| source.unique_indexes(c).expect("the metadata reads");
    let scan = scaffold::scan(&source, None, &unique, &mut |_, _, _| {}).expect("scan");
    let result = scaffold::scaffold(scan, &source, &mut |_, _, _| {}).expect("scaffold");
    let models = schema::example::schema().expect("the example models");
    let comparison = compare::compare(&models, &result);
    for line in comparison.lines() {
        println!("{line}");
    }
    let row = |f: Feature| comparison.row(f).expect("every feature has a row").clone();
    // The hand-written side as the example's documentation counts it.
    assert_eq!(row(Feature::Junction).hand, 10);
    assert_eq!(row(Feature::Child).hand, 7);
    for feature in [Feature::Reference, Feature::Junction] {
        let r = row(feature);
        assert!(r.hand > 0);
        assert_eq!(
            r.found,
            r.hand - r.unseen,
            "{} missed: {:#?}",
            feature.name(),
            comparison.of(feature, true)
        );
        assert_eq!(
            r.added,
            0,
            "{} invented: {:#?}",
            feature.name(),
            comparison.of(feature, false)
        );
    }
    // The one hand-written reference the data cannot show: no comment of this dump has a
    // `parentId` (the generator replies within a task's thread, and with fewer comments than
    // tasks no thread holds two).
    let unseen: Vec<_> = comparison
        .differences
        .iter()
        .filter(|d| d.unseen)
        .map(|d| (d.feature, d.at.0.as_str(), d.at.1.as_str()))
        .collect();
    assert_eq!(unseen, [(Feature::Reference, "comments", "parentId")]);
    // Every difference says why.
    for d in &comparison.differences {
        assert!(d.why.contains("scaffold: "), "{d:?}");
    }
}
