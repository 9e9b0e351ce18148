//! plans, organizations, users, teams, memberships, invitations, api_keys.

use migrator::bson::{doc, spec::BinarySubtype, Binary, Bson, Document};
use rand::Rng;

use super::{date, money, put_opt, Cx, DAY};
use crate::generator::collection::Collection::*;
use crate::generator::population::Population;
use crate::generator::text;

/// One plan of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct PlanSpec {
    pub code: &'static str,
    pub name: &'static str,
    pub tier: &'static str,
    pub monthly_cents: i64,
    pub annual_cents: Option<i64>,
    pub seat_limit: Option<i32>,
}

const fn plan_spec(
    code: &'static str,
    name: &'static str,
    tier: &'static str,
    monthly_cents: i64,
    annual_cents: Option<i64>,
    seat_limit: Option<i32>,
) -> PlanSpec {
    PlanSpec {
        code,
        name,
        tier,
        monthly_cents,
        annual_cents,
        seat_limit,
    }
}

/// The plan catalogue.
pub const PLANS: [PlanSpec; 8] = [
    plan_spec("free", "Free", "free", 0, None, Some(5)),
    plan_spec("starter-monthly", "Starter", "starter", 900, None, Some(15)),
    plan_spec(
        "starter-annual",
        "Starter (annual)",
        "starter",
        750,
        Some(9_000),
        Some(15),
    ),
    plan_spec("team-monthly", "Team", "business", 1_900, None, Some(100)),
    plan_spec(
        "team-annual",
        "Team (annual)",
        "business",
        1_600,
        Some(19_200),
        Some(100),
    ),
    plan_spec(
        "business-monthly",
        "Business",
        "business",
        3_900,
        None,
        None,
    ),
    plan_spec(
        "business-annual",
        "Business (annual)",
        "business",
        3_300,
        Some(39_600),
        None,
    ),
    plan_spec(
        "enterprise",
        "Enterprise",
        "enterprise",
        9_900,
        Some(118_800),
        None,
    ),
];

const FEATURES: &[&str] = &[
    "tasks",
    "boards",
    "sprints",
    "time_tracking",
    "wiki",
    "integrations",
    "sso",
    "audit_log",
    "custom_fields",
    "api",
    "priority_support",
];

/// The code of plan #`index`.
pub fn plan_code(index: u64) -> &'static str {
    PLANS[(index as usize) % PLANS.len()].code
}

/// An organization's name and slug, known to every document that needs them.
pub fn org_identity(pop: &Population, org: u64) -> (String, String) {
    let h = pop.hash(Organizations, org, 1);
    let w = text::COMPANY_WORDS;
    let s = text::COMPANY_SUFFIXES;
    let name = format!(
        "{} {}",
        w[(h % w.len() as u64) as usize],
        s[((h >> 16) % s.len() as u64) as usize]
    );
    let slug = format!("{}-{org}", text::slug(&name));
    (name, slug)
}

/// A user's first name, last name and (unique) email.
pub fn user_identity(pop: &Population, user: u64) -> (&'static str, &'static str, String) {
    let h = pop.hash(Users, user, 2);
    let first = text::FIRST_NAMES[(h % text::FIRST_NAMES.len() as u64) as usize];
    let last = text::LAST_NAMES[((h >> 20) % text::LAST_NAMES.len() as u64) as usize];
    let (_, slug) = org_identity(pop, pop.org_of(Users, user));
    let email = format!(
        "{}.{}{user}@{slug}.example.com",
        first.to_ascii_lowercase(),
        last.to_ascii_lowercase()
    );
    (first, last, email)
}

fn binary(rng: &mut impl Rng, len: usize, subtype: BinarySubtype) -> Bson {
    let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
    Bson::Binary(Binary { subtype, bytes })
}

/// A random (version 4) UUID as binData subtype 4.
fn uuid_v4(rng: &mut impl Rng) -> Bson {
    let mut bytes: [u8; 16] = rng.random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Bson::Binary(Binary {
        subtype: BinarySubtype::Uuid,
        bytes: bytes.to_vec(),
    })
}

