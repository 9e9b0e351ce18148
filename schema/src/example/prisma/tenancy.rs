//! Tenancy in the Prisma edition: plans, organizations, users, teams, memberships, invitations
//! and API keys.

use migrator::bson::{oid::ObjectId, Binary, DateTime, Decimal128, Document};
use migrator::Migrate;

use super::super::convert;
use super::super::tenancy::{InvitationStatus, MembershipRole, OrgSettings, PlanTier};

/// `plans`, into `"Plan"`.
#[derive(Debug, Migrate)]
#[migrate(collection = "plans", naming = "prisma", rename_all = "camelCase")]
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
    pub limits: Document,
    pub active: bool,
    pub created_at: DateTime,
}

/// `organizations`, into `"Organization"` (without the head office: see the module).
#[derive(Debug, Migrate)]
#[migrate(
    collection = "organizations",
    naming = "prisma",
    rename_all = "camelCase",
    ignore = ["headquarters"]
)]
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
}

fn default_locale() -> String {
    "en-US".to_string()
}

/// `users`, into `"User"`; `managerId` is the self-reference. Documents have no `updatedAt`:
/// the load time fills Prisma's `@updatedAt` column.
#[derive(Debug, Migrate)]
#[migrate(collection = "users", naming = "prisma", rename_all = "camelCase")]
pub struct User {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Organization)]
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
    pub profile: Option<Document>,
    /// The profile's first link.
    #[migrate(path = "profile.links.0")]
    pub website: Option<String>,
    pub avatar: Option<Binary>,
    pub last_login_at: Option<DateTime>,
    #[migrate(with = convert::flexible_date)]
    pub created_at: DateTime,
    #[migrate(default = migrator::load_time)]
    pub updated_at: DateTime,
    pub deleted_at: Option<DateTime>,
}

/// `teams`, into `"Team"`; `memberIds` into Prisma's implicit `_TeamToUser`.
#[derive(Debug, Migrate)]
#[migrate(collection = "teams", naming = "prisma", rename_all = "camelCase")]
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
    #[migrate(junction, implicit, references = User)]
    pub member_ids: Vec<ObjectId>,
    pub created_at: DateTime,
}

/// `memberships`, into `"Membership"`.
#[derive(Debug, Migrate)]
#[migrate(
    collection = "memberships",
    naming = "prisma",
    rename_all = "camelCase"
)]
pub struct Membership {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Organization)]
    pub organization_id: ObjectId,
    #[migrate(references = User)]
    pub user_id: ObjectId,
    pub role: MembershipRole,
    #[migrate(references = User, on_missing = "null")]
    pub invited_by: Option<ObjectId>,
    #[migrate(default)]
    pub permissions: Vec<String>,
    pub joined_at: DateTime,
}

/// `invitations`, into `"Invitation"`; `teamIds` into Prisma's implicit `_InvitationToTeam`.
#[derive(Debug, Migrate)]
#[migrate(
    collection = "invitations",
    naming = "prisma",
    rename_all = "camelCase"
)]
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
    #[migrate(junction, implicit, references = Team, default)]
    pub team_ids: Vec<ObjectId>,
    pub token: String,
    pub expires_at: DateTime,
    pub accepted_at: Option<DateTime>,
    pub created_at: DateTime,
}

/// `api_keys`, into `"ApiKey"`: unknown keys are rejected, `legacySecret` dropped.
#[derive(Debug, Migrate)]
#[migrate(
    collection = "api_keys",
    naming = "prisma",
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
    pub key_hash: Binary,
    pub key_id: uuid::Uuid,
    pub scopes: Vec<String>,
    pub last_used_at: Option<DateTime>,
    pub expires_at: Option<DateTime>,
    pub revoked_at: Option<DateTime>,
    pub created_at: DateTime,
    #[migrate(skip)]
    pub legacy_secret: Option<String>,
}
