//! Billing and the platform in the Prisma edition: payment methods, subscriptions, invoices
//! with their lines, payments, the audit log, webhooks and integrations.

use std::collections::BTreeMap;

use migrator::bson::{oid::ObjectId, DateTime, Decimal128, Document};
use migrator::Migrate;

use super::super::billing::{
    AdjustmentKind, BillingAddress, InvoiceStatus, PaymentMethodKind, PaymentStatus,
    SubscriptionStatus,
};
use super::super::convert;
use super::super::platform::IntegrationProvider;
use super::tenancy::{Organization, Plan, User};
use super::work::Project;

/// `payment_methods`, into `"PaymentMethod"`; the key `type` is the column `type`.
#[derive(Debug, Migrate)]
#[migrate(
    collection = "payment_methods",
    naming = "prisma",
    rename_all = "camelCase"
)]
pub struct PaymentMethod {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Organization)]
    pub organization_id: ObjectId,
    #[migrate(references = User)]
    pub added_by: ObjectId,
    #[migrate(rename = "type", column = "type")]
    pub kind: PaymentMethodKind,
    pub brand: Option<String>,
    pub last4: String,
    pub exp_month: Option<i32>,
    pub exp_year: Option<i32>,
    pub is_default: bool,
    #[migrate(jsonb)]
    pub billing_address: Option<BillingAddress>,
    pub created_at: DateTime,
    pub deleted_at: Option<DateTime>,
}

/// `subscriptions`, into `"Subscription"`; the plan by its code.
#[derive(Debug, Migrate)]
#[migrate(
    collection = "subscriptions",
    naming = "prisma",
    rename_all = "camelCase"
)]
pub struct Subscription {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Organization)]
    pub organization_id: ObjectId,
    #[migrate(references = Plan, key = "code")]
    pub plan_code: String,
    #[migrate(references = PaymentMethod, on_missing = "null")]
    pub payment_method_id: Option<ObjectId>,
    pub status: SubscriptionStatus,
    pub seats: i32,
    pub current_period_start: DateTime,
    pub current_period_end: DateTime,
    pub trial_ends_at: Option<DateTime>,
    pub canceled_at: Option<DateTime>,
    pub discount_percent: Option<f64>,
    pub created_at: DateTime,
}

/// An adjustment of an invoice line, into `"InvoiceLineAdjustment"`.
#[derive(Debug, Migrate)]
#[migrate(embedded, naming = "prisma", rename_all = "camelCase")]
pub struct Adjustment {
    pub kind: AdjustmentKind,
    pub amount: Decimal128,
    pub reason: Option<String>,
}

/// One line of an invoice, into `"InvoiceLineItem"`, with its adjustments.
#[derive(Debug, Migrate)]
#[migrate(embedded, naming = "prisma", rename_all = "camelCase")]
pub struct LineItem {
    pub description: String,
    pub quantity: i32,
    pub unit_amount: Decimal128,
    pub amount: Decimal128,
    pub period_start: Option<DateTime>,
    pub period_end: Option<DateTime>,
    #[migrate(child = "InvoiceLineAdjustment", parent_column = "lineItemId", default)]
    pub adjustments: Vec<Adjustment>,
}

/// `invoices`, into `"Invoice"`.
#[derive(Debug, Migrate)]
#[migrate(collection = "invoices", naming = "prisma", rename_all = "camelCase")]
pub struct Invoice {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Organization)]
    pub organization_id: ObjectId,
    #[migrate(references = Subscription)]
    pub subscription_id: ObjectId,
    #[migrate(unique)]
    pub number: String,
    pub status: InvoiceStatus,
    pub currency: String,
    pub subtotal: Decimal128,
    pub tax: Decimal128,
    pub total: Decimal128,
    #[migrate(with = convert::flexible_date)]
    pub issued_at: DateTime,
    pub due_at: Option<DateTime>,
    pub paid_at: Option<DateTime>,
    #[migrate(child = "InvoiceLineItem", parent_column = "invoiceId")]
    pub line_items: Vec<LineItem>,
    pub billing_snapshot: Document,
    pub created_at: DateTime,
}

/// `payments`, into `"Payment"`.
#[derive(Debug, Migrate)]
#[migrate(collection = "payments", naming = "prisma", rename_all = "camelCase")]
pub struct Payment {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Invoice)]
    pub invoice_id: ObjectId,
    #[migrate(references = PaymentMethod)]
    pub payment_method_id: ObjectId,
    pub amount: Decimal128,
    pub currency: String,
    pub status: PaymentStatus,
    pub processor_ref: String,
    pub failure_reason: Option<String>,
    pub attempted_at: DateTime,
    pub settled_at: Option<DateTime>,
}

/// `audit_events`, into `"AuditEvent"`. The actor's email is kept when no user has it
/// (`on_missing = "keep"`), so the team's schema has no relation (no foreign key) there.
#[derive(Debug, Migrate)]
#[migrate(
    collection = "audit_events",
    naming = "prisma",
    rename_all = "camelCase"
)]
pub struct AuditEvent {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Organization)]
    pub organization_id: ObjectId,
    #[migrate(references = User, key = "email", on_missing = "keep")]
    pub actor_email: String,
    pub action: String,
    pub target_type: String,
    #[migrate(as_text)]
    pub target_id: ObjectId,
    pub changes: Option<Document>,
    pub ip: String,
    pub user_agent: Option<String>,
    pub occurred_at: DateTime,
}

/// One delivery attempt of a webhook, into `"WebhookDelivery"`.
#[derive(Debug, Migrate)]
#[migrate(embedded, naming = "prisma", rename_all = "camelCase")]
pub struct WebhookDelivery {
    pub event: String,
    pub status_code: Option<i32>,
    pub duration_ms: i64,
    pub succeeded: bool,
    pub attempted_at: DateTime,
}

/// `webhooks`, into `"Webhook"`.
#[derive(Debug, Migrate)]
#[migrate(collection = "webhooks", naming = "prisma", rename_all = "camelCase")]
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
    #[migrate(child = "WebhookDelivery", parent_column = "webhookId")]
    pub deliveries: Option<Vec<WebhookDelivery>>,
    pub created_at: DateTime,
    pub disabled_at: Option<DateTime>,
}

/// `integrations`, into `"Integration"`; projects into Prisma's implicit
/// `_IntegrationToProject`.
#[derive(Debug, Migrate)]
#[migrate(
    collection = "integrations",
    naming = "prisma",
    rename_all = "camelCase"
)]
pub struct Integration {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Organization)]
    pub organization_id: ObjectId,
    pub provider: IntegrationProvider,
    #[migrate(references = User)]
    pub installed_by: ObjectId,
    pub config: BTreeMap<String, String>,
    #[migrate(junction, implicit, references = Project)]
    pub project_ids: Vec<ObjectId>,
    pub enabled: bool,
    pub installed_at: DateTime,
    pub last_synced_at: Option<DateTime>,
}
