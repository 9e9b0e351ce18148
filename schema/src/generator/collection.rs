//! The 26 collections of the example application as the generator sees them: names, sizes at
//! scale 1, the tables each one fills and the unique indexes its metadata declares.

use std::fmt;

/// Declares [`Collection`] and [`Collection::ALL`] from one list.
macro_rules! collections {
    ($($variant:ident),* $(,)?) => {
        /// A collection of the example application.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Collection {
            $($variant,)*
        }

        impl Collection {
            /// Every collection, in load order of the old script (parents before children).
            pub const ALL: [Collection; [$(stringify!($variant)),*].len()] =
                [$(Collection::$variant,)*];
        }
    };
}

collections!(
    Plans,
    Organizations,
    Users,
    Teams,
    Memberships,
    Invitations,
    ApiKeys,
    Projects,
    Labels,
    CustomFields,
    Milestones,
    Sprints,
    Tasks,
    Releases,
    Comments,
    Attachments,
    TimeEntries,
    Documents,
    Notifications,
    PaymentMethods,
    Subscriptions,
    Invoices,
    Payments,
    AuditEvents,
    Webhooks,
    Integrations,
);

use Collection::*;

/// What the generator knows about one collection.
#[derive(Debug, Clone, Copy)]
pub struct CollectionSpec {
    pub name: &'static str,
    /// Documents at scale 1.
    pub base_count: u64,
    /// The catalogue does not grow with the scale.
    pub fixed: bool,
    /// The collection's own table first, then its junction and child tables.
    pub tables: &'static [&'static str],
    /// Unique indexes (besides `_id`), written to the dump's metadata.
    pub unique: &'static [&'static str],
}

const fn spec(
    name: &'static str,
    base_count: u64,
    tables: &'static [&'static str],
    unique: &'static [&'static str],
) -> CollectionSpec {
    CollectionSpec {
        name,
        base_count,
        fixed: false,
        tables,
        unique,
    }
}

impl Collection {
    pub fn spec(self) -> CollectionSpec {
        match self {
            Plans => CollectionSpec {
                fixed: true,
                ..spec("plans", 8, &["plans"], &["code"])
            },
            Organizations => spec("organizations", 200, &["organizations"], &["slug"]),
            Users => spec("users", 8_000, &["users"], &["email"]),
            Teams => spec("teams", 800, &["teams", "team_members"], &[]),
            Memberships => spec("memberships", 8_800, &["memberships"], &[]),
            Invitations => spec(
                "invitations",
                600,
                &["invitations", "invitation_teams"],
                &[],
            ),
            ApiKeys => spec("api_keys", 400, &["api_keys"], &["prefix"]),
            Projects => spec("projects", 1_600, &["projects", "project_members"], &[]),
            Labels => spec("labels", 2_000, &["labels"], &[]),
            CustomFields => spec("custom_fields", 600, &["custom_fields"], &[]),
            Milestones => spec("milestones", 3_200, &["milestones"], &[]),
            Sprints => spec("sprints", 4_800, &["sprints"], &[]),
            Tasks => spec(
                "tasks",
                28_000,
                &[
                    "tasks",
                    "task_labels",
                    "task_watchers",
                    "task_dependencies",
                    "task_checklist_items",
                    "task_custom_field_values",
                ],
                &[],
            ),
            Releases => spec("releases", 400, &["releases", "release_milestones"], &[]),
            Comments => spec(
                "comments",
                18_000,
                &["comments", "comment_mentions", "comment_reactions"],
                &[],
            ),
            Attachments => spec("attachments", 3_000, &["attachments"], &[]),
            TimeEntries => spec("time_entries", 5_000, &["time_entries"], &[]),
            Documents => spec(
                "documents",
                2_000,
                &["documents", "document_contributors", "document_revisions"],
                &[],
            ),
            Notifications => spec("notifications", 4_000, &["notifications"], &[]),
            PaymentMethods => spec("payment_methods", 300, &["payment_methods"], &[]),
            Subscriptions => spec("subscriptions", 250, &["subscriptions"], &[]),
            Invoices => spec(
                "invoices",
                2_400,
                &["invoices", "invoice_line_items", "invoice_line_adjustments"],
                &["number"],
            ),
            Payments => spec("payments", 2_200, &["payments"], &[]),
            AuditEvents => spec("audit_events", 3_000, &["audit_events"], &[]),
            Webhooks => spec("webhooks", 200, &["webhooks", "webhook_deliveries"], &[]),
            Integrations => spec(
                "integrations",
                300,
                &["integrations", "integration_projects"],
                &[],
            ),
        }
    }

    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The collection's own table.
    pub fn table(self) -> &'static str {
        self.spec().tables[0]
    }

    /// The collection's number, written into its ObjectIds.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The collection named `name`.
    pub fn from_name(name: &str) -> Option<Collection> {
        Collection::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Documents at `scale`: at least one, except that the fixed catalogue keeps its size.
    pub fn count_at(self, scale: f64) -> u64 {
        let spec = self.spec();
        if spec.fixed {
            return spec.base_count;
        }
        let scaled = (spec.base_count as f64 * scale).round();
        if scaled < 1.0 {
            1
        } else {
            scaled as u64
        }
    }
}

impl fmt::Display for Collection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_one_is_about_a_hundred_thousand_documents() {
        let total: u64 = Collection::ALL.iter().map(|c| c.count_at(1.0)).sum();
        assert!((95_000..=105_000).contains(&total), "{total}");
        assert_eq!(Collection::Plans.count_at(1000.0), 8);
        assert_eq!(Collection::Tasks.count_at(0.000_01), 1);
    }

    #[test]
    fn names_and_numbers_are_distinct() {
        for (i, c) in Collection::ALL.iter().enumerate() {
            assert_eq!(c.number() as usize, i);
            assert_eq!(Collection::from_name(c.name()), Some(*c));
        }
    }
}