pub fn plan(cx: &mut Cx<'_>) -> Document {
    let plan = PLANS[(cx.index as usize) % PLANS.len()];
    let created = cx.created_millis();
    let n_features = 2 + cx.index as usize;
    let features: Vec<&str> = FEATURES.iter().take(n_features).copied().collect();
    let mut d = doc! {
        "_id": cx.id(),
        "code": plan.code,
        "name": plan.name,
        "tier": plan.tier,
        "monthlyPrice": money(plan.monthly_cents),
    };
    put_opt(
        &mut d,
        "annualPrice",
        plan.annual_cents.map(|a| money(a).into()),
        false,
    );
    d.insert("currency", "USD");
    put_opt(&mut d, "seatLimit", plan.seat_limit.map(Bson::Int32), false);
    d.insert("features", features);
    d.insert(
        "limits",
        doc! { "projects": (cx.index as i32 + 1) * 10, "storageGb": (cx.index as i64 + 1) * 50 },
    );
    d.insert("active", cx.index != 2);
    d.insert("createdAt", date(created));
    d
}

pub fn organization(cx: &mut Cx<'_>) -> Document {
    let o = cx.index;
    let (name, slug) = org_identity(cx.pop, o);
    let created = cx.created_millis();
    let plan = plan_code(cx.rng.random_range(0..PLANS.len() as u64));
    let owner = cx.pop.owner_of_org(o);
    let mut domains = vec![format!("{slug}.example.com")];
    if cx.chance(0.2) {
        domains.push(format!("{slug}.example.org"));
    }
    let priority = cx.chance(0.5).then(|| "medium".to_string());
    let mut d = doc! {
        "_id": cx.id(),
        "name": name,
        "slug": &slug,
        "planCode": plan,
        "ownerId": cx.reference(Users, owner),
        "billingEmail": format!("billing@{slug}.example.com"),
        "domains": domains,
        "settings": {
            "timezone": cx.choose(text::TIMEZONES),
            "weekStartsOn": if cx.chance(0.7) { "monday" } else { "sunday" },
            "ssoEnforced": cx.chance(0.1),
            "defaultTaskPriority": priority,
        },
        "createdAt": date(created),
    };
    let deleted = cx.chance(0.01).then(|| date(created + 400 * DAY));
    put_opt(&mut d, "deletedAt", deleted, true);
    // Drawn last, so the fields above keep the values they had before offices existed.
    if let Some(office) = headquarters(cx) {
        d.insert("headquarters", office);
    }
    d
}

/// Cities an office can be in: name, country, longitude and latitude.
const CITIES: &[(&str, &str, f64, f64)] = &[
    ("Lisbon", "PT", -9.1393, 38.7223),
    ("Berlin", "DE", 13.405, 52.52),
    ("Toronto", "CA", -79.3832, 43.6532),
    ("Nairobi", "KE", 36.8219, -1.2921),
    ("Singapore", "SG", 103.8198, 1.3521),
    ("Austin", "US", -97.7431, 30.2672),
    ("Sao Paulo", "BR", -46.6333, -23.5505),
    ("Melbourne", "AU", 144.9631, -37.8136),
];

const STREETS: &[&str] = &[
    "Market St",
    "Harbour Rd",
    "King St",
    "Station Sq",
    "Mill Lane",
];

/// An organization's head office (85% have one): its address and a GeoJSON point, a few
/// hundred metres around the city's centre; a few have no postal code.
fn headquarters(cx: &mut Cx<'_>) -> Option<Document> {
    if !cx.chance(0.85) {
        return None;
    }
    let (city, country, lng, lat) = CITIES[cx.rng.random_range(0..CITIES.len())];
    let street = format!("{} {}", cx.between(1, 400), cx.choose(STREETS));
    // Rounded to 6 decimals (about 10 cm), as GeoJSON exports usually are.
    let jitter = |cx: &mut Cx<'_>| cx.between(-5000, 5000) as f64 / 1_000_000.0;
    let position = [
        ((lng + jitter(cx)) * 1e6).round() / 1e6,
        ((lat + jitter(cx)) * 1e6).round() / 1e6,
    ];
    let mut office = doc! { "street": street, "city": city };
    if cx.chance(0.9) {
        office.insert("postalCode", format!("{:05}", cx.between(1000, 99999)));
    }
    office.insert("country", country);
    office.insert(
        "location",
        doc! { "type": "Point", "coordinates": position.to_vec() },
    );
    Some(office)
}

