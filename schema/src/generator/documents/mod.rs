//! One builder per collection: document #i from its own random stream and the population. A
//! builder also counts the rows the document gives in each junction and child table.

mod billing;
mod collaboration;
mod platform;
mod tenancy;
mod work;

use migrator::bson::{oid::ObjectId, Bson, DateTime, Decimal128, Document};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::collection::Collection;
use super::population::Population;
use crate::example::convert;

/// Milliseconds in a day.
pub const DAY: i64 = 86_400_000;

/// What a builder works with: the population, the document's random stream, its rows.
#[derive(Debug)]
pub struct Cx<'a> {
    pub pop: &'a Population,
    pub rng: ChaCha8Rng,
    pub c: Collection,
    pub index: u64,
    /// Rows per junction or child table (the collection's own row is counted by the caller).
    pub rows: Vec<(&'static str, u64)>,
    /// Dangling references that their policy keeps (`on_missing = "keep"`), by `table.column`.
    pub kept: Vec<(&'static str, u64)>,
}

impl<'a> Cx<'a> {
    pub fn new(pop: &'a Population, rng: ChaCha8Rng, c: Collection, index: u64) -> Self {
        Cx {
            pop,
            rng,
            c,
            index,
            rows: Vec::new(),
            kept: Vec::new(),
        }
    }

    pub fn id(&self) -> ObjectId {
        self.pop.id(self.c, self.index)
    }

    /// A reference to document `index` of `c`, which must not be broken.
    pub fn reference(&self, c: Collection, index: u64) -> Bson {
        Bson::ObjectId(self.pop.ref_id(c, index))
    }

    /// When this document was created: its `_id` second plus random milliseconds.
    pub fn created_millis(&mut self) -> i64 {
        i64::from(self.pop.seconds(self.c, self.index)) * 1000 + self.rng.random_range(0..1000)
    }

    pub fn legacy(&self) -> bool {
        self.pop.is_legacy(self.c, self.index)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    pub fn between(&mut self, low: i64, high: i64) -> i64 {
        self.rng.random_range(low..=high)
    }

    pub fn choose<T: ?Sized>(&mut self, items: &'a [&'a T]) -> &'a T {
        super::text::choose(&mut self.rng, items)
    }

    /// A date: text in legacy documents (the old server's format or ISO 8601), a BSON date
    /// otherwise.
    pub fn date_or_text(&mut self, millis: i64) -> Bson {
        let date = DateTime::from_millis(millis);
        if !self.legacy() {
            return Bson::DateTime(date);
        }
        let text = if self.rng.random_bool(0.6) {
            convert::legacy_text(date)
        } else {
            date.try_to_rfc3339_string().ok()
        };
        text.map_or(Bson::DateTime(date), Bson::String)
    }

    /// A day (midnight UTC): `2018-03-04` in legacy documents, a BSON date otherwise.
    pub fn day_or_text(&mut self, millis: i64) -> Bson {
        let date = DateTime::from_millis(millis - millis.rem_euclid(DAY));
        if !self.legacy() {
            return Bson::DateTime(date);
        }
        match convert::legacy_text(date).and_then(|t| t.get(..10).map(str::to_string)) {
            Some(day) => Bson::String(day),
            None => Bson::DateTime(date),
        }
    }

    /// A junction array of references to `targets` of `c`; counts its distinct elements.
    pub fn junction(&mut self, table: &'static str, c: Collection, targets: &[u64]) -> Bson {
        let mut distinct: Vec<u64> = targets.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        self.add_rows(table, distinct.len() as u64);
        Bson::Array(targets.iter().map(|&j| self.reference(c, j)).collect())
    }

    /// Counts `n` rows of a child table.
    pub fn add_rows(&mut self, table: &'static str, n: u64) {
        add(&mut self.rows, table, n);
    }

    /// Counts a dangling reference that its policy keeps.
    pub fn add_kept_reference(&mut self, label: &'static str) {
        add(&mut self.kept, label, 1);
    }
}

fn add(counts: &mut Vec<(&'static str, u64)>, key: &'static str, n: u64) {
    match counts.iter_mut().find(|(k, _)| *k == key) {
        Some((_, count)) => *count += n,
        None => counts.push((key, n)),
    }
}

pub fn date(millis: i64) -> Bson {
    Bson::DateTime(DateTime::from_millis(millis))
}

/// `Some(value)` as itself, `None` as BSON null or an absent key (`absent` decides).
pub fn put_opt(doc: &mut Document, key: &str, value: Option<Bson>, absent: bool) {
    match (value, absent) {
        (Some(v), _) => {
            doc.insert(key, v);
        }
        (None, false) => {
            doc.insert(key, Bson::Null);
        }
        (None, true) => {}
    }
}

/// An amount of money in cents as a Decimal128 with two decimal places (`1234` -> `12.34`).
pub fn money(cents: i64) -> Decimal128 {
    // BID encoding: sign, a 14-bit exponent biased by 6176, a 113-bit coefficient.
    const EXPONENT: u64 = 6176 - 2;
    let sign = if cents < 0 { 1u64 << 63 } else { 0 };
    let high = sign | (EXPONENT << 49);
    let low = cents.unsigned_abs();
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&low.to_le_bytes());
    bytes[8..].copy_from_slice(&high.to_le_bytes());
    Decimal128::from_bytes(bytes)
}

/// Builds document #`cx.index` of `cx.c`.
pub fn build(cx: &mut Cx<'_>) -> Document {
    use Collection::*;
    match cx.c {
        Plans => tenancy::plan(cx),
        Organizations => tenancy::organization(cx),
        Users => tenancy::user(cx),
        Teams => tenancy::team(cx),
        Memberships => tenancy::membership(cx),
        Invitations => tenancy::invitation(cx),
        ApiKeys => tenancy::api_key(cx),
        Projects => work::project(cx),
        Labels => work::label(cx),
        CustomFields => work::custom_field(cx),
        Milestones => work::milestone(cx),
        Sprints => work::sprint(cx),
        Tasks => work::task(cx),
        Releases => work::release(cx),
        Comments => collaboration::comment(cx),
        Attachments => collaboration::attachment(cx),
        TimeEntries => collaboration::time_entry(cx),
        Documents => collaboration::document(cx),
        Notifications => collaboration::notification(cx),
        PaymentMethods => billing::payment_method(cx),
        Subscriptions => billing::subscription(cx),
        Invoices => billing::invoice(cx),
        Payments => billing::payment(cx),
        AuditEvents => platform::audit_event(cx),
        Webhooks => platform::webhook(cx),
        Integrations => platform::integration(cx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_exact_decimal() {
        for (cents, text) in [
            (1234, "12.34"),
            (0, "0.00"),
            (-50, "-0.50"),
            (4_900, "49.00"),
        ] {
            let parsed: Decimal128 = text.parse().expect("decimal");
            assert_eq!(money(cents), parsed, "{text}");
        }
    }
}
