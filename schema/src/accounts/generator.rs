//! Generates the user directory as a mongodump directory with a manifest (no faults: every
//! document loads), deterministically from a seed and the number of users.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use migrator::bson::{doc, oid::ObjectId, Bson, DateTime, Document, RawDocumentBuf};
use rand::Rng;

use crate::generator::documents::money;
use crate::generator::dump::MANIFEST_FILE;
use crate::generator::manifest::{CollectionCounts, Manifest, FORMAT};
use crate::generator::rng::Streams;
use crate::generator::text;

/// Organizations and roles, whatever the number of users.
pub const ORGS: u64 = 1_000;
pub const ROLES: u64 = 50;
/// Users at size 1 (the manifest's `scale` is users / this).
pub const USERS_AT_SCALE_1: u64 = 300_000;
/// 2023-01-01T00:00:00Z: the first sign-up; the last is three years later.
const START_SECONDS: u32 = 1_672_531_200;
const SPAN_SECONDS: u64 = 3 * 365 * 86_400;

const PERMISSIONS: &[&str] = &[
    "read", "write", "delete", "invite", "billing", "admin", "export", "audit",
];
const CITIES: &[&str] = &[
    "Lisbon", "Osaka", "Lagos", "Lima", "Oslo", "Pune", "Austin", "Lyon", "Leeds", "Perth",
];
const COUNTRIES: &[&str] = &["PT", "JP", "NG", "PE", "NO", "IN", "US", "FR", "GB", "AU"];

/// The `_id` of document `index` of collection `tag`, created at `seconds`: the timestamp,
/// then the collection's tag where a process value goes, then the index as the counter.
fn id(seconds: u32, tag: u8, index: u64) -> ObjectId {
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&seconds.to_be_bytes());
    bytes[4] = tag;
    bytes[5..].copy_from_slice(&index.to_be_bytes()[1..]);
    ObjectId::from_bytes(bytes)
}

/// When the users signed up, which sets their `_id`s' timestamps: a planner that cuts the
/// `_id`s evenly by time finds its ranges even, empty or skewed depending on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Timeline {
    /// Evenly over three years.
    #[default]
    Even,
    /// All within [`BURST_SECONDS`] seconds (an import): cut by time, the users of each second
    /// fall in one range and the ranges between the seconds hold nobody.
    Burst,
    /// In [`GAP_BURSTS`] bursts of an hour each, a year apart: the spans between hold nobody.
    Gaps,
    /// A tenth evenly over three years, the other nine tenths in the last [`TAIL_DAYS`] days:
    /// cut by time, the last range holds most and the others a few hundredths each.
    Tail,
}

/// How long a [`Timeline::Burst`] lasts.
pub const BURST_SECONDS: u64 = 5;
/// Bursts of [`Timeline::Gaps`].
pub const GAP_BURSTS: u64 = 4;
/// The days of [`Timeline::Tail`] that most users signed up in.
pub const TAIL_DAYS: u64 = 30;

impl Timeline {
    /// Its name in the benchmark's options and file names.
    pub fn name(self) -> &'static str {
        match self {
            Timeline::Even => "even",
            Timeline::Burst => "burst",
            Timeline::Gaps => "gaps",
            Timeline::Tail => "tail",
        }
    }

    /// The timeline of this name.
    pub fn named(name: &str) -> Option<Timeline> {
        [
            Timeline::Even,
            Timeline::Burst,
            Timeline::Gaps,
            Timeline::Tail,
        ]
        .into_iter()
        .find(|t| t.name() == name)
    }

    /// Seconds after the first sign-up that user `i` of `n` signed up at: never decreasing
    /// with `i`, so the users are generated in `_id` order.
    fn offset(self, i: u64, n: u64) -> u64 {
        let n = n.max(1);
        match self {
            Timeline::Even => SPAN_SECONDS * i / n,
            Timeline::Burst => BURST_SECONDS * i / n,
            Timeline::Gaps => {
                let burst = (i * GAP_BURSTS / n).min(GAP_BURSTS - 1);
                let first = (burst * n).div_ceil(GAP_BURSTS);
                let size = ((burst + 1) * n).div_ceil(GAP_BURSTS) - first;
                let year = SPAN_SECONDS / (GAP_BURSTS - 1);
                burst * year + 3600 * (i - first) / size.max(1)
            }
            Timeline::Tail => {
                let early = n / 10;
                let tail = TAIL_DAYS * 86_400;
                if i < early {
                    (SPAN_SECONDS - tail) * i / early
                } else {
                    SPAN_SECONDS - tail + tail * (i - early) / (n - early).max(1)
                }
            }
        }
    }
}

/// The user directory for `users` users.
#[derive(Debug, Clone)]
pub struct Accounts {
    pub seed: u64,
    pub users: u64,
    pub timeline: Timeline,
}

impl Accounts {
    /// Users signed up evenly over three years.
    pub fn new(seed: u64, users: u64) -> Accounts {
        Accounts {
            seed,
            users,
            timeline: Timeline::Even,
        }
    }

    /// The same users signed up along `timeline` (the rest of each document unchanged).
    pub fn with_timeline(self, timeline: Timeline) -> Accounts {
        Accounts { timeline, ..self }
    }

    fn role_id(&self, i: u64) -> ObjectId {
        id(START_SECONDS, 1, i)
    }

    fn org_id(&self, i: u64) -> ObjectId {
        id(START_SECONDS + 60, 2, i)
    }

    /// Sign-up second of user `i`, along the timeline, in `_id` order.
    fn signed_up(&self, i: u64) -> u32 {
        let offset = self.timeline.offset(i, self.users);
        START_SECONDS + 3600 + u32::try_from(offset).unwrap_or(u32::MAX)
    }

