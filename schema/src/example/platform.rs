//! Platform: the audit log, outgoing webhooks and third-party integrations.

use std::collections::BTreeMap;

use migrator::bson::{oid::ObjectId, DateTime, Document};
use migrator::Migrate;

use super::tenancy::{Organization, User};
use super::work::Project;

/// `audit_events`: the actor is referenced by email, a natural key, and audit records outlive
/// the users they name, so dangling emails are kept; `targetId` may name a document of any
/// collection and is kept as hex text, with no foreign key.
#[derive(Debug, Migrate)]
#[migrate(collection = "audit_events", rename_all = "camelCase")]
pub struct AuditEvent {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Organization, index)]
    pub organization_id: ObjectId,
    #[migrate(references = User, key = "email", on_missing = "keep")]
    pub actor_email: String,
    pub action: String,
    pub target_type: String,
    #[migrate(as_text)]
    pub target_id: ObjectId,
    /// Field-level before/after values.
    pub changes: Option<Document>,
    pub ip: String,
    pub user_agent: Option<String>,
    pub occurred_at: DateTime,
}

/// One delivery attempt of a webhook (`webhook_deliveries`).
#[derive(Debug, Migrate)]
#[migrate(embedded, rename_all = "camelCase")]
pub struct WebhookDelivery {
    pub event: String,
    pub status_code: Option<i32>,
    pub duration_ms: i64,
    pub succeeded: bool,
    pub attempted_at: DateTime,
}

/// `webhooks`: `events` is an array of text; recent deliveries are absent on new hooks.
#[derive(Debug, Migrate)]
#[migrate(collection = "webhooks", rename_all = "camelCase")]
pub struct Webhook {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Organization)]
    pub organization_id: ObjectId,
    #[migrate(references = User)]
    pub created_by: ObjectId,
    pub url: String,
    pub secret: String,
    pub events: Vec<String>,
    pub active: bool,
    #[migrate(child = "webhook_deliveries", parent_column = "webhook_id")]
    pub deliveries: Option<Vec<WebhookDelivery>>,
    pub created_at: DateTime,
    pub disabled_at: Option<DateTime>,
}

/// A third-party service, stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(
    name = "integration_provider",
    repr = "text",
    rename_all = "snake_case"
)]
pub enum IntegrationProvider {
    Github,
    Gitlab,
    Slack,
    Jira,
    GoogleDrive,
}

/// `integrations`: `config` is a string map (jsonb); `project_ids` becomes the
/// `integration_projects` junction.
#[derive(Debug, Migrate)]
#[migrate(collection = "integrations", rename_all = "camelCase")]
pub struct Integration {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Organization)]
    pub organization_id: ObjectId,
    pub provider: IntegrationProvider,
    #[migrate(references = User)]
    pub installed_by: ObjectId,
    pub config: BTreeMap<String, String>,
    #[migrate(junction = "integration_projects", references = Project, target_column = "project_id")]
    pub project_ids: Vec<ObjectId>,
    pub enabled: bool,
    pub installed_at: DateTime,
    pub last_synced_at: Option<DateTime>,
}
