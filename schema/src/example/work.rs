//! Planning: projects, labels, custom fields, milestones, sprints, tasks and releases.

use migrator::bson::{oid::ObjectId, Bson, DateTime, Decimal128};
use migrator::Migrate;

use super::convert;
use super::tenancy::{Organization, Team, User};

/// A project's lifecycle, stored as a native enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(name = "project_status", repr = "native", rename_all = "snake_case")]
pub enum ProjectStatus {
    Active,
    OnHold,
    Archived,
}

/// `projects`: `member_ids` becomes the `project_members` junction; soft-deleted with `deleted_at`.
#[derive(Debug, Migrate)]
#[migrate(collection = "projects", rename_all = "camelCase")]
pub struct Project {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Organization, index)]
    pub organization_id: ObjectId,
    #[migrate(references = Team)]
    pub team_id: ObjectId,
    #[migrate(references = User)]
    pub owner_id: ObjectId,
    /// The short prefix of task numbers (`WEB-42`).
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub status: ProjectStatus,
    #[migrate(default)]
    pub tags: Vec<String>,
    #[migrate(junction = "project_members", references = User, target_column = "user_id")]
    pub member_ids: Vec<ObjectId>,
    pub budget: Option<Decimal128>,
    pub progress: f64,
    pub start_date: Option<DateTime>,
    pub target_date: Option<DateTime>,
    pub created_at: DateTime,
    pub deleted_at: Option<DateTime>,
}

/// `labels`: per organization.
#[derive(Debug, Migrate)]
#[migrate(collection = "labels", rename_all = "camelCase")]
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

/// What a custom field holds, stored as a native enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(name = "custom_field_type", repr = "native", rename_all = "lowercase")]
pub enum CustomFieldType {
    Text,
    Number,
    Date,
    Select,
    Checkbox,
}

/// `custom_fields`: definitions per organization; tasks hold the values.
#[derive(Debug, Migrate)]
#[migrate(collection = "custom_fields", rename_all = "camelCase")]
pub struct CustomField {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Organization)]
    pub organization_id: ObjectId,
    pub name: String,
    #[migrate(rename = "type")]
    pub field_type: CustomFieldType,
    #[migrate(default)]
    pub options: Vec<String>,
    pub required: bool,
    pub position: i32,
    pub created_at: DateTime,
}

/// A milestone's state, stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(name = "milestone_status", repr = "text", rename_all = "lowercase")]
pub enum MilestoneStatus {
    Open,
    Closed,
}

/// `milestones`: `dueDate` is a bare day (`2018-03-04`) in old documents.
#[derive(Debug, Migrate)]
#[migrate(collection = "milestones", rename_all = "camelCase")]
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

/// A sprint's state, stored as a native enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(name = "sprint_state", repr = "native", rename_all = "lowercase")]
pub enum SprintState {
    Planned,
    Active,
    Completed,
}

/// `sprints`: every sprint serves a milestone.
#[derive(Debug, Migrate)]
#[migrate(collection = "sprints", rename_all = "camelCase")]
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

/// A task's workflow state, stored as a native enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(name = "task_status", repr = "native", rename_all = "snake_case")]
pub enum TaskStatus {
    Backlog,
    Todo,
    InProgress,
    InReview,
    Done,
    Cancelled,
}

/// A task's priority, stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(name = "task_priority", repr = "text", rename_all = "lowercase")]
pub enum TaskPriority {
    Low,
    Medium,
    High,
    Urgent,
}

/// One line of a task's checklist (`task_checklist_items`).
#[derive(Debug, Migrate)]
#[migrate(embedded, rename_all = "camelCase")]
pub struct ChecklistItem {
    pub text: String,
    pub done: bool,
    #[migrate(references = User, on_missing = "null")]
    pub assignee_id: Option<ObjectId>,
}

/// A task's value for one custom field (`task_custom_field_values`); the value is any BSON
/// value, kept as jsonb.
#[derive(Debug, Migrate)]
#[migrate(embedded, rename_all = "camelCase")]
pub struct CustomFieldValue {
    #[migrate(references = CustomField, column = "custom_field_id")]
    pub field_id: ObjectId,
    pub value: Bson,
}

/// `tasks`: three junctions (labels, watchers, dependencies between tasks), two child tables,
/// dates as text in old documents, soft deletion.
#[derive(Debug, Migrate)]
#[migrate(collection = "tasks", rename_all = "camelCase")]
pub struct Task {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Project, index)]
    pub project_id: ObjectId,
    #[migrate(references = Sprint)]
    pub sprint_id: ObjectId,
    #[migrate(references = Milestone, on_missing = "null")]
    pub milestone_id: Option<ObjectId>,
    pub number: i32,
    pub title: String,
    pub description: Option<String>,
    #[migrate(index)]
    pub status: TaskStatus,
    pub priority: TaskPriority,
    #[migrate(references = User, on_missing = "null")]
    pub assignee_id: Option<ObjectId>,
    #[migrate(references = User)]
    pub reporter_id: ObjectId,
    pub estimate_points: Option<i32>,
    #[migrate(default)]
    pub tags: Vec<String>,
    #[migrate(junction = "task_labels", references = Label, default)]
    pub label_ids: Vec<ObjectId>,
    #[migrate(junction = "task_watchers", references = User, target_column = "user_id", default)]
    pub watcher_ids: Vec<ObjectId>,
    #[migrate(
        junction = "task_dependencies",
        references = Task,
        target_column = "blocking_task_id",
        on_missing = "skip",
        default
    )]
    pub blocked_by: Vec<ObjectId>,
    #[migrate(child = "task_checklist_items", parent_column = "task_id", default)]
    pub checklist: Vec<ChecklistItem>,
    #[migrate(child = "task_custom_field_values", parent_column = "task_id")]
    pub custom_values: Option<Vec<CustomFieldValue>>,
    #[migrate(with = convert::optional_flexible_date)]
    pub due_date: Option<DateTime>,
    pub completed_at: Option<DateTime>,
    #[migrate(with = convert::flexible_date)]
    pub created_at: DateTime,
    pub updated_at: DateTime,
    pub deleted_at: Option<DateTime>,
}

/// `releases`: `milestone_ids` becomes the ordered `release_milestones` junction.
#[derive(Debug, Migrate)]
#[migrate(collection = "releases", rename_all = "camelCase")]
pub struct Release {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Project)]
    pub project_id: ObjectId,
    pub version: String,
    pub name: Option<String>,
    pub notes: Option<String>,
    #[migrate(junction = "release_milestones", references = Milestone, position)]
    pub milestone_ids: Vec<ObjectId>,
    pub released_at: Option<DateTime>,
    pub created_at: DateTime,
}
