//! The example application as its Prisma team maps it: every collection loaded into the tables
//! Prisma makes from `schema/schema.prisma` (`--schema-mode existing`).
//!
//! Tables are the model names and columns the field names in camelCase (`naming = "prisma"`).
//! The junctions without a position are Prisma's implicit many-to-many tables (`_LabelToTask`,
//! `_TeamToUser`, ...); the two that are not plain sets are explicit models: `TaskDependency`
//! (a task and the task blocking it) and `ReleaseMilestone` (ordered). Child tables are models
//! named after their elements (`TaskChecklistItem`, `InvoiceLineItem`, ...), keyed by a row id
//! and unique on (parent, position). `updatedAt`, which Prisma keeps NOT NULL without a default,
//! takes the document's value or the load time. The column types are Prisma's (`text` ids,
//! `timestamp(3)`, `date` for `@db.Date` due dates, `decimal(65,30)`, enum types named after
//! the Prisma enums): the load adapts each write and lists how.
//!
//! Left out on purpose: the organizations' `headquarters` (a PostGIS point; Prisma Client
//! cannot read an `Unsupported("geometry")` column, so the team keeps it out of its schema) and
//! the users' `updatedAt`, which documents do not have (the load time fills it). An audit
//! event's actor email is kept when no user has it, so it is a plain column, not a relation.

pub mod billing;
pub mod collaboration;
pub mod tenancy;
pub mod work;

pub use billing::*;
pub use collaboration::*;
pub use tenancy::*;
pub use work::*;

use migrator::{Schema, SchemaError};

/// The Prisma edition's models, as one schema.
pub fn schema() -> Result<Schema, SchemaError> {
    migrator::schema![
        Plan,
        Organization,
        User,
        Team,
        Membership,
        Invitation,
        ApiKey,
        Project,
        Label,
        CustomField,
        Milestone,
        Sprint,
        Task,
        Release,
        Comment,
        Attachment,
        TimeEntry,
        WikiDocument,
        Notification,
        PaymentMethod,
        Subscription,
        Invoice,
        Payment,
        AuditEvent,
        Webhook,
        Integration,
    ]
}
