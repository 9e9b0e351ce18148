//! A database of its own on the Mongo-wire server (`MIGRATOR_TEST_MONGO_URI`, set by
//! `bash .ci/test`), dropped when the guard is.

use bson::RawDocumentBuf;
use migrator::source::MongoSource;

use crate::data::Dataset;

/// The server's URI; a missing one fails the test.
pub fn uri() -> String {
    std::env::var("MIGRATOR_TEST_MONGO_URI").unwrap_or_else(|_| {
        panic!(
            "MIGRATOR_TEST_MONGO_URI is not set: run `bash .ci/test`, or start the Mongo-wire \
             server (`bash .ci/secantus.sh` prints its binary) and export the URI"
        )
    })
}

#[derive(Debug)]
pub struct MongoDb {
    runtime: tokio::runtime::Runtime,
    client: mongodb::Client,
    name: String,
    uri: String,
}

impl MongoDb {
    pub fn create(test: &str) -> MongoDb {
        let uri = uri();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let client = runtime
            .block_on(async {
                let mut options = mongodb::options::ClientOptions::parse(&uri).await?;
                options
                    .server_selection_timeout
                    .get_or_insert(std::time::Duration::from_secs(10));
                mongodb::Client::with_options(options)
            })
            .unwrap_or_else(|e| panic!("bad MIGRATOR_TEST_MONGO_URI {uri}: {e}"));
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("e2e_{test}_{}_{nanos}", std::process::id());
        let db = client.database(&name);
        runtime
            .block_on(async { db.drop().await })
            .unwrap_or_else(|e| panic!("the Mongo-wire server at {uri} does not answer: {e}"));
        MongoDb {
            runtime,
            client,
            name,
            uri,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Inserts the documents in order (an empty collection is created).
    pub fn insert(&self, collection: &str, docs: &[RawDocumentBuf]) {
        let db = self.client.database(&self.name);
        self.runtime
            .block_on(async {
                if docs.is_empty() {
                    db.create_collection(collection).await
                } else {
                    db.collection::<RawDocumentBuf>(collection)
                        .insert_many(docs)
                        .await
                        .map(drop)
                }
            })
            .unwrap_or_else(|e| panic!("cannot insert into {collection}: {e}"));
    }

    pub fn insert_all(&self, data: &Dataset) {
        for c in &data.collections {
            self.insert(&c.name, &c.docs);
        }
    }

    /// Runs an admin command (a failpoint, say) on the server.
    pub fn admin(&self, command: bson::Document) {
        let admin = self.client.database("admin");
        self.runtime
            .block_on(async { admin.run_command(command.clone()).await })
            .unwrap_or_else(|e| panic!("admin command {command} failed: {e}"));
    }

    /// Runs a command on the test's database (`drop`, say).
    pub fn command(&self, command: bson::Document) {
        let db = self.client.database(&self.name);
        self.runtime
            .block_on(async { db.run_command(command.clone()).await })
            .unwrap_or_else(|e| panic!("command {command} failed: {e}"));
    }

    pub fn source(&self) -> MongoSource {
        MongoSource::connect(&self.uri, &self.name)
            .unwrap_or_else(|e| panic!("cannot reach the Mongo-wire server at {}: {e}", self.uri))
    }
}

impl Drop for MongoDb {
    fn drop(&mut self) {
        let db = self.client.database(&self.name);
        let _ = self.runtime.block_on(async { db.drop().await });
    }
}
