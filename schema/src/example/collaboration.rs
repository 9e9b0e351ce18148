//! Collaboration: comments and their attachments, time tracking, wiki documents, notifications.

use migrator::bson::{oid::ObjectId, Binary, DateTime, Decimal128, Document};
use migrator::Migrate;

use super::convert;
use super::tenancy::User;
use super::work::{Project, Task};

/// A reaction under a comment (`comment_reactions`).
#[derive(Debug, Migrate)]
#[migrate(embedded, rename_all = "camelCase")]
pub struct Reaction {
    #[migrate(references = User)]
    pub user_id: ObjectId,
    pub emoji: String,
    pub reacted_at: DateTime,
}

/// `comments`: threads through the self-reference `parent_id`; mentions become the
/// `comment_mentions` junction.
#[derive(Debug, Migrate)]
#[migrate(collection = "comments", rename_all = "camelCase")]
pub struct Comment {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Task, index)]
    pub task_id: ObjectId,
    #[migrate(references = User)]
    pub author_id: ObjectId,
    #[migrate(references = Comment, on_missing = "null")]
    pub parent_id: Option<ObjectId>,
    pub body: String,
    #[migrate(junction = "comment_mentions", references = User, target_column = "user_id", default)]
    pub mention_ids: Vec<ObjectId>,
    #[migrate(child = "comment_reactions", parent_column = "comment_id", default)]
    pub reactions: Vec<Reaction>,
    pub edited_at: Option<DateTime>,
    pub created_at: DateTime,
    pub deleted_at: Option<DateTime>,
}

/// `attachments`: files uploaded in comments.
#[derive(Debug, Migrate)]
#[migrate(collection = "attachments", rename_all = "camelCase")]
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
    /// MD5 of the content.
    pub checksum: Binary,
    pub storage_key: String,
    pub thumbnail: Option<Binary>,
    /// Image dimensions, page counts and the like.
    pub metadata: Option<Document>,
    pub created_at: DateTime,
    pub deleted_at: Option<DateTime>,
}

/// `time_entries`: `startedAt` is text in old documents.
#[derive(Debug, Migrate)]
#[migrate(collection = "time_entries", rename_all = "camelCase")]
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

/// One saved revision of a wiki document (`document_revisions`).
#[derive(Debug, Migrate)]
#[migrate(embedded, rename_all = "camelCase")]
pub struct Revision {
    pub number: i32,
    #[migrate(references = User)]
    pub author_id: ObjectId,
    pub summary: Option<String>,
    pub created_at: DateTime,
}

/// `documents`: wiki pages. `body` is markdown, `content` the editor's block tree (jsonb); both
/// can be close to MongoDB's 16 MB document limit.
#[derive(Debug, Migrate)]
#[migrate(collection = "documents", rename_all = "camelCase")]
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
    #[migrate(
        junction = "document_contributors",
        references = User,
        owner_column = "document_id",
        target_column = "user_id"
    )]
    pub contributor_ids: Vec<ObjectId>,
    #[migrate(child = "document_revisions", parent_column = "document_id", default)]
    pub revisions: Vec<Revision>,
    pub published: bool,
    pub created_at: DateTime,
    pub updated_at: DateTime,
    pub deleted_at: Option<DateTime>,
}

/// How a notification is delivered, stored as a native enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(
    name = "notification_channel",
    repr = "native",
    rename_all = "snake_case"
)]
pub enum NotificationChannel {
    InApp,
    Email,
    Slack,
}

/// What a notification is about, stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(name = "notification_kind", repr = "text", rename_all = "snake_case")]
pub enum NotificationKind {
    Mention,
    Assignment,
    Comment,
    DueSoon,
    StatusChange,
}

/// `notifications`: per recipient; the task, comment or attachment may be gone (NULL then).
#[derive(Debug, Migrate)]
#[migrate(collection = "notifications", rename_all = "camelCase")]
pub struct Notification {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = User, index)]
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
