//! Collaboration in the Prisma edition: comments, attachments, time entries, wiki documents and
//! notifications.

use migrator::bson::{oid::ObjectId, Binary, DateTime, Decimal128, Document};
use migrator::Migrate;

use super::super::collaboration::{NotificationChannel, NotificationKind};
use super::super::convert;
use super::tenancy::User;
use super::work::{Project, Task};

/// A reaction under a comment, into `"CommentReaction"`.
#[derive(Debug, Migrate)]
#[migrate(embedded, naming = "prisma", rename_all = "camelCase")]
pub struct Reaction {
    #[migrate(references = User)]
    pub user_id: ObjectId,
    pub emoji: String,
    pub reacted_at: DateTime,
}

/// `comments`, into `"Comment"`; mentions into Prisma's implicit `_CommentToUser`.
#[derive(Debug, Migrate)]
#[migrate(collection = "comments", naming = "prisma", rename_all = "camelCase")]
pub struct Comment {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Task)]
    pub task_id: ObjectId,
    #[migrate(references = User)]
    pub author_id: ObjectId,
    #[migrate(references = Comment, on_missing = "null")]
    pub parent_id: Option<ObjectId>,
    pub body: String,
    #[migrate(junction, implicit, references = User, default)]
    pub mention_ids: Vec<ObjectId>,
    #[migrate(child = "CommentReaction", parent_column = "commentId", default)]
    pub reactions: Vec<Reaction>,
    pub edited_at: Option<DateTime>,
    pub created_at: DateTime,
    pub deleted_at: Option<DateTime>,
}

/// `attachments`, into `"Attachment"`.
#[derive(Debug, Migrate)]
#[migrate(
    collection = "attachments",
    naming = "prisma",
    rename_all = "camelCase"
)]
pub struct Attachment {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Task)]
    pub task_id: ObjectId,
    #[migrate(references = Comment)]
    pub comment_id: ObjectId,
    #[migrate(references = User)]
    pub uploaded_by: ObjectId,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub checksum: Binary,
    pub storage_key: String,
    pub thumbnail: Option<Binary>,
    pub metadata: Option<Document>,
    pub created_at: DateTime,
    pub deleted_at: Option<DateTime>,
}

/// `time_entries`, into `"TimeEntry"`.
#[derive(Debug, Migrate)]
#[migrate(
    collection = "time_entries",
    naming = "prisma",
    rename_all = "camelCase"
)]
pub struct TimeEntry {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Task)]
    pub task_id: ObjectId,
    #[migrate(references = User)]
    pub user_id: ObjectId,
    #[migrate(with = convert::flexible_date)]
    pub started_at: DateTime,
    pub minutes: i32,
    pub billable: bool,
    pub hourly_rate: Option<Decimal128>,
    pub note: Option<String>,
    pub created_at: DateTime,
}

/// One saved revision of a wiki document, into `"DocumentRevision"`.
#[derive(Debug, Migrate)]
#[migrate(embedded, naming = "prisma", rename_all = "camelCase")]
pub struct Revision {
    pub number: i32,
    #[migrate(references = User)]
    pub author_id: ObjectId,
    pub summary: Option<String>,
    pub created_at: DateTime,
}

/// `documents`, into `"WikiDocument"`; contributors into Prisma's implicit
/// `_UserToWikiDocument`.
#[derive(Debug, Migrate)]
#[migrate(collection = "documents", naming = "prisma", rename_all = "camelCase")]
pub struct WikiDocument {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Project)]
    pub project_id: ObjectId,
    #[migrate(references = WikiDocument, on_missing = "null")]
    pub parent_id: Option<ObjectId>,
    #[migrate(references = User)]
    pub author_id: ObjectId,
    pub title: String,
    pub slug: String,
    pub body: String,
    pub content: Option<Document>,
    #[migrate(junction, implicit, references = User)]
    pub contributor_ids: Vec<ObjectId>,
    #[migrate(child = "DocumentRevision", parent_column = "documentId", default)]
    pub revisions: Vec<Revision>,
    pub published: bool,
    pub created_at: DateTime,
    pub updated_at: DateTime,
    pub deleted_at: Option<DateTime>,
}

/// `notifications`, into `"Notification"`.
#[derive(Debug, Migrate)]
#[migrate(
    collection = "notifications",
    naming = "prisma",
    rename_all = "camelCase"
)]
pub struct Notification {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = User)]
    pub user_id: ObjectId,
    pub kind: NotificationKind,
    pub channel: NotificationChannel,
    #[migrate(references = Task, on_missing = "null")]
    pub task_id: Option<ObjectId>,
    #[migrate(references = Comment, on_missing = "null")]
    pub comment_id: Option<ObjectId>,
    #[migrate(references = Attachment, on_missing = "null")]
    pub attachment_id: Option<ObjectId>,
    pub payload: Document,
    pub read_at: Option<DateTime>,
    pub created_at: DateTime,
}