pub fn user(cx: &mut Cx<'_>) -> Document {
    let u = cx.index;
    let org = cx.pop.org_of(Users, u);
    let (first, last, email) = user_identity(cx.pop, u);
    let created = cx.created_millis();
    let members = cx.pop.users_of_org(org);
    let manager = (u > members.start && cx.chance(0.7))
        .then(|| cx.pop.pick(Users, members.start..u, &mut cx.rng));
    let mut d = doc! {
        "_id": cx.id(),
        "organizationId": cx.reference(Organizations, org),
        "email": email,
        "name": format!("{first} {last}"),
    };
    let title = cx
        .chance(0.6)
        .then(|| Bson::String(text::choose(&mut cx.rng, TITLES).to_string()));
    put_opt(&mut d, "title", title, cx.legacy());
    let manager = manager.map(|m| cx.reference(Users, m));
    put_opt(&mut d, "managerId", manager, cx.legacy());
    d.insert("timezone", cx.choose(text::TIMEZONES));
    if !cx.legacy() {
        d.insert("locale", cx.choose(text::LOCALES));
        let n = cx.between(0, 4) as usize;
        let skills: Vec<&str> = (0..n).map(|_| cx.choose(text::SKILLS)).collect();
        d.insert("skills", skills);
    }
    d.insert("active", cx.chance(0.93));
    if cx.chance(0.3) {
        let bio = text::sentence(&mut cx.rng, 4, 12);
        d.insert("profile", doc! { "bio": bio, "pronouns": null, "links": [format!("https://{first}.example.net").to_lowercase()] });
    }
    if cx.chance(0.2) {
        let len = cx.between(16, 96) as usize;
        d.insert("avatar", binary(&mut cx.rng, len, BinarySubtype::Generic));
    }
    if cx.chance(0.8) {
        let login = created + cx.between(1, 900) * DAY;
        d.insert("lastLoginAt", date(login));
    }
    let created_value = cx.date_or_text(created);
    d.insert("createdAt", created_value);
    let deleted = cx.chance(0.03).then(|| date(created + 200 * DAY));
    put_opt(&mut d, "deletedAt", deleted, true);
    d
}

const TITLES: &[&str] = &[
    "Engineer",
    "Senior Engineer",
    "Designer",
    "Product Manager",
    "Engineering Manager",
    "QA Lead",
    "Support Specialist",
    "Data Analyst",
    "CTO",
    "Account Executive",
];

const TEAM_NAMES: &[&str] = &[
    "Platform",
    "Mobile",
    "Web",
    "Growth",
    "Billing",
    "Infrastructure",
    "Design",
    "Data",
    "Support",
    "Security",
    "Onboarding",
    "Search",
];

pub fn team(cx: &mut Cx<'_>) -> Document {
    let org = cx.pop.org_of(Teams, cx.index);
    let users = cx.pop.users_of_org(org);
    let created_by = cx.pop.pick(Users, users.clone(), &mut cx.rng);
    let k = cx.between(1, 7) as usize;
    let mut members = vec![created_by];
    for m in cx.pop.pick_distinct(Users, users.clone(), k, &mut cx.rng) {
        if !members.contains(&m) {
            members.push(m);
        }
    }
    let lead = cx.chance(0.8).then(|| members[0]);
    let created = cx.created_millis();
    let mut d = doc! {
        "_id": cx.id(),
        "organizationId": cx.reference(Organizations, org),
        "name": format!("{} {}", cx.choose(TEAM_NAMES), cx.index),
    };
    let description = cx
        .chance(0.5)
        .then(|| text::sentence(&mut cx.rng, 4, 10).into());
    put_opt(&mut d, "description", description, false);
    d.insert("createdBy", cx.reference(Users, created_by));
    put_opt(&mut d, "leadId", lead.map(|l| cx.reference(Users, l)), true);
    d.insert("memberIds", cx.junction("team_members", Users, &members));
    d.insert("createdAt", date(created));
    d
}

const PERMISSIONS: &[&str] = &[
    "projects:read",
    "projects:write",
    "tasks:write",
    "billing:read",
    "billing:write",
    "members:invite",
    "settings:write",
];

