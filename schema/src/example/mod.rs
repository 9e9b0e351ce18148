//! The example application: a multi-tenant project-management SaaS in 26 collections.
//!
//! The longest chain of references has eleven levels, ten load phases once the
//! organization/user cycle is loaded as one:
//!
//! ```text
//!  1 plans
//!  2 organizations   plan_code -> plans.code (natural key)
//!  3 users           organization_id -> organizations   (organizations.owner_id -> users: cycle)
//!  4 teams           created_by -> users
//!  5 projects        team_id -> teams
//!  6 milestones      project_id -> projects
//!  7 sprints         milestone_id -> milestones
//!  8 tasks           sprint_id -> sprints                (blocked_by -> tasks: self junction)
//!  9 comments        task_id -> tasks                    (parent_id -> comments: self-reference)
//! 10 attachments     comment_id -> comments
//! 11 notifications   attachment_id -> attachments
//! ```
//!
//! Ten junctions: `team_members`, `project_members`, `task_labels`, `task_watchers`,
//! `task_dependencies`, `comment_mentions`, `document_contributors`, `release_milestones`,
//! `invitation_teams`, `integration_projects`. Seven child tables: `task_checklist_items`,
//! `task_custom_field_values`, `comment_reactions`, `document_revisions`, `webhook_deliveries`,
//! `invoice_line_items` and, under each line, `invoice_line_adjustments`.

pub mod billing;
pub mod collaboration;
pub mod convert;
pub mod platform;
pub mod prisma;
pub mod tenancy;
pub mod work;

use migrator::{Schema, SchemaError};

/// Every model of the example application, as one schema.
pub fn schema() -> Result<Schema, SchemaError> {
    migrator::schema![
        tenancy::Plan,
        tenancy::Organization,
        tenancy::User,
        tenancy::Team,
        tenancy::Membership,
        tenancy::Invitation,
        tenancy::ApiKey,
        work::Project,
        work::Label,
        work::CustomField,
        work::Milestone,
        work::Sprint,
        work::Task,
        work::Release,
        collaboration::Comment,
        collaboration::Attachment,
        collaboration::TimeEntry,
        collaboration::WikiDocument,
        collaboration::Notification,
        billing::PaymentMethod,
        billing::Subscription,
        billing::Invoice,
        billing::Payment,
        platform::AuditEvent,
        platform::Webhook,
        platform::Integration,
    ]
}
