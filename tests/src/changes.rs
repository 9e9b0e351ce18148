//! A change workload on the fixture's collections ([`crate::fixture`]) in a database of the
//! Mongo-wire server, run on a thread of its own while a copy or a follow runs: inserts, updates
//! that add and remove elements of the junction (`products`) and child (`lines`) arrays, deletes
//! of referenced documents (customers: `reject`, coupons: `null`, products: `skip`, orders:
//! `skip` from shipments), documents made invalid (an unknown status) and valid again, and
//! multi-document transactions when the server has them. Seeded: the same seed, the same
//! operations.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bson::{doc, Bson, Document};

/// A workload running until [`Workload::stop`].
#[derive(Debug)]
pub struct Workload {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Workload {
    /// Starts writing to `database` at `uri`, one operation every `pause`.
    pub fn start(uri: &str, database: &str, seed: u64, pause: Duration) -> Workload {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let (uri, database) = (uri.to_string(), database.to_string());
        let thread = {
            let (stop, done) = (Arc::clone(&stop), Arc::clone(&done));
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the workload");
                runtime.block_on(run(&uri, &database, seed, pause, &stop, &done))
            })
        };
        Workload {
            stop,
            done,
            thread: Some(thread),
        }
    }

    /// Operations done so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::SeqCst)
    }

    /// Stops it and returns the operations it did (every one acknowledged by the server).
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .take()
            .map(|t| t.join().expect("the workload thread"))
            .unwrap_or(0)
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// A small seeded generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> i32 {
        i32::try_from(self.next() % n.max(1)).unwrap_or(0)
    }
}

fn line(rng: &mut Rng) -> Bson {
    Bson::Document(doc! {
        "sku": format!("SKU-{}", 1 + rng.below(10)),
        "quantity": 1 + rng.below(5),
        "price": 2.5,
    })
}

async fn run(
    uri: &str,
    database: &str,
    seed: u64,
    pause: Duration,
    stop: &AtomicBool,
    done: &AtomicU64,
) -> u64 {
    let client = mongodb::Client::with_uri_str(uri)
        .await
        .expect("the workload connects");
    let db = client.database(database);
    let orders = db.collection::<Document>("orders");
    let customers = db.collection::<Document>("customers");
    let coupons = db.collection::<Document>("coupons");
    let products = db.collection::<Document>("products");
    let shipments = db.collection::<Document>("shipments");
    let mut rng = Rng(seed);
    let mut next_order = 10_000;
    let mut next_customer = 1_000;
    let mut count = 0u64;
    while !stop.load(Ordering::SeqCst) {
        // An order of the fixture's (1..=30, some gone) or one the workload inserted.
        let order = if next_order > 10_000 && rng.below(2) == 0 {
            10_001 + rng.below(u64::try_from(next_order - 10_000).unwrap_or(1))
        } else {
            1 + rng.below(30)
        };
        // Only orders nothing references are made invalid (and valid again): a shipment skipped
        // when its order went does not come back with it (see docs/guarantees.md).
        let unreferenced = if next_order > 10_000 {
            10_001 + rng.below(u64::try_from(next_order - 10_000).unwrap_or(1))
        } else {
            0
        };
        let result = match rng.below(100) {
            0..=24 => {
                next_order += 1;
                // Now and then a customer that does not exist: the order is rejected.
                let customer = if rng.below(10) == 0 {
                    999
                } else {
                    1 + rng.below(12)
                };
                let lines: Vec<Bson> = (0..rng.below(3)).map(|_| line(&mut rng)).collect();
                orders
                    .insert_one(doc! {
                        "_id": next_order, "status": "pending", "customer_id": customer,
                        "coupon_id": 1 + rng.below(3),
                        "products": [1 + rng.below(10), 1 + rng.below(10)], "lines": lines,
                    })
                    .await
                    .map(drop)
            }
            25..=39 => orders
                .update_one(
                    doc! {"_id": order},
                    doc! {"$push": {"products": 1 + rng.below(10), "lines": line(&mut rng)}},
                )
                .await
                .map(drop),
            40..=54 => orders
                .update_one(
                    doc! {"_id": order},
                    doc! {"$pull": {"products": 1 + rng.below(10)}, "$pop": {"lines": -1}},
                )
                .await
                .map(drop),
            55..=62 => orders
                .update_one(
                    doc! {"_id": unreferenced},
                    doc! {"$set": {"status": "lost"}},
                )
                .await
                .map(drop),
            63..=72 => orders
                .update_one(doc! {"_id": order}, doc! {"$set": {"status": "shipped"}})
                .await
                .map(drop),
            73..=76 => customers
                .delete_one(doc! {"_id": 1 + rng.below(14)})
                .await
                .map(drop),
            77..=79 => coupons
                .delete_one(doc! {"_id": 1 + rng.below(3)})
                .await
                .map(drop),
            80..=82 => products
                .delete_one(doc! {"_id": 1 + rng.below(10)})
                .await
                .map(drop),
            83..=86 => orders
                .delete_one(doc! {"_id": 1 + rng.below(30)})
                .await
                .map(drop),
            87..=92 => shipments
                .update_one(
                    doc! {"_id": 100 + rng.below(50)},
                    doc! {"$set": {"order_id": 1 + rng.below(30), "carrier": "ups"}},
                )
                .upsert(true)
                .await
                .map(drop),
            _ => {
                // A customer and an order of theirs, in one transaction where the server has them.
                next_customer += 1;
                next_order += 1;
                let (customer, order) = (next_customer, next_order);
                transaction(&client, &customers, &orders, customer, order).await
            }
        };
        if let Err(e) = result {
            panic!("a workload write failed: {e}");
        }
        count += 1;
        done.store(count, Ordering::SeqCst);
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
    count
}

async fn transaction(
    client: &mongodb::Client,
    customers: &mongodb::Collection<Document>,
    orders: &mongodb::Collection<Document>,
    customer: i32,
    order: i32,
) -> mongodb::error::Result<()> {
    let customer_doc = doc! {"_id": customer, "name": format!("customer {customer}"), "email": format!("c{customer}@example.com")};
    let order_doc = doc! {"_id": order, "status": "pending", "customer_id": customer, "products": [1], "lines": []};
    let mut session = client.start_session().await?;
    session.start_transaction().await?;
    customers
        .insert_one(customer_doc)
        .session(&mut session)
        .await?;
    orders.insert_one(order_doc).session(&mut session).await?;
    session.commit_transaction().await
}
