//! The one-pass reading a load runs (`Migrate::transcode`) against `decode` then `emit`, on
//! every generated document of every example collection, faulty ones included: the same COPY
//! bytes, or the same rejection.

use migrator::bson::RawDocumentBuf;
use migrator::testing::check_transcode;
use migrator::Migrate;
use schema::example::{billing, collaboration, platform, tenancy, work};
use schema::generator::{Collection, FaultConfig, Generator, GeneratorConfig};

/// Every document of `collection` at scale 0.2 with twice the usual faults (no oversized ones:
/// they are large, and plain strings), checked as `T`. Returns how many were rejected.
fn check<T: Migrate>(generator: &Generator, collection: Collection) -> usize {
    let mut rejected = 0;
    let mut checked = 0;
    for generated in generator.documents(collection) {
        let raw = RawDocumentBuf::try_from(&generated.doc).expect("a generated document encodes");
        if let Err(difference) = check_transcode::<T>(&raw) {
            panic!(
                "{} #{} (_id {}): {difference}",
                collection.name(),
                generated.index,
                generated.id
            );
        }
        rejected += usize::from(generated.rejected());
        checked += 1;
    }
    assert!(checked > 0, "{} has documents", collection.name());
    rejected
}

#[test]
fn every_example_document_reads_the_same_in_one_pass() {
    let generator = Generator::new(GeneratorConfig {
        seed: 11,
        scale: 0.2,
        faults: FaultConfig {
            per_kind: 4,
            oversized: 0,
        },
    })
    .expect("valid config");
    let mut rejected = 0;
    macro_rules! every {
        ($($model:ty => $collection:ident,)*) => {
            $(rejected += check::<$model>(&generator, Collection::$collection);)*
            let listed = [$(Collection::$collection),*];
            assert_eq!(listed.len(), Collection::ALL.len(), "every collection is checked");
        };
    }
    every! {
        tenancy::Plan => Plans,
        tenancy::Organization => Organizations,
        tenancy::User => Users,
        tenancy::Team => Teams,
        tenancy::Membership => Memberships,
        tenancy::Invitation => Invitations,
        tenancy::ApiKey => ApiKeys,
        work::Project => Projects,
        work::Label => Labels,
        work::CustomField => CustomFields,
        work::Milestone => Milestones,
        work::Sprint => Sprints,
        work::Task => Tasks,
        work::Release => Releases,
        collaboration::Comment => Comments,
        collaboration::Attachment => Attachments,
        collaboration::TimeEntry => TimeEntries,
        collaboration::WikiDocument => Documents,
        collaboration::Notification => Notifications,
        billing::PaymentMethod => PaymentMethods,
        billing::Subscription => Subscriptions,
        billing::Invoice => Invoices,
        billing::Payment => Payments,
        platform::AuditEvent => AuditEvents,
        platform::Webhook => Webhooks,
        platform::Integration => Integrations,
    }
    assert!(
        rejected > 20,
        "faulty documents were checked too ({rejected})"
    );
}
