//! The fixture's workload for `bench follow --workload orders`: inserts of orders (each a row,
//! two junction rows and one to two child rows), in batches of `insert_many`.

use bson::{doc, Document, RawDocumentBuf};
use migrator_e2e::fixture;
use migrator_e2e::mongo::MongoDb;

/// The fixture's clean data.
pub fn seed(mongo: &MongoDb) -> anyhow::Result<()> {
    for (name, docs) in fixture::clean() {
        let raw: Vec<RawDocumentBuf> = docs
            .iter()
            .map(RawDocumentBuf::try_from)
            .collect::<Result<_, _>>()?;
        mongo.insert(name, &raw);
    }
    Ok(())
}

fn order(id: i64) -> Document {
    let i = i32::try_from(id % 1_000).unwrap_or(0);
    doc! {
        "_id": id, "status": "pending", "customer_id": 1 + i % 12, "coupon_id": 1 + i % 3,
        "products": [1 + i % 10, 1 + (3 * i) % 10],
        "lines": (0..1 + i % 2).map(|n| doc! {"sku": format!("SKU-{n}"), "quantity": 1, "price": 2.5}).collect::<Vec<_>>(),
    }
}

/// Inserts orders from id `next` on.
#[derive(Debug)]
pub struct Orders {
    pub orders: mongodb::Collection<Document>,
    pub next: i64,
}

impl Orders {
    /// Inserts `n` orders, `per_call` per `insert_many`.
    pub async fn insert(&mut self, n: u64, per_call: u64) -> anyhow::Result<()> {
        let mut left = n;
        while left > 0 {
            let take = left.min(per_call.max(1));
            let ids = self.next..self.next + i64::try_from(take)?;
            self.orders.insert_many(ids.map(order)).await?;
            self.next += i64::try_from(take)?;
            left -= take;
        }
        Ok(())
    }
}
