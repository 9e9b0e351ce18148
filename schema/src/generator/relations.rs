//! The example application's ownership tree on top of [`Population`]'s blocks: which
//! organization a user is in, which sprint a task is in, which tasks a project has.
//!
//! ```text
//! organizations ─┬─ users, teams, invitations, api_keys, labels, custom_fields,
//!                │  payment_methods, subscriptions ── invoices ── payments,
//!                │  audit_events, webhooks, integrations
//!                └─ projects ─┬─ milestones ── sprints ── tasks ─┬─ comments ── attachments
//!                             └─ documents, releases             └─ time_entries
//! users ── notifications
//! ```

use std::ops::Range;

use super::collection::Collection::{self, *};
use super::population::Population;

impl Population {
    /// The organization that owns document `index` of a collection directly under organizations.
    pub fn org_of(&self, c: Collection, index: u64) -> u64 {
        self.parent(c, index, Organizations)
    }

    /// The documents of `c` (directly under organizations) that organization `org` owns.
    pub fn of_org(&self, org: u64, c: Collection) -> Range<u64> {
        self.children_of(Organizations, org, c)
    }

    pub fn project_of_milestone(&self, milestone: u64) -> u64 {
        self.parent(Milestones, milestone, Projects)
    }

    pub fn milestone_of_sprint(&self, sprint: u64) -> u64 {
        self.parent(Sprints, sprint, Milestones)
    }

    pub fn project_of_sprint(&self, sprint: u64) -> u64 {
        self.project_of_milestone(self.milestone_of_sprint(sprint))
    }

    pub fn sprint_of_task(&self, task: u64) -> u64 {
        self.parent(Tasks, task, Sprints)
    }

    pub fn project_of_task(&self, task: u64) -> u64 {
        self.project_of_sprint(self.sprint_of_task(task))
    }

    pub fn org_of_project(&self, project: u64) -> u64 {
        self.org_of(Projects, project)
    }

    pub fn org_of_task(&self, task: u64) -> u64 {
        self.org_of_project(self.project_of_task(task))
    }

    pub fn task_of_comment(&self, comment: u64) -> u64 {
        self.parent(Comments, comment, Tasks)
    }

    /// The milestones of project `project`.
    pub fn milestones_of_project(&self, project: u64) -> Range<u64> {
        self.children_of(Projects, project, Milestones)
    }

    /// The sprints of project `project` (those of its milestones).
    pub fn sprints_of_project(&self, project: u64) -> Range<u64> {
        let milestones = self.milestones_of_project(project);
        self.children(Milestones, milestones, Sprints)
    }

    /// The tasks of project `project` (those of its sprints).
    pub fn tasks_of_project(&self, project: u64) -> Range<u64> {
        let sprints = self.sprints_of_project(project);
        self.children(Sprints, sprints, Tasks)
    }

    /// The comments of task `task`.
    pub fn comments_of_task(&self, task: u64) -> Range<u64> {
        self.children_of(Tasks, task, Comments)
    }

    /// The projects of organization `org`.
    pub fn projects_of_org(&self, org: u64) -> Range<u64> {
        self.of_org(org, Projects)
    }

    /// The users of organization `org`.
    pub fn users_of_org(&self, org: u64) -> Range<u64> {
        self.of_org(org, Users)
    }

    /// The organization's owner: its first user that is not broken.
    pub fn owner_of_org(&self, org: u64) -> u64 {
        let users = self.users_of_org(org);
        let first = users.clone().find(|&u| !self.is_broken(Users, u));
        first.unwrap_or_else(|| self.avoid(Users, users.start))
    }

    pub fn subscription_of_invoice(&self, invoice: u64) -> u64 {
        self.parent(Invoices, invoice, Subscriptions)
    }

    pub fn invoice_of_payment(&self, payment: u64) -> u64 {
        self.parent(Payments, payment, Invoices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tasks_project_owns_it() {
        let mut counts = [0u64; 26];
        for c in Collection::ALL {
            counts[usize::from(c.number())] = c.count_at(0.02);
        }
        let p = Population::new(1, counts);
        for task in 0..p.count(Tasks) {
            let project = p.project_of_task(task);
            assert!(p.tasks_of_project(project).contains(&task), "task {task}");
        }
        for org in 0..p.count(Organizations) {
            assert_eq!(p.org_of(Users, p.owner_of_org(org)), org);
        }
    }
}
