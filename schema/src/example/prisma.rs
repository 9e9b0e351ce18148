//! The example application as its Prisma team maps it: the same collections loaded into the
//! tables Prisma makes from `schema/schema.prisma` (`--schema-mode existing`).
//!
//! Tables are the model names and columns the field names in camelCase (`naming = "prisma"`);
//! the labels of a task are Prisma's implicit many-to-many table `_LabelToTask`; `updatedAt`,
//! which Prisma keeps NOT NULL without a default, takes the document's value or the load time.
//! The column types are Prisma's (`text` ids, `timestamp(3)`, `date` for `@db.Date` due dates,
//! `decimal(65,30)`, enum types named after the Prisma enums): the load adapts each write and
//! lists how.
//!
//! Nine of the application's collections, the ones the Prisma application reads: the plan
//! catalogue, organizations and their users (with their managers), teams, projects, labels,
//! milestones, sprints and tasks. The other keys of these collections are left out on purpose.

use migrator::bson::{oid::ObjectId, Binary, DateTime, Decimal128, Document};
use migrator::{Migrate, Schema, SchemaError};

use super::convert;
use super::tenancy::{OrgSettings, PlanTier};
use super::work::{MilestoneStatus, ProjectStatus, SprintState, TaskPriority, TaskStatus};

/// The Prisma edition's models, as one schema.
pub fn schema() -> Result<Schema, SchemaError> {
    migrator::schema![
        Plan,
        Organization,
        User,
        Team,
        Project,
        Label,
        Milestone,
        Sprint,
        Task
    ]
}

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

/// `organizations`, into `"Organization"`.
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
    pub avatar: Option<Binary>,
    pub last_login_at: Option<DateTime>,
    #[migrate(with = convert::flexible_date)]
    pub created_at: DateTime,
    #[migrate(default = migrator::load_time)]
    pub updated_at: DateTime,
    pub deleted_at: Option<DateTime>,
}

/// `teams`, into `"Team"` (members are not part of the Prisma application).
#[derive(Debug, Migrate)]
#[migrate(
    collection = "teams",
    naming = "prisma",
    rename_all = "camelCase",
    ignore = ["memberIds"]
)]
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
    pub created_at: DateTime,
}

/// `projects`, into `"Project"`.
#[derive(Debug, Migrate)]
#[migrate(
    collection = "projects",
    naming = "prisma",
    rename_all = "camelCase",
    ignore = ["memberIds"]
)]
pub struct Project {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Organization)]
    pub organization_id: ObjectId,
    #[migrate(references = Team)]
    pub team_id: ObjectId,
    #[migrate(references = User)]
    pub owner_id: ObjectId,
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub status: ProjectStatus,
    #[migrate(default)]
    pub tags: Vec<String>,
    pub budget: Option<Decimal128>,
    pub progress: f64,
    pub start_date: Option<DateTime>,
    pub target_date: Option<DateTime>,
    pub created_at: DateTime,
    pub deleted_at: Option<DateTime>,
}

/// `labels`, into `"Label"`.
#[derive(Debug, Migrate)]
#[migrate(collection = "labels", naming = "prisma", rename_all = "camelCase")]
pub struct Label {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Organization)]
    pub organization_id: ObjectId,
    pub name: String,
    pub color: String,
    pub description: Option<String>,
    pub created_at: DateTime,
}

/// `milestones`, into `"Milestone"`.
#[derive(Debug, Migrate)]
#[migrate(collection = "milestones", naming = "prisma", rename_all = "camelCase")]
pub struct Milestone {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Project)]
    pub project_id: ObjectId,
    pub title: String,
    pub description: Option<String>,
    pub status: MilestoneStatus,
    #[migrate(with = convert::optional_flexible_date)]
    pub due_date: Option<DateTime>,
    pub closed_at: Option<DateTime>,
    pub created_at: DateTime,
}

/// `sprints`, into `"Sprint"`.
#[derive(Debug, Migrate)]
#[migrate(collection = "sprints", naming = "prisma", rename_all = "camelCase")]
pub struct Sprint {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Project)]
    pub project_id: ObjectId,
    #[migrate(references = Milestone)]
    pub milestone_id: ObjectId,
    pub name: String,
    pub goal: Option<String>,
    pub state: SprintState,
    pub starts_at: DateTime,
    pub ends_at: DateTime,
    pub capacity_points: Option<i32>,
    pub created_at: DateTime,
}

/// `tasks`, into `"Task"`; `labelIds` into Prisma's implicit `_LabelToTask`.
#[derive(Debug, Migrate)]
#[migrate(
    collection = "tasks",
    naming = "prisma",
    rename_all = "camelCase",
    ignore = ["watcherIds", "blockedBy", "checklist", "customValues"]
)]
pub struct Task {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Project)]
    pub project_id: ObjectId,
    #[migrate(references = Sprint)]
    pub sprint_id: ObjectId,
    #[migrate(references = Milestone, on_missing = "null")]
    pub milestone_id: Option<ObjectId>,
    pub number: i32,
    pub title: String,
    pub description: Option<String>,
    pub status: TaskStatus,
    pub priority: TaskPriority,
    #[migrate(references = User, on_missing = "null")]
    pub assignee_id: Option<ObjectId>,
    #[migrate(references = User)]
    pub reporter_id: ObjectId,
    pub estimate_points: Option<i32>,
    #[migrate(default)]
    pub tags: Vec<String>,
    #[migrate(junction, implicit, references = Label, default)]
    pub label_ids: Vec<ObjectId>,
    #[migrate(with = convert::optional_flexible_date)]
    pub due_date: Option<DateTime>,
    pub completed_at: Option<DateTime>,
    #[migrate(with = convert::flexible_date)]
    pub created_at: DateTime,
    #[migrate(default = migrator::load_time)]
    pub updated_at: DateTime,
    pub deleted_at: Option<DateTime>,
}