    pub fn role(&self, i: u64) -> Document {
        let mut rng = Streams::new(self.seed, 1).stream(i);
        let n = rng.random_range(1..=4);
        let permissions: Vec<Bson> = (0..n)
            .map(|k| Bson::String(PERMISSIONS[(i as usize + k * 3) % PERMISSIONS.len()].into()))
            .collect();
        doc! {
            "_id": self.role_id(i),
            "name": format!("role-{i:02}"),
            "permissions": permissions,
        }
    }

    pub fn org(&self, i: u64) -> Document {
        let mut rng = Streams::new(self.seed, 2).stream(i);
        let name = format!(
            "{} {}",
            text::choose(&mut rng, text::COMPANY_WORDS),
            text::choose(&mut rng, text::COMPANY_SUFFIXES)
        );
        doc! {
            "_id": self.org_id(i),
            "name": &name,
            "slug": format!("{}-{i}", text::slug(&name)),
            "createdAt": DateTime::from_millis(i64::from(START_SECONDS + 60) * 1000),
        }
    }

    /// User `i` and how many roles it has.
    pub fn user(&self, i: u64) -> (Document, u64) {
        let mut rng = Streams::new(self.seed, 3).stream(i);
        let seconds = self.signed_up(i);
        let first = text::choose(&mut rng, text::FIRST_NAMES);
        let last = text::choose(&mut rng, text::LAST_NAMES);
        let roles: u64 = rng.random_range(0..=4);
        let start = rng.random_range(0..ROLES);
        // Distinct roles: consecutive numbers from a random start.
        let role_ids: Vec<Bson> = (0..roles)
            .map(|k| Bson::ObjectId(self.role_id((start + k) % ROLES)))
            .collect();
        let place = rng.random_range(0..CITIES.len());
        let bio = if rng.random_bool(0.6) {
            Bson::String(text::sentence(&mut rng, 6, 16))
        } else {
            Bson::Null
        };
        let interests: Vec<Bson> = (0..rng.random_range(0..4))
            .map(|_| Bson::String(text::choose(&mut rng, text::SKILLS).to_string()))
            .collect();
        let created = DateTime::from_millis(i64::from(seconds) * 1000);
        let last_login = if rng.random_bool(0.8) {
            let later = rng.random_range(0..90 * 86_400_000_i64);
            Bson::DateTime(DateTime::from_millis(created.timestamp_millis() + later))
        } else {
            Bson::Null
        };
        let user = doc! {
            "_id": id(seconds, 3, i),
            "orgId": self.org_id(rng.random_range(0..ORGS)),
            "email": format!("{}.{}.{i}@example.com", first.to_lowercase(), last.to_lowercase()),
            "name": format!("{first} {last}"),
            "balance": money(rng.random_range(-50_000..5_000_000)),
            "profile": {
                "displayName": format!("{first}{}", rng.random_range(1..1000)),
                "bio": bio,
                "locale": text::choose(&mut rng, text::LOCALES),
                "address": {
                    "street": format!("{} {} Street", rng.random_range(1..400), text::choose(&mut rng, text::LAST_NAMES)),
                    "city": CITIES[place],
                    "postalCode": format!("{:05}", rng.random_range(0..100_000)),
                    "country": COUNTRIES[place],
                },
                "interests": interests,
            },
            "roleIds": role_ids,
            "active": rng.random_bool(0.9),
            "createdAt": created,
            "lastLoginAt": last_login,
        };
        (user, roles)
    }

    /// Writes `roles.bson`, `orgs.bson`, `users.bson` and the manifest into `dir`.
    pub fn write_dump(&self, dir: &Path) -> std::io::Result<Manifest> {
        std::fs::create_dir_all(dir)?;
        let mut collections = BTreeMap::new();
        let mut tables = BTreeMap::new();
        let mut junction = 0;
        let mut write = |name: &str, n: u64, make: &mut dyn FnMut(u64) -> Document| {
            let mut out = BufWriter::new(File::create(dir.join(format!("{name}.bson")))?);
            let mut bytes = 0;
            for i in 0..n {
                let encoded = RawDocumentBuf::try_from(&make(i)).map_err(std::io::Error::other)?;
                bytes += encoded.as_bytes().len() as u64;
                out.write_all(encoded.as_bytes())?;
            }
            out.flush()?;
            collections.insert(
                name.to_string(),
                CollectionCounts {
                    documents: n,
                    bytes,
                    ..CollectionCounts::default()
                },
            );
            std::io::Result::Ok(())
        };
        write("roles", ROLES, &mut |i| self.role(i))?;
        write("orgs", ORGS, &mut |i| self.org(i))?;
        write("users", self.users, &mut |i| {
            let (user, roles) = self.user(i);
            junction += roles;
            user
        })?;
        tables.insert("roles".to_string(), ROLES);
        tables.insert("orgs".to_string(), ORGS);
        tables.insert("users".to_string(), self.users);
        tables.insert("user_roles".to_string(), junction);
        let manifest = Manifest {
            format: FORMAT,
            seed: self.seed,
            scale: self.users as f64 / USERS_AT_SCALE_1 as f64,
            documents: ROLES + ORGS + self.users,
            bytes: collections.values().map(|c| c.bytes).sum(),
            collections,
            tables,
            kept_references: BTreeMap::new(),
            faults: Vec::new(),
        };
        let text = serde_json::to_string_pretty(&manifest).map_err(std::io::Error::other)?;
        std::fs::write(dir.join(MANIFEST_FILE), text)?;
        Ok(manifest)
    }
}
