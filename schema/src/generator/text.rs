//! Plausible text: names, titles, sentences, slugs.

use rand::Rng;

pub const FIRST_NAMES: &[&str] = &[
    "Ada", "Alan", "Amara", "Ana", "Arjun", "Bea", "Ben", "Carla", "Chen", "Dana", "Diego", "Elif",
    "Emma", "Farah", "Felix", "Grace", "Hana", "Hugo", "Ines", "Ivan", "Jia", "Jonas", "Kai",
    "Kenji", "Lara", "Leo", "Lina", "Malik", "Maya", "Mei", "Nadia", "Noah", "Olga", "Omar",
    "Priya", "Quinn", "Rafael", "Rosa", "Sam", "Sara", "Sofia", "Tariq", "Tess", "Uma", "Victor",
    "Wen", "Yara", "Yusuf", "Zoe", "Zeynep",
];

pub const LAST_NAMES: &[&str] = &[
    "Adeyemi", "Alvarez", "Andersen", "Baker", "Bauer", "Costa", "Dubois", "Eriksson", "Fischer",
    "Garcia", "Haddad", "Hansen", "Ito", "Jensen", "Kaur", "Kim", "Kowalski", "Lambert", "Li",
    "Lopez", "Martin", "Meyer", "Moreau", "Nakamura", "Nguyen", "Novak", "Okafor", "Olsen",
    "Patel", "Petrov", "Rossi", "Sato", "Schmidt", "Silva", "Singh", "Smith", "Tanaka", "Torres",
    "Wagner", "Wang", "Weber", "Wilson", "Yilmaz", "Zhang",
];

pub const COMPANY_WORDS: &[&str] = &[
    "Acme", "Blue", "Bright", "Cedar", "Cloud", "Copper", "Delta", "Echo", "Falcon", "Granite",
    "Harbor", "Indigo", "Juniper", "Kite", "Lumen", "Maple", "Nimbus", "Nova", "Orbit", "Pine",
    "Quartz", "River", "Summit", "Tide", "Umbra", "Vertex", "Willow", "Zephyr",
];

pub const COMPANY_SUFFIXES: &[&str] = &[
    "Labs",
    "Systems",
    "Works",
    "Studio",
    "Analytics",
    "Health",
    "Logistics",
    "Media",
    "Capital",
    "Robotics",
];

const WORDS: &[&str] = &[
    "api",
    "login",
    "page",
    "search",
    "report",
    "export",
    "import",
    "billing",
    "invoice",
    "user",
    "team",
    "dashboard",
    "chart",
    "filter",
    "sort",
    "cache",
    "query",
    "index",
    "timeout",
    "retry",
    "mobile",
    "layout",
    "button",
    "modal",
    "form",
    "validation",
    "email",
    "webhook",
    "token",
    "session",
    "permission",
    "role",
    "audit",
    "log",
    "upload",
    "file",
    "preview",
    "thumbnail",
    "sync",
    "calendar",
    "reminder",
    "notification",
    "setting",
    "profile",
    "avatar",
    "theme",
    "dark",
    "mode",
    "locale",
    "translation",
    "release",
    "deploy",
    "build",
    "pipeline",
    "test",
    "flaky",
    "crash",
    "memory",
    "latency",
    "slow",
    "error",
    "fix",
    "improve",
    "refactor",
    "add",
    "remove",
    "update",
    "migrate",
    "support",
    "handle",
    "allow",
    "show",
    "hide",
    "the",
    "a",
    "when",
    "after",
    "before",
    "for",
    "with",
    "on",
    "in",
    "of",
    "to",
    "new",
    "old",
    "empty",
    "large",
    "missing",
    "broken",
    "duplicate",
    "wrong",
    "first",
    "last",
    "every",
];

pub const TASK_VERBS: &[&str] = &[
    "Fix",
    "Add",
    "Improve",
    "Refactor",
    "Investigate",
    "Remove",
    "Update",
    "Document",
    "Design",
    "Migrate",
    "Support",
    "Speed up",
];

pub const EMOJI: &[&str] = &["👍", "🎉", "❤️", "🚀", "👀", "😄", "✅", "🙏"];

pub const TIMEZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "Europe/Paris",
    "America/New_York",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Sydney",
];

pub const LOCALES: &[&str] = &[
    "en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "ja-JP", "pt-BR",
];

pub const COLORS: &[&str] = &[
    "#e11d48", "#f97316", "#eab308", "#22c55e", "#14b8a6", "#3b82f6", "#6366f1", "#a855f7",
    "#64748b",
];

pub const SKILLS: &[&str] = &[
    "rust",
    "typescript",
    "react",
    "postgres",
    "mongodb",
    "design",
    "ux",
    "kubernetes",
    "go",
    "python",
    "sales",
    "support",
    "finance",
    "marketing",
    "security",
];

/// One element of `items` (which must not be empty).
pub fn choose<'a, T: ?Sized>(rng: &mut impl Rng, items: &'a [&'a T]) -> &'a T {
    items[rng.random_range(0..items.len())]
}

/// `n` random words separated by spaces.
pub fn words(rng: &mut impl Rng, n: usize) -> String {
    let mut out = String::with_capacity(n * 7);
    for i in 0..n {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(choose(rng, WORDS));
    }
    out
}

/// A sentence of `min..=max` words, capitalized, ending with a period.
pub fn sentence(rng: &mut impl Rng, min: usize, max: usize) -> String {
    let n = rng.random_range(min..=max);
    let mut s = words(rng, n);
    if let Some(first) = s.get(..1) {
        let upper = first.to_ascii_uppercase();
        s.replace_range(..1, &upper);
    }
    s.push('.');
    s
}

/// A few sentences.
pub fn paragraph(rng: &mut impl Rng, sentences: usize) -> String {
    let mut out = String::new();
    for i in 0..sentences {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&sentence(rng, 5, 14));
    }
    out
}

/// A task title: `Fix slow search export`.
pub fn task_title(rng: &mut impl Rng) -> String {
    let n = rng.random_range(2..=5);
    format!("{} {}", choose(rng, TASK_VERBS), words(rng, n))
}

/// Lowercase ASCII letters, digits and dashes only.
pub fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// `len` hexadecimal digits.
pub fn hex(rng: &mut impl Rng, len: usize) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    (0..len)
        .map(|_| char::from(DIGITS[rng.random_range(0..16)]))
        .collect()
}

/// Text of exactly `len` bytes made of words (ASCII), for documents near the size limit.
pub fn filler(rng: &mut impl Rng, len: usize) -> String {
    let mut out = String::with_capacity(len + 16);
    while out.len() < len {
        out.push_str(&sentence(rng, 6, 16));
        out.push(if rng.random_bool(0.1) { '\n' } else { ' ' });
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn slugs_and_fillers_have_their_shape() {
        assert_eq!(slug("Cloud Nimbus Labs!"), "cloud-nimbus-labs");
        assert_eq!(slug("  a--b "), "a-b");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        assert_eq!(filler(&mut rng, 1000).len(), 1000);
        let s = sentence(&mut rng, 3, 3);
        assert!(s.ends_with('.') && s.chars().next().is_some_and(|c| c.is_ascii_uppercase()));
    }
}
