//! payment_methods, subscriptions, invoices, payments.

use migrator::bson::{doc, Bson, Document};
use rand::Rng;

use super::tenancy::{org_identity, plan_code, PLANS};
use super::{date, money, put_opt, Cx, DAY};
use crate::generator::collection::Collection::*;
use crate::generator::text;

const CITIES: &[(&str, &str, &str)] = &[
    ("Berlin", "10115", "DE"),
    ("Lisbon", "1100-148", "PT"),
    ("Austin", "73301", "US"),
    ("Toronto", "M5H 2N2", "CA"),
    ("Osaka", "530-0001", "JP"),
    ("Lyon", "69001", "FR"),
];

fn address(cx: &mut Cx<'_>) -> Document {
    let (city, postal, country) = CITIES[cx.rng.random_range(0..CITIES.len())];
    let mut a = doc! { "line1": format!("{} {} Street", cx.between(1, 200), cx.choose(text::COMPANY_WORDS)) };
    let line2 = cx
        .chance(0.3)
        .then(|| Bson::String(format!("Suite {}", cx.between(1, 900))));
    put_opt(&mut a, "line2", line2, true);
    a.insert("city", city);
    a.insert("postalCode", postal);
    a.insert("country", country);
    a
}

pub fn payment_method(cx: &mut Cx<'_>) -> Document {
    let org = cx.pop.org_of(PaymentMethods, cx.index);
    let users = cx.pop.users_of_org(org);
    let by = cx.pop.pick(Users, users, &mut cx.rng);
    let kind = cx.choose(&["card", "card", "card", "sepa_debit", "ach_debit", "paypal"]);
    let created = cx.created_millis();
    let mut d = doc! {
        "_id": cx.id(),
        "organizationId": cx.reference(Organizations, org),
        "addedBy": cx.reference(Users, by),
        "type": kind,
    };
    let card = kind == "card";
    let brand = card.then(|| Bson::String(cx.choose(&["visa", "mastercard", "amex"]).to_string()));
    put_opt(&mut d, "brand", brand, false);
    d.insert("last4", format!("{:04}", cx.between(0, 9999)));
    put_opt(
        &mut d,
        "expMonth",
        card.then(|| Bson::Int32(cx.between(1, 12) as i32)),
        !card,
    );
    put_opt(
        &mut d,
        "expYear",
        card.then(|| Bson::Int32(cx.between(2025, 2031) as i32)),
        !card,
    );
    d.insert("isDefault", cx.chance(0.6));
    if cx.chance(0.8) {
        let a = address(cx);
        d.insert("billingAddress", a);
    }
    d.insert("createdAt", date(created));
    let deleted = cx.chance(0.05).then(|| date(created + 300 * DAY));
    put_opt(&mut d, "deletedAt", deleted, true);
    d
}

pub fn subscription(cx: &mut Cx<'_>) -> Document {
    let org = cx.pop.org_of(Subscriptions, cx.index);
    let methods = cx.pop.of_org(org, PaymentMethods);
    let method = (!methods.is_empty()).then(|| cx.pop.pick(PaymentMethods, methods, &mut cx.rng));
    let plan = cx.rng.random_range(1..PLANS.len() as u64);
    let created = cx.created_millis();
    let status = cx.choose(&[
        "active", "active", "active", "trialing", "past_due", "canceled",
    ]);
    let start = created + cx.between(0, 700) * DAY;
    let mut d = doc! {
        "_id": cx.id(),
        "organizationId": cx.reference(Organizations, org),
        "planCode": plan_code(plan),
    };
    put_opt(
        &mut d,
        "paymentMethodId",
        method.map(|m| cx.reference(PaymentMethods, m)),
        false,
    );
    d.insert("status", status);
    d.insert("seats", cx.between(1, 250) as i32);
    d.insert("currentPeriodStart", date(start));
    d.insert("currentPeriodEnd", date(start + 30 * DAY));
    let trial = (status == "trialing").then(|| date(created + 14 * DAY));
    put_opt(&mut d, "trialEndsAt", trial, true);
    let canceled = (status == "canceled").then(|| date(start + 10 * DAY));
    put_opt(&mut d, "canceledAt", canceled, false);
    let discount = cx
        .chance(0.15)
        .then(|| Bson::Double([10.0, 15.0, 20.0, 12.5][cx.rng.random_range(0..4)]));
    put_opt(&mut d, "discountPercent", discount, true);
    d.insert("createdAt", date(created));
    d
}

