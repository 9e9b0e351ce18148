//! Tenancy: the plan catalogue, organizations, their users and teams, memberships, invitations
//! and API keys.

use migrator::bson::{oid::ObjectId, Binary, DateTime, Decimal128, Document};
use migrator::Migrate;
use serde::{Deserialize, Serialize};

use super::convert;

/// A plan's tier, stored as a native PostgreSQL enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(name = "plan_tier", repr = "native", rename_all = "lowercase")]
pub enum PlanTier {
    Free,
    Starter,
    Business,
    Enterprise,
}

/// `plans`: the catalogue. `code` is the natural key organizations and subscriptions use.
#[derive(Debug, Migrate)]
#[migrate(collection = "plans", rename_all = "camelCase")]
pub struct Plan {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(unique)]
    pub code: String,
    pub name: String,
    pub tier: PlanTier,
    pub monthly_price: Decimal128,
    pub annual_price: Option<Decimal128>,
    pub currency: String,
    pub seat_limit: Option<i32>,
    pub features: Vec<String>,
    /// Quotas by name (`projects`, `storage_gb`, ...), kept as jsonb.
    pub limits: Document,
    pub active: bool,
    pub created_at: DateTime,
}

/// An organization's preferences, kept as jsonb and read with serde.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgSettings {
    pub timezone: String,
    pub week_starts_on: String,
    pub sso_enforced: bool,
    pub default_task_priority: Option<String>,
}

/// An organization's head office, flattened into `organizations` as `hq_*` columns; its GeoJSON
/// point is a PostGIS `geometry(Point, 4326)` with a GiST index.
#[derive(Debug, Migrate)]
#[migrate(embedded, rename_all = "camelCase")]
pub struct Office {
    pub street: String,
    pub city: String,
    pub postal_code: Option<String>,
    pub country: String,
    #[migrate(index)]
    pub location: migrator::geo::Point,
}

/// `organizations`: the tenants. `owner_id` and `users.organization_id` form a cycle. Most have
/// a head office (`headquarters`, all its columns NULL when absent).
#[derive(Debug, Migrate)]
#[migrate(collection = "organizations", rename_all = "camelCase")]
pub struct Organization {
    #[migrate(id)]
    pub id: ObjectId,
    pub name: String,
    #[migrate(unique)]
    pub slug: String,
    #[migrate(references = Plan, key = "code")]
    pub plan_code: String,
    #[migrate(references = User)]
    pub owner_id: ObjectId,
    pub billing_email: String,
    pub domains: Vec<String>,
    #[migrate(jsonb)]
    pub settings: OrgSettings,
    pub created_at: DateTime,
    pub deleted_at: Option<DateTime>,
    #[migrate(flatten = "hq_")]
    pub headquarters: Option<Office>,
}

fn default_locale() -> String {
    "en-US".to_string()
}

/// `users`: `created_at` is text in documents of the first version; `manager_id` is a
/// self-reference; `locale` was added later and defaults to `en-US`.
#[derive(Debug, Migrate)]
#[migrate(collection = "users", rename_all = "camelCase")]
pub struct User {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Organization, index)]
    pub organization_id: ObjectId,
    #[migrate(unique)]
    pub email: String,
    pub name: String,
    pub title: Option<String>,
    #[migrate(references = User, on_missing = "null")]
    pub manager_id: Option<ObjectId>,
    pub timezone: String,
    #[migrate(default = "default_locale")]
    pub locale: String,
    pub active: bool,
    #[migrate(default)]
    pub skills: Vec<String>,
    /// Free-form profile (bio, links, pronouns), when the user filled it in.
    pub profile: Option<Document>,
    /// The profile's first link, read again by path into a column of its own.
    #[migrate(path = "profile.links.0")]
    pub website: Option<String>,
    pub avatar: Option<Binary>,
    pub last_login_at: Option<DateTime>,
    #[migrate(with = convert::flexible_date)]
    pub created_at: DateTime,
    pub deleted_at: Option<DateTime>,
}

/// `teams`: `member_ids` becomes the `team_members` junction.
#[derive(Debug, Migrate)]
#[migrate(collection = "teams", rename_all = "camelCase")]
pub struct Team {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Organization)]
    pub organization_id: ObjectId,
    pub name: String,
    pub description: Option<String>,
    #[migrate(references = User)]
    pub created_by: ObjectId,
    #[migrate(references = User, on_missing = "null")]
    pub lead_id: Option<ObjectId>,
    #[migrate(junction = "team_members", references = User, target_column = "user_id")]
    pub member_ids: Vec<ObjectId>,
    pub created_at: DateTime,
}

/// A member's role in an organization, stored as text with a CHECK constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(name = "membership_role", repr = "text", rename_all = "lowercase")]
pub enum MembershipRole {
    Owner,
    Admin,
    Member,
    Guest,
}

/// `memberships`: a user's role in an organization (guests belong to other organizations).
#[derive(Debug, Migrate)]
#[migrate(collection = "memberships", rename_all = "camelCase")]
pub struct Membership {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Organization)]
    pub organization_id: ObjectId,
    #[migrate(references = User, index)]
    pub user_id: ObjectId,
    pub role: MembershipRole,
    #[migrate(references = User, on_missing = "null")]
    pub invited_by: Option<ObjectId>,
    #[migrate(default)]
    pub permissions: Vec<String>,
    pub joined_at: DateTime,
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(name = "invitation_status", repr = "text", rename_all = "lowercase")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Expired,
    Revoked,
}

/// `invitations`: `team_ids` becomes the `invitation_teams` junction.
#[derive(Debug, Migrate)]
#[migrate(collection = "invitations", rename_all = "camelCase")]
pub struct Invitation {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Organization)]
    pub organization_id: ObjectId,
    pub email: String,
    #[migrate(references = User)]
    pub invited_by: ObjectId,
    pub role: MembershipRole,
    pub status: InvitationStatus,
    #[migrate(junction = "invitation_teams", references = Team, default)]
    pub team_ids: Vec<ObjectId>,
    pub token: String,
    pub expires_at: DateTime,
    pub accepted_at: Option<DateTime>,
    pub created_at: DateTime,
}

/// `api_keys`: unknown keys are rejected (a credential document must hold nothing unexpected);
/// `legacySecret`, which old keys still carry, is accepted and dropped.
#[derive(Debug, Migrate)]
#[migrate(
    collection = "api_keys",
    rename_all = "camelCase",
    unknown_fields = "reject"
)]
pub struct ApiKey {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Organization)]
    pub organization_id: ObjectId,
    #[migrate(references = User)]
    pub user_id: ObjectId,
    pub name: String,
    #[migrate(unique)]
    pub prefix: String,
    /// SHA-256 of the secret.
    pub key_hash: Binary,
    /// The key's public id, a UUID stored as binData subtype 4.
    pub key_id: uuid::Uuid,
    pub scopes: Vec<String>,
    pub last_used_at: Option<DateTime>,
    pub expires_at: Option<DateTime>,
    pub revoked_at: Option<DateTime>,
    pub created_at: DateTime,
    #[migrate(skip)]
    pub legacy_secret: Option<String>,
}
