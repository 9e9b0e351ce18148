//! Planning in the Prisma edition: projects, labels, custom fields, milestones, sprints, tasks
//! and releases.

use migrator::bson::{oid::ObjectId, Bson, DateTime, Decimal128};
use migrator::Migrate;

use super::super::convert;
use super::super::work::{
    CustomFieldType, MilestoneStatus, ProjectStatus, SprintState, TaskPriority, TaskStatus,
};
use super::tenancy::{Organization, Team, User};

/// `projects`, into `"Project"`; `memberIds` into Prisma's implicit `_ProjectToUser`.
#[derive(Debug, Migrate)]
#[migrate(collection = "projects", naming = "prisma", rename_all = "camelCase")]
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
    #[migrate(junction, implicit, references = User)]
    pub member_ids: Vec<ObjectId>,
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

/// `custom_fields`, into `"CustomField"`; the key `type` is the column `type`.
#[derive(Debug, Migrate)]
#[migrate(
    collection = "custom_fields",
    naming = "prisma",
    rename_all = "camelCase"
)]
pub struct CustomField {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Organization)]
    pub organization_id: ObjectId,
    pub name: String,
    #[migrate(rename = "type", column = "type")]
    pub field_type: CustomFieldType,
    #[migrate(default)]
    pub options: Vec<String>,
    pub required: bool,
    pub position: i32,
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

/// One line of a task's checklist, into `"TaskChecklistItem"`.
#[derive(Debug, Migrate)]
#[migrate(embedded, naming = "prisma", rename_all = "camelCase")]
pub struct ChecklistItem {
    pub text: String,
    pub done: bool,
    #[migrate(references = User, on_missing = "null")]
    pub assignee_id: Option<ObjectId>,
}

/// A task's value for one custom field, into `"TaskCustomFieldValue"` (jsonb).
#[derive(Debug, Migrate)]
#[migrate(embedded, naming = "prisma", rename_all = "camelCase")]
pub struct CustomFieldValue {
    #[migrate(references = CustomField, column = "customFieldId")]
    pub field_id: ObjectId,
    pub value: Bson,
}

/// `tasks`, into `"Task"`: labels and watchers into Prisma's implicit `_LabelToTask` and
/// `_TaskToUser`, the tasks blocking it into the explicit `"TaskDependency"`, two child tables.
#[derive(Debug, Migrate)]
#[migrate(collection = "tasks", naming = "prisma", rename_all = "camelCase")]
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
    #[migrate(junction, implicit, references = User, default)]
    pub watcher_ids: Vec<ObjectId>,
    #[migrate(
        junction = "TaskDependency",
        references = Task,
        owner_column = "taskId",
        target_column = "blockingTaskId",
        on_missing = "skip",
        default
    )]
    pub blocked_by: Vec<ObjectId>,
    #[migrate(child = "TaskChecklistItem", parent_column = "taskId", default)]
    pub checklist: Vec<ChecklistItem>,
    #[migrate(child = "TaskCustomFieldValue", parent_column = "taskId")]
    pub custom_values: Option<Vec<CustomFieldValue>>,
    #[migrate(with = convert::optional_flexible_date)]
    pub due_date: Option<DateTime>,
    pub completed_at: Option<DateTime>,
    #[migrate(with = convert::flexible_date)]
    pub created_at: DateTime,
    #[migrate(default = migrator::load_time)]
    pub updated_at: DateTime,
    pub deleted_at: Option<DateTime>,
}

/// `releases`, into `"Release"`; the ordered milestones into the explicit `"ReleaseMilestone"`.
#[derive(Debug, Migrate)]
#[migrate(collection = "releases", naming = "prisma", rename_all = "camelCase")]
pub struct Release {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Project)]
    pub project_id: ObjectId,
    pub version: String,
    pub name: Option<String>,
    pub notes: Option<String>,
    #[migrate(
        junction = "ReleaseMilestone",
        references = Milestone,
        owner_column = "releaseId",
        target_column = "milestoneId",
        position
    )]
    pub milestone_ids: Vec<ObjectId>,
    pub released_at: Option<DateTime>,
    pub created_at: DateTime,
}
