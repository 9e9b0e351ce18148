//! Table and column names: the default rule (snake_case, as `migrator::naming`) or Prisma's
//! (`naming = "prisma"`), and Prisma's implicit many-to-many junctions (`implicit`).

use heck::ToSnakeCase;
use proc_macro2::Span;

use crate::attr::{Attrs, RenameRule};
use crate::ctxt::Ctxt;
use crate::symbol;

/// How a struct's table and columns are named when `table`/`column` do not name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// `orders`, `customer_id`: snake_case of the collection and of the field names.
    Snake,
    /// Prisma's defaults: the table is the model's name as written (`Order`, quoted), the
    /// columns the field names in camelCase (`customerId`); the id column is `id`.
    Prisma,
}

impl Naming {
    pub fn of(attrs: &Attrs) -> Naming {
        match attrs.string(symbol::NAMING) {
            Some(s) if s.value == "prisma" => Naming::Prisma,
            _ => Naming::Snake,
        }
    }

    /// The table of a collection struct named `ident` reading `collection`.
    pub fn table(self, ident: &str, collection: &str) -> String {
        match self {
            Naming::Snake => crate::model::pg_name(collection),
            Naming::Prisma => ident.to_string(),
        }
    }

    /// The column of field `field` (its Rust name).
    pub fn column(self, field: &str) -> String {
        match self {
            Naming::Snake => crate::model::pg_name(field),
            Naming::Prisma => RenameRule::Camel.apply_to_field(&field.to_snake_case()),
        }
    }
}

/// Prisma's implicit many-to-many table between models `owner` and `target` (Rust names, which
/// are the Prisma model names): `_{first}To{second}` in name order, column `A` holding the
/// first model's key and `B` the second's. Returns (table, owner column, target column).
pub fn implicit_junction(owner: &str, target: &str) -> (String, String, String) {
    if owner <= target {
        (format!("_{owner}To{target}"), "A".into(), "B".into())
    } else {
        (format!("_{target}To{owner}"), "B".into(), "A".into())
    }
}

/// `implicit` fixes the table and its columns: keys that name them are errors.
pub fn check_implicit(cx: &Ctxt, attrs: &Attrs) {
    if !attrs.has(symbol::IMPLICIT) {
        return;
    }
    if attrs.string(symbol::JUNCTION).is_some() {
        error(
            cx,
            attrs.span(symbol::JUNCTION),
            "a table name (`junction = \"...\"`)",
        );
    }
    for key in [
        symbol::OWNER_COLUMN,
        symbol::TARGET_COLUMN,
        symbol::POSITION,
        symbol::KEY,
    ] {
        error(cx, attrs.span(key), &format!("`{key}`"));
    }
}

fn error(cx: &Ctxt, span: Option<Span>, what: &str) {
    if let Some(span) = span {
        cx.error_at(
            span,
            format!(
                "`implicit` names the junction as Prisma does (`_AToB`, columns `A` and `B` \
                 holding the primary keys); it cannot be combined with {what}"
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prisma_names() {
        assert_eq!(
            Naming::Prisma.table("OrderItem", "order_items"),
            "OrderItem"
        );
        assert_eq!(
            Naming::Snake.table("OrderItem", "orderItems"),
            "order_items"
        );
        for (field, column) in [
            ("organization_id", "organizationId"),
            ("created_at", "createdAt"),
            ("name", "name"),
        ] {
            assert_eq!(Naming::Prisma.column(field), column, "{field}");
        }
        assert_eq!(
            implicit_junction("Task", "Label"),
            ("_LabelToTask".into(), "B".into(), "A".into())
        );
        assert_eq!(
            implicit_junction("Role", "User"),
            ("_RoleToUser".into(), "A".into(), "B".into())
        );
    }
}