pub fn invoice(cx: &mut Cx<'_>) -> Document {
    let subscription = cx.pop.subscription_of_invoice(cx.index);
    let org = cx.pop.org_of(Subscriptions, subscription);
    let created = cx.created_millis();
    let status = cx.choose(&[
        "paid",
        "paid",
        "paid",
        "open",
        "draft",
        "void",
        "uncollectible",
    ]);
    let currency = cx.choose(&["USD", "USD", "EUR", "GBP"]);
    let n_lines = cx.between(1, 4) as u64;
    let mut lines = Vec::new();
    let mut subtotal = 0i64;
    let mut adjustments_total = 0u64;
    for _ in 0..n_lines {
        let quantity = cx.between(1, 40);
        let unit = cx.between(5, 120) * 100;
        let mut amount = quantity * unit;
        let n_adj = if cx.chance(0.3) {
            cx.between(1, 2) as u64
        } else {
            0
        };
        let mut adjustments = Vec::new();
        for _ in 0..n_adj {
            let kind = cx.choose(&["discount", "credit", "proration"]);
            let value = -(amount / 10).max(1);
            amount += value;
            let mut adj = doc! { "kind": kind, "amount": money(value) };
            let reason = cx
                .chance(0.5)
                .then(|| Bson::String(text::sentence(&mut cx.rng, 2, 5)));
            put_opt(&mut adj, "reason", reason, true);
            adjustments.push(Bson::Document(adj));
        }
        adjustments_total += n_adj;
        subtotal += amount;
        let mut line = doc! {
            "description": format!("{} seats", cx.choose(&["Team", "Business", "Starter", "Add-on"])),
            "quantity": quantity as i32,
            "unitAmount": money(unit),
            "amount": money(amount),
        };
        let period = cx.chance(0.8);
        put_opt(
            &mut line,
            "periodStart",
            period.then(|| date(created)),
            true,
        );
        put_opt(
            &mut line,
            "periodEnd",
            period.then(|| date(created + 30 * DAY)),
            true,
        );
        if !adjustments.is_empty() {
            line.insert("adjustments", adjustments);
        }
        lines.push(Bson::Document(line));
    }
    cx.add_rows("invoice_line_items", n_lines);
    cx.add_rows("invoice_line_adjustments", adjustments_total);
    let tax = subtotal * 19 / 100;
    let (name, _) = org_identity(cx.pop, org);
    let year = 2017 + (cx.pop.fraction(Invoices, cx.index) * 8.0) as i64;
    let mut d = doc! {
        "_id": cx.id(),
        "organizationId": cx.reference(Organizations, org),
        "subscriptionId": cx.reference(Subscriptions, subscription),
        "number": format!("INV-{year}-{:07}", cx.index + 1),
        "status": status,
        "currency": currency,
        "subtotal": money(subtotal),
        "tax": money(tax),
        "total": money(subtotal + tax),
    };
    let issued = cx.date_or_text(created);
    d.insert("issuedAt", issued);
    put_opt(
        &mut d,
        "dueAt",
        (status != "draft").then(|| date(created + 14 * DAY)),
        false,
    );
    put_opt(
        &mut d,
        "paidAt",
        (status == "paid").then(|| date(created + cx.between(0, 14) * DAY)),
        false,
    );
    d.insert("lineItems", lines);
    let billing_address = address(cx);
    d.insert(
        "billingSnapshot",
        doc! { "name": name, "address": billing_address, "vatId": null },
    );
    d.insert("createdAt", date(created));
    d
}

pub fn payment(cx: &mut Cx<'_>) -> Document {
    let invoice = cx.pop.invoice_of_payment(cx.index);
    let org = cx
        .pop
        .org_of(Subscriptions, cx.pop.subscription_of_invoice(invoice));
    let methods = cx.pop.of_org(org, PaymentMethods);
    let method = cx.pop.pick(PaymentMethods, methods, &mut cx.rng);
    let created = cx.created_millis();
    let status = cx.choose(&[
        "succeeded",
        "succeeded",
        "succeeded",
        "failed",
        "pending",
        "refunded",
    ]);
    let mut d = doc! {
        "_id": cx.id(),
        "invoiceId": cx.reference(Invoices, invoice),
        "paymentMethodId": cx.reference(PaymentMethods, method),
        "amount": money(cx.between(500, 2_000_000)),
        "currency": cx.choose(&["USD", "EUR", "GBP"]),
        "status": status,
        "processorRef": format!("ch_{}", text::hex(&mut cx.rng, 24)),
    };
    let failure = (status == "failed").then(|| {
        Bson::String(
            cx.choose(&["card_declined", "insufficient_funds", "expired_card"])
                .to_string(),
        )
    });
    put_opt(&mut d, "failureReason", failure, true);
    d.insert("attemptedAt", date(created));
    let settled = (status == "succeeded" || status == "refunded")
        .then(|| date(created + cx.between(1, 3) * DAY));
    put_opt(&mut d, "settledAt", settled, false);
    d
}
