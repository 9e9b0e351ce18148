//! The rows one generated document of each of the 26 example models becomes, as insta snapshots,
//! plus legacy documents (dates as text) and rejected ones.

use migrator::bson::Document;
use migrator::testing::rows;
use schema::example::{billing, collaboration, platform, tenancy, work};
use schema::generator::{Collection, FaultConfig, Generator, GeneratorConfig};

/// Document `index` of `collection` at seed 7, scale 0.01, without faults.
fn document(collection: Collection, index: u64) -> Document {
    let config = GeneratorConfig {
        seed: 7,
        scale: 0.01,
        faults: FaultConfig::none(),
    };
    let generator = Generator::new(config).expect("valid config");
    generator.document(collection, index).doc
}

/// A recent document (three quarters through the collection: dates are BSON dates).
fn recent(collection: Collection) -> Document {
    let n = collection.count_at(0.01);
    document(collection, n * 3 / 4)
}

macro_rules! snapshots {
    ($($test:ident: $model:ty => $doc:expr;)*) => {
        $(
            #[test]
            fn $test() {
                let doc: Document = $doc;
                insta::assert_yaml_snapshot!(rows::<$model>(&doc));
            }
        )*
    };
}

snapshots! {
    plan: tenancy::Plan => recent(Collection::Plans);
    organization: tenancy::Organization => recent(Collection::Organizations);
    user: tenancy::User => recent(Collection::Users);
    team: tenancy::Team => recent(Collection::Teams);
    membership: tenancy::Membership => recent(Collection::Memberships);
    invitation: tenancy::Invitation => recent(Collection::Invitations);
    api_key: tenancy::ApiKey => recent(Collection::ApiKeys);
    project: work::Project => recent(Collection::Projects);
    label: work::Label => recent(Collection::Labels);
    custom_field: work::CustomField => recent(Collection::CustomFields);
    milestone: work::Milestone => recent(Collection::Milestones);
    sprint: work::Sprint => recent(Collection::Sprints);
    task: work::Task => recent(Collection::Tasks);
    release: work::Release => recent(Collection::Releases);
    comment: collaboration::Comment => recent(Collection::Comments);
    attachment: collaboration::Attachment => recent(Collection::Attachments);
    time_entry: collaboration::TimeEntry => recent(Collection::TimeEntries);
    wiki_document: collaboration::WikiDocument => recent(Collection::Documents);
    notification: collaboration::Notification => recent(Collection::Notifications);
    payment_method: billing::PaymentMethod => recent(Collection::PaymentMethods);
    subscription: billing::Subscription => recent(Collection::Subscriptions);
    invoice: billing::Invoice => recent(Collection::Invoices);
    payment: billing::Payment => recent(Collection::Payments);
    audit_event: platform::AuditEvent => recent(Collection::AuditEvents);
    webhook: platform::Webhook => recent(Collection::Webhooks);
    integration: platform::Integration => recent(Collection::Integrations);

    // Documents of the first version: dates as text, keys added later absent (defaults apply).
    legacy_user: tenancy::User => document(Collection::Users, 1);
    legacy_task: work::Task => document(Collection::Tasks, 2);
    legacy_milestone: work::Milestone => document(Collection::Milestones, 1);
    legacy_invoice: billing::Invoice => document(Collection::Invoices, 1);
    legacy_api_key: tenancy::ApiKey => document(Collection::ApiKeys, 0);
}

#[test]
fn every_model_has_a_snapshot() {
    let source = include_str!("example_models.rs");
    let schema = schema::example::schema().expect("consistent");
    for model in schema.models() {
        let rust_name = model.def().rust_name;
        assert!(
            source.contains(&format!("::{rust_name} =>")),
            "no snapshot for {rust_name}"
        );
    }
}

#[test]
fn rejected_documents_say_why() {
    let mut task = recent(Collection::Tasks);
    task.insert("title", "broken\0title");
    insta::assert_yaml_snapshot!("nul_in_text", rows::<work::Task>(&task));
    let mut key = recent(Collection::ApiKeys);
    key.insert("debugToken", "x");
    insta::assert_yaml_snapshot!("unknown_field", rows::<tenancy::ApiKey>(&key));
    let mut entry = recent(Collection::TimeEntries);
    entry.insert("startedAt", "31/12/2018");
    insta::assert_yaml_snapshot!(
        "legacy_date_that_is_not_a_date",
        rows::<collaboration::TimeEntry>(&entry)
    );
}
