//! What a migration must leave behind, computed from the data and the models rather than from
//! the engine: expected rows of the real data, and the orphans of every reference.

use std::collections::{BTreeMap, BTreeSet};

use bson::oid::ObjectId;
use bson::{RawBsonRef, RawDocumentBuf};
use migrator::model::{MissingPolicy, PgType, RefTarget};
use migrator::sink::sql::{self, Namespace};
use migrator::Schema;

use crate::data::Dataset;
use crate::pg::{TestDb, TARGET};

/// What the real data becomes, derived from the documents.
#[derive(Debug, Clone)]
pub struct RealOutcome {
    /// Rows per table.
    pub rows: BTreeMap<&'static str, i64>,
    /// The movie whose `imdb.rating` is not a number (transform stage).
    pub rejected_movie: ObjectId,
    /// The second account with an `account_id` already seen (load stage).
    pub duplicate_account: ObjectId,
    /// Comments whose `movie_id` is not a loaded movie or whose `email` is not a user's
    /// (reference stage).
    pub dangling_comments: BTreeSet<ObjectId>,
    /// The sessions' `user_id`s that are no user's email (kept).
    pub dangling_sessions: BTreeSet<(ObjectId, String)>,
}

fn oid(doc: &RawDocumentBuf) -> ObjectId {
    doc.get_object_id("_id")
        .expect("the real data has ObjectId `_id`s")
}

fn text<'a>(doc: &'a RawDocumentBuf, key: &str) -> &'a str {
    doc.get_str(key).unwrap_or_else(|e| panic!("`{key}`: {e}"))
}

/// The relaxed Extended JSON the dead letters use for an ObjectId `_id`.
pub fn oid_text(id: &ObjectId) -> String {
    format!("{{\"$oid\":\"{}\"}}", id.to_hex())
}

impl RealOutcome {
    /// Documents a run rejects: the movie, the duplicate account and the dangling comments
    /// (what `--accept-rejected` is given for the real data).
    pub fn rejected(&self) -> usize {
        2 + self.dangling_comments.len()
    }

    pub fn of(data: &Dataset) -> RealOutcome {
        // accounts: the first document with an account_id wins, the next is a duplicate.
        let mut account_ids = BTreeSet::new();
        let mut duplicates = Vec::new();
        for doc in data.docs("accounts") {
            if !account_ids.insert(doc.get_i32("account_id").expect("account_id")) {
                duplicates.push(oid(doc));
            }
        }
        assert_eq!(
            duplicates.len(),
            1,
            "the real data has one duplicate account_id"
        );

        // customers: one junction row per distinct account_id that an account has.
        let mut customer_accounts = 0;
        for doc in data.docs("customers") {
            let held: BTreeSet<i32> = doc
                .get_array("accounts")
                .expect("accounts")
                .into_iter()
                .map(|v| v.expect("element").as_i32().expect("int32 account id"))
                .collect();
            customer_accounts += held.intersection(&account_ids).count() as i64;
        }

        let rejected: Vec<ObjectId> = data
            .docs("movies")
            .iter()
            .filter(|d| {
                let imdb = d.get_document("imdb").expect("imdb");
                !matches!(
                    imdb.get("rating").expect("rating"),
                    Some(RawBsonRef::Double(_) | RawBsonRef::Int32(_) | RawBsonRef::Int64(_))
                )
            })
            .map(oid)
            .collect();
        assert_eq!(
            rejected.len(),
            1,
            "the real data has one movie with a text rating"
        );
        let movies: BTreeSet<ObjectId> = data
            .docs("movies")
            .iter()
            .map(oid)
            .filter(|id| *id != rejected[0])
            .collect();
        let emails: BTreeSet<&str> = data
            .docs("users")
            .iter()
            .map(|d| text(d, "email"))
            .collect();
        let dangling_comments: BTreeSet<ObjectId> = data
            .docs("comments")
            .iter()
            .filter(|d| {
                let movie = d.get_object_id("movie_id").expect("movie_id");
                !movies.contains(&movie) || !emails.contains(text(d, "email"))
            })
            .map(oid)
            .collect();
        let dangling_sessions = data
            .docs("sessions")
            .iter()
            .filter(|d| !emails.contains(text(d, "user_id")))
            .map(|d| (oid(d), text(d, "user_id").to_string()))
            .collect();

        let items: BTreeSet<i32> = data
            .docs("mongomart_item")
            .iter()
            .map(|d| d.get_i32("_id").expect("int _id"))
            .collect();
        for cart in data.docs("mongomart_cart") {
            for item in cart.get_array("items").expect("items") {
                let item = item.expect("element");
                let id = item.as_document().and_then(|d| d.get_i32("_id").ok());
                assert!(
                    id.is_some_and(|i| items.contains(&i)),
                    "every cart item is an item"
                );
            }
        }

        let count = |c: &str| data.docs(c).len() as i64;
        let rows = BTreeMap::from([
            ("accounts", account_ids.len() as i64),
            ("customers", count("customers")),
            ("customer_accounts", customer_accounts),
            ("users", count("users")),
            ("theaters", count("theaters")),
            ("sessions", count("sessions")),
            ("movies", movies.len() as i64),
            (
                "comments",
                count("comments") - dangling_comments.len() as i64,
            ),
            ("items", count("mongomart_item")),
            ("item_reviews", 13),
            ("carts", count("mongomart_cart")),
            ("cart_items", 5),
            ("cart_item_reviews", 2),
        ]);
        RealOutcome {
            rows,
            rejected_movie: rejected[0],
            duplicate_account: duplicates[0],
            dangling_comments,
            dangling_sessions,
        }
    }
}

/// One reference of the schema and how many rows point at nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphans {
    pub table: String,
    pub column: String,
    pub policy: MissingPolicy,
    /// Whether a foreign key can exist (the target is a key and the policy is not `keep`).
    pub enforced: bool,
    pub count: i64,
}

/// The orphans of every reference of every table of `schema` in the test database.
pub fn orphans(db: &TestDb, schema: &Schema) -> Vec<Orphans> {
    let ns = Namespace(Some(TARGET));
    let mut out = Vec::new();
    for model in schema.models() {
        let def = model.def();
        for table in &def.tables {
            for reference in &table.references {
                let target = schema
                    .resolve(def, &reference.target)
                    .unwrap_or_else(|| panic!("{}.{} resolves", table.name, reference.column));
                let array = table
                    .column(&reference.column)
                    .is_some_and(|c| matches!(c.ty, PgType::Array(_)));
                let query = sql::count_orphans(
                    ns,
                    &table.name,
                    &reference.column,
                    array,
                    target.table,
                    target.column,
                );
                let count = db.number(&query);
                let within = matches!(reference.target, RefTarget::Table(_));
                out.push(Orphans {
                    table: table.name.clone(),
                    column: reference.column.clone(),
                    policy: reference.on_missing,
                    enforced: within
                        || (reference.on_missing != MissingPolicy::Keep && target.enforceable),
                    count,
                });
            }
        }
    }
    out
}
