//! Billing: payment methods, subscriptions, invoices with their line items, payments. Money is
//! Decimal128, stored as `numeric`.

use migrator::bson::{oid::ObjectId, DateTime, Decimal128, Document};
use migrator::Migrate;
use serde::{Deserialize, Serialize};

use super::convert;
use super::tenancy::{Organization, Plan, User};

/// How a customer pays, stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(name = "payment_method_kind", repr = "text", rename_all = "snake_case")]
pub enum PaymentMethodKind {
    Card,
    SepaDebit,
    AchDebit,
    Paypal,
}

/// A billing address, kept as jsonb and read with serde.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BillingAddress {
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

/// `payment_methods`: detached methods are soft-deleted.
#[derive(Debug, Migrate)]
#[migrate(collection = "payment_methods", rename_all = "camelCase")]
pub struct PaymentMethod {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Organization)]
    pub organization_id: ObjectId,
    #[migrate(references = User)]
    pub added_by: ObjectId,
    #[migrate(rename = "type")]
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

/// A subscription's state, stored as a native enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(
    name = "subscription_status",
    repr = "native",
    rename_all = "snake_case"
)]
pub enum SubscriptionStatus {
    Trialing,
    Active,
    PastDue,
    Canceled,
}

/// `subscriptions`: the plan is referenced by its natural key `code`.
#[derive(Debug, Migrate)]
#[migrate(collection = "subscriptions", rename_all = "camelCase")]
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

/// An invoice's state, stored as a native enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(name = "invoice_status", repr = "native", rename_all = "lowercase")]
pub enum InvoiceStatus {
    Draft,
    Open,
    Paid,
    Void,
    Uncollectible,
}

/// What an adjustment of a line does, stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(name = "adjustment_kind", repr = "text", rename_all = "lowercase")]
pub enum AdjustmentKind {
    Discount,
    Credit,
    Proration,
}

/// A discount, credit or proration on one line (`invoice_line_adjustments`, under the lines).
#[derive(Debug, Migrate)]
#[migrate(embedded, rename_all = "camelCase")]
pub struct Adjustment {
    pub kind: AdjustmentKind,
    pub amount: Decimal128,
    pub reason: Option<String>,
}

/// One line of an invoice (`invoice_line_items`), with its own adjustments.
#[derive(Debug, Migrate)]
#[migrate(embedded, rename_all = "camelCase")]
pub struct LineItem {
    pub description: String,
    pub quantity: i32,
    pub unit_amount: Decimal128,
    pub amount: Decimal128,
    pub period_start: Option<DateTime>,
    pub period_end: Option<DateTime>,
    #[migrate(
        child = "invoice_line_adjustments",
        parent_column = "line_item_id",
        default
    )]
    pub adjustments: Vec<Adjustment>,
}

/// `invoices`: `issuedAt` is text in old documents; lines are a two-level child table.
#[derive(Debug, Migrate)]
#[migrate(collection = "invoices", rename_all = "camelCase")]
pub struct Invoice {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Organization, index)]
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
    #[migrate(child = "invoice_line_items", parent_column = "invoice_id")]
    pub line_items: Vec<LineItem>,
    /// The customer's name and address as printed on the invoice.
    pub billing_snapshot: Document,
    pub created_at: DateTime,
}

/// A payment attempt's outcome, stored as a native enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(name = "payment_status", repr = "native", rename_all = "lowercase")]
pub enum PaymentStatus {
    Pending,
    Succeeded,
    Failed,
    Refunded,
}

/// `payments`: attempts to collect an invoice.
#[derive(Debug, Migrate)]
#[migrate(collection = "payments", rename_all = "camelCase")]
pub struct Payment {
    #[migrate(id)]
    pub id: ObjectId,
    #[migrate(references = Invoice, index)]
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
