//! sample_mflix: users, theaters, sessions, and the exported movies and their comments.

use migrator::bson::{oid::ObjectId, DateTime, Document};
use migrator::Migrate;

use super::convert;

/// `users`: `email` is unique and is what comments and sessions reference.
#[derive(Debug, Migrate)]
#[migrate(collection = "users")]
pub struct User {
    #[migrate(id)]
    pub id: ObjectId,
    pub name: String,
    #[migrate(unique)]
    pub email: String,
    pub password: String,
    /// One document has an empty `preferences: {}`.
    pub preferences: Option<Document>,
}

/// `theaters`: the nested location (with `street2` missing, null or a string) is kept as jsonb.
#[derive(Debug, Migrate)]
#[migrate(collection = "theaters", rename_all = "camelCase")]
pub struct Theater {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(unique)]
    pub theater_id: i32,
    pub location: Document,
}

/// `sessions`: `user_id` holds a user's email; the one session's user is not in the data set,
/// and sessions outliving their users is expected, so the dangling value is kept.
#[derive(Debug, Migrate)]
#[migrate(collection = "sessions")]
pub struct Session {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(unique, references = User, key = "email", on_missing = "keep")]
    pub user_id: String,
    pub jwt: String,
}

/// What a movie document describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(name = "movie_type", rename_all = "lowercase")]
pub enum MovieType {
    Movie,
    Series,
}

/// IMDb figures; `rating` and `votes` are `""` in one document, which that document's error shows.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Imdb {
    pub rating: f64,
    pub votes: i32,
    pub id: i32,
}

/// `movies` (the exported subset).
#[derive(Debug, Migrate)]
#[migrate(collection = "movies")]
pub struct Movie {
    #[migrate(id)]
    pub id: ObjectId,
    pub title: String,
    pub year: i32,
    #[migrate(rename = "type")]
    pub kind: MovieType,
    pub plot: Option<String>,
    pub fullplot: Option<String>,
    pub runtime: Option<i32>,
    pub rated: Option<String>,
    pub poster: Option<String>,
    pub genres: Option<Vec<String>>,
    pub cast: Option<Vec<String>>,
    pub languages: Option<Vec<String>>,
    pub directors: Option<Vec<String>>,
    pub writers: Option<Vec<String>>,
    pub countries: Vec<String>,
    /// Dates before 1970 are common here.
    pub released: Option<DateTime>,
    /// Written as `2015-08-13 00:27:59.177000000`, not a BSON date.
    #[migrate(with = convert::legacy_datetime)]
    pub lastupdated: DateTime,
    pub awards: Document,
    #[migrate(jsonb)]
    pub imdb: Imdb,
    pub tomatoes: Option<Document>,
    pub metacritic: Option<i32>,
    pub num_mflix_comments: i32,
}

/// `comments` (the exported subset): 230 of 1,000 reference movies outside the subset.
#[derive(Debug, Migrate)]
#[migrate(collection = "comments")]
pub struct Comment {
    #[migrate(id)]
    pub id: ObjectId,
    pub name: String,
    #[migrate(references = User, key = "email")]
    pub email: String,
    #[migrate(references = Movie)]
    pub movie_id: ObjectId,
    pub text: String,
    pub date: DateTime,
}
