//! The naming rules of `rename_all`, with serde's meaning of each name.

/// A naming rule for document keys or enum labels, with serde's meaning of each name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenameRule {
    Lower,
    Upper,
    Pascal,
    Camel,
    Snake,
    ScreamingSnake,
    Kebab,
    ScreamingKebab,
}

impl RenameRule {
    pub const NAMES: &'static [&'static str] = &[
        "lowercase",
        "UPPERCASE",
        "PascalCase",
        "camelCase",
        "snake_case",
        "SCREAMING_SNAKE_CASE",
        "kebab-case",
        "SCREAMING-KEBAB-CASE",
    ];

    pub fn from_name(name: &str) -> Option<RenameRule> {
        Some(match name {
            "lowercase" => RenameRule::Lower,
            "UPPERCASE" => RenameRule::Upper,
            "PascalCase" => RenameRule::Pascal,
            "camelCase" => RenameRule::Camel,
            "snake_case" => RenameRule::Snake,
            "SCREAMING_SNAKE_CASE" => RenameRule::ScreamingSnake,
            "kebab-case" => RenameRule::Kebab,
            "SCREAMING-KEBAB-CASE" => RenameRule::ScreamingKebab,
            _ => return None,
        })
    }

    /// Applies the rule to a snake_case field name.
    pub fn apply_to_field(self, field: &str) -> String {
        match self {
            RenameRule::Lower | RenameRule::Snake => field.to_string(),
            RenameRule::Upper | RenameRule::ScreamingSnake => field.to_ascii_uppercase(),
            RenameRule::Kebab => field.replace('_', "-"),
            RenameRule::ScreamingKebab => field.to_ascii_uppercase().replace('_', "-"),
            RenameRule::Pascal | RenameRule::Camel => {
                let mut out = String::with_capacity(field.len());
                let mut upper = self == RenameRule::Pascal;
                for c in field.chars() {
                    if c == '_' {
                        upper = true;
                    } else if upper {
                        out.extend(c.to_uppercase());
                        upper = false;
                    } else {
                        out.push(c);
                    }
                }
                out
            }
        }
    }

    /// Applies the rule to a PascalCase variant name.
    pub fn apply_to_variant(self, variant: &str) -> String {
        match self {
            RenameRule::Pascal => variant.to_string(),
            RenameRule::Lower => variant.to_ascii_lowercase(),
            RenameRule::Upper => variant.to_ascii_uppercase(),
            RenameRule::Camel => {
                let mut chars = variant.chars();
                match chars.next() {
                    Some(first) => first.to_lowercase().chain(chars).collect(),
                    None => String::new(),
                }
            }
            RenameRule::Snake
            | RenameRule::ScreamingSnake
            | RenameRule::Kebab
            | RenameRule::ScreamingKebab => {
                let mut snake = String::with_capacity(variant.len() + 4);
                for (i, c) in variant.char_indices() {
                    if c.is_uppercase() && i > 0 {
                        snake.push('_');
                    }
                    snake.extend(c.to_lowercase());
                }
                match self {
                    RenameRule::Snake => snake,
                    RenameRule::ScreamingSnake => snake.to_ascii_uppercase(),
                    RenameRule::Kebab => snake.replace('_', "-"),
                    _ => snake.to_ascii_uppercase().replace('_', "-"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RenameRule::{self, *};

    #[test]
    fn field_rules_follow_serde() {
        let cases: &[(RenameRule, &str)] = &[
            (Lower, "order_items"),
            (Upper, "ORDER_ITEMS"),
            (Pascal, "OrderItems"),
            (Camel, "orderItems"),
            (Snake, "order_items"),
            (ScreamingSnake, "ORDER_ITEMS"),
            (Kebab, "order-items"),
            (ScreamingKebab, "ORDER-ITEMS"),
        ];
        for (rule, expected) in cases {
            assert_eq!(rule.apply_to_field("order_items"), *expected, "{rule:?}");
        }
    }

    #[test]
    fn variant_rules_follow_serde() {
        let cases: &[(RenameRule, &str)] = &[
            (Lower, "superadmin"),
            (Upper, "SUPERADMIN"),
            (Pascal, "SuperAdmin"),
            (Camel, "superAdmin"),
            (Snake, "super_admin"),
            (ScreamingSnake, "SUPER_ADMIN"),
            (Kebab, "super-admin"),
            (ScreamingKebab, "SUPER-ADMIN"),
        ];
        for (rule, expected) in cases {
            assert_eq!(rule.apply_to_variant("SuperAdmin"), *expected, "{rule:?}");
        }
    }
}