pub fn membership(cx: &mut Cx<'_>) -> Document {
    let n_users = cx.pop.count(Users);
    let (user, org, role) = if cx.index < n_users {
        let user = cx.pop.avoid(Users, cx.index);
        let org = cx.pop.org_of(Users, user);
        let role = if cx.pop.owner_of_org(org) == user {
            "owner"
        } else if cx.chance(0.1) {
            "admin"
        } else {
            "member"
        };
        (user, org, role)
    } else {
        let user = cx.pop.pick(Users, 0..0, &mut cx.rng);
        let org = cx.rng.random_range(0..cx.pop.count(Organizations));
        (user, org, "guest")
    };
    let created = cx.created_millis();
    let inviter = cx.chance(0.6).then(|| {
        let users = cx.pop.users_of_org(org);
        cx.pop.pick(Users, users, &mut cx.rng)
    });
    let n = cx.between(0, 3) as usize;
    let permissions: Vec<&str> = (0..n).map(|_| cx.choose(PERMISSIONS)).collect();
    let mut d = doc! {
        "_id": cx.id(),
        "organizationId": cx.reference(Organizations, org),
        "userId": cx.reference(Users, user),
        "role": role,
    };
    put_opt(
        &mut d,
        "invitedBy",
        inviter.map(|i| cx.reference(Users, i)),
        false,
    );
    if !permissions.is_empty() {
        d.insert("permissions", permissions);
    }
    d.insert("joinedAt", date(created));
    d
}

pub fn invitation(cx: &mut Cx<'_>) -> Document {
    let org = cx.pop.org_of(Invitations, cx.index);
    let users = cx.pop.users_of_org(org);
    let inviter = cx.pop.pick(Users, users, &mut cx.rng);
    let created = cx.created_millis();
    let status = text::choose(
        &mut cx.rng,
        &["pending", "accepted", "accepted", "expired", "revoked"],
    );
    let k = cx.between(0, 2) as usize;
    let teams = cx.pop.of_org(org, Teams);
    let team_ids = if teams.is_empty() {
        Vec::new()
    } else {
        cx.pop.pick_distinct(Teams, teams, k, &mut cx.rng)
    };
    let first = cx.choose(text::FIRST_NAMES).to_ascii_lowercase();
    let mut d = doc! {
        "_id": cx.id(),
        "organizationId": cx.reference(Organizations, org),
        "email": format!("{first}.{}@mail.example.net", cx.index),
        "invitedBy": cx.reference(Users, inviter),
        "role": if cx.chance(0.2) { "guest" } else { "member" },
        "status": status,
    };
    if !team_ids.is_empty() || !cx.legacy() {
        d.insert("teamIds", cx.junction("invitation_teams", Teams, &team_ids));
    }
    d.insert("token", text::hex(&mut cx.rng, 32));
    d.insert("expiresAt", date(created + 7 * DAY));
    let accepted = (status == "accepted").then(|| date(created + cx.between(1, 6) * DAY));
    put_opt(&mut d, "acceptedAt", accepted, false);
    d.insert("createdAt", date(created));
    d
}

const SCOPES: &[&str] = &[
    "read:projects",
    "write:projects",
    "read:tasks",
    "write:tasks",
    "read:billing",
    "admin",
];

pub fn api_key(cx: &mut Cx<'_>) -> Document {
    let org = cx.pop.org_of(ApiKeys, cx.index);
    let users = cx.pop.users_of_org(org);
    let user = cx.pop.pick(Users, users, &mut cx.rng);
    let created = cx.created_millis();
    let n = cx.between(1, 3) as usize;
    let mut scopes: Vec<&str> = (0..n).map(|_| cx.choose(SCOPES)).collect();
    scopes.sort_unstable();
    scopes.dedup();
    let mut d = doc! {
        "_id": cx.id(),
        "organizationId": cx.reference(Organizations, org),
        "userId": cx.reference(Users, user),
        "name": format!("{} key", cx.choose(&["CI", "Zapier", "Reporting", "Backup", "CLI"])),
        "prefix": format!("mk_{:x}_{}", cx.index, text::hex(&mut cx.rng, 4)),
        "keyHash": binary(&mut cx.rng, 32, BinarySubtype::Generic),
        "keyId": uuid_v4(&mut cx.rng),
        "scopes": scopes,
    };
    let used = cx
        .chance(0.7)
        .then(|| date(created + cx.between(1, 300) * DAY));
    put_opt(&mut d, "lastUsedAt", used, false);
    let expires = cx.chance(0.4).then(|| date(created + 365 * DAY));
    put_opt(&mut d, "expiresAt", expires, false);
    let revoked = cx.chance(0.1).then(|| date(created + 30 * DAY));
    put_opt(&mut d, "revokedAt", revoked, false);
    d.insert("createdAt", date(created));
    if cx.legacy() {
        d.insert("legacySecret", text::hex(&mut cx.rng, 40));
    }
    d
}
