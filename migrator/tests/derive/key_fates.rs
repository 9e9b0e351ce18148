//! The fate the key census gives each path under a derived model: `ignore` entries that reach
//! into a document leave its other keys reported one by one, not the document as a whole.

use migrator::census::coverage::collection_coverage;
use migrator::census::fate::fate;
use migrator::census::{Fate, KeyCensus, KeyStats};
use migrator::Migrate;

#[derive(Debug, Migrate)]
#[migrate(collection = "notes", ignore = ["meta.x", "tags[].internal", "legacy"])]
struct Note {
    #[migrate(id)]
    id: i32,
    title: String,
}

fn dropped_inside(key: &str) -> Fate {
    Fate::InsideDropped { key: key.into() }
}

#[test]
fn ignore_entries_inside_a_document_leave_its_other_keys_to_their_own_fate() {
    let model = Note::model();
    let container = |entries: &[&str]| Fate::Container {
        ignored: entries.iter().map(|e| e.to_string()).collect(),
    };
    let ignored = |entry: &str| Fate::Ignored {
        by: format!("ignore = [\"{entry}\"]"),
    };
    let cases = [
        (
            "title",
            Fate::Column {
                table: "notes".into(),
                column: "title".into(),
            },
        ),
        ("meta", container(&["meta.x"])),
        ("meta.x", ignored("meta.x")),
        ("meta.x.deep", ignored("meta.x")),
        ("meta.y", Fate::Dropped),
        ("meta.y.z", dropped_inside("meta.y")),
        ("meta.y[]", dropped_inside("meta.y")),
        ("tags", container(&["tags[].internal"])),
        ("tags[]", container(&["tags[].internal"])),
        ("tags[].internal", ignored("tags[].internal")),
        ("tags[].name", Fate::Dropped),
        ("legacy", ignored("legacy")),
        ("legacy.a", ignored("legacy")),
        ("other", Fate::Dropped),
        ("other.a", dropped_inside("other")),
        ("other[]", dropped_inside("other")),
    ];
    for (path, expected) in cases {
        assert_eq!(fate(&model, path), expected, "{path}");
    }
}

fn census(paths: &[&str]) -> KeyCensus {
    KeyCensus {
        documents: 3,
        keys: paths
            .iter()
            .map(|p| {
                let stats = KeyStats {
                    documents: 3,
                    types: [("string".to_string(), 3)].into(),
                    example_id: Some("1".into()),
                };
                (p.to_string(), stats)
            })
            .collect(),
    }
}

fn dropped(paths: &[&str]) -> Vec<String> {
    let coverage = collection_coverage(&Note::model(), &census(paths));
    coverage.dropped.into_iter().map(|d| d.path).collect()
}

#[test]
fn a_document_holding_only_ignored_keys_drops_nothing() {
    assert!(dropped(&["_id", "title", "meta", "meta.x"]).is_empty());
    assert_eq!(
        dropped(&["_id", "title", "meta", "meta.x", "meta.y", "meta.y.z"]),
        ["meta.y"]
    );
    assert_eq!(
        dropped(&[
            "_id",
            "title",
            "tags",
            "tags[]",
            "tags[].internal",
            "tags[].name"
        ]),
        ["tags[].name"]
    );
}
