//! How each record type looks in the UI: its fields with labels and input kinds, its list
//! columns, and the conversions between stored values, form values and displayed text.
//!
//! The record screens are generic over these descriptions; the records themselves are
//! handled as JSON objects (their serialised form, the same as the API's), read and written
//! through the store's typed methods by [`get_map`], [`list_maps`], [`create_map`] and
//! [`update_map`].

use super::auth::FormData;
use serde_json::{Map, Value};
use skjold_domain::crm::{Activity, Company, EntityKind, Person, Sale};
use skjold_domain::{parse_json, Access, FieldErrors, Grant, Right};
use skjold_store::{ListQuery, Page, Sight, StoreError, TenantDb};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy)]
pub enum Input {
    Text,
    Email,
    Tel,
    Url,
    Textarea,
    /// A list of values, one per line (commas also separate e-mail addresses).
    Lines {
        emails: bool,
    },
    Choice(&'static [(&'static str, &'static str)]),
    /// The id of another record.
    Link(EntityKind),
    /// The id of a user.
    Owner,
    /// An RFC 3339 time, entered and shown in UTC.
    DateTime,
    Date,
    Check,
    Number,
    Amount,
    Currency,
}

#[derive(Debug)]
pub struct FieldSpec {
    pub name: &'static str,
    pub label: &'static str,
    pub input: Input,
    pub required: bool,
    pub hint: &'static str,
}

const fn field(name: &'static str, label: &'static str, input: Input) -> FieldSpec {
    FieldSpec {
        name,
        label,
        input,
        required: false,
        hint: "",
    }
}

const fn required(name: &'static str, label: &'static str, input: Input) -> FieldSpec {
    FieldSpec {
        name,
        label,
        input,
        required: true,
        hint: "",
    }
}

const fn hinted(
    name: &'static str,
    label: &'static str,
    input: Input,
    hint: &'static str,
) -> FieldSpec {
    FieldSpec {
        name,
        label,
        input,
        required: false,
        hint,
    }
}

pub struct EntitySpec {
    pub kind: EntityKind,
    /// Path segment: `/{tenant}/companies`.
    pub path: &'static str,
    /// "company"
    pub one: &'static str,
    /// "Company"
    pub one_title: &'static str,
    /// "Companies"
    pub plural: &'static str,
    /// "New company"
    pub new_label: &'static str,
    pub fields: &'static [FieldSpec],
    /// List columns: a field name, or `_title` (the record's name, linked) or `_when`.
    pub columns: &'static [(&'static str, &'static str)],
    /// Fields that make up the title, not repeated in the detail page's facts.
    pub title_fields: &'static [&'static str],
}

impl EntitySpec {
    pub fn field(&self, name: &str) -> Option<&'static FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }
}

pub const KINDS: &[(&str, &str)] = &[
    ("appointment", "Appointment"),
    ("task", "Task"),
    ("call", "Call"),
    ("note", "Note"),
];

pub const STAGES: &[(&str, &str)] = &[
    ("lead", "Lead"),
    ("qualified", "Qualified"),
    ("proposal", "Proposal"),
    ("negotiation", "Negotiation"),
    ("closing", "Closing"),
];

pub const STATUSES: &[(&str, &str)] = &[("open", "Open"), ("won", "Won"), ("lost", "Lost")];

static COMPANY: EntitySpec = EntitySpec {
    kind: EntityKind::Company,
    path: "companies",
    one: "company",
    one_title: "Company",
    plural: "Companies",
    new_label: "New company",
    fields: &[
        required("name", "Name", Input::Text),
        field("org_number", "Organisation number", Input::Text),
        field("category", "Category", Input::Text),
        field("phone", "Phone", Input::Tel),
        field("email", "E-mail", Input::Email),
        hinted(
            "website",
            "Website",
            Input::Url,
            "A full address, e.g. https://example.com",
        ),
        field("address", "Street address", Input::Text),
        field("postal_code", "Postal code", Input::Text),
        field("city", "City", Input::Text),
        field("country", "Country", Input::Text),
        field("owner_id", "Owner", Input::Owner),
        field("notes", "Notes", Input::Textarea),
    ],
    columns: &[
        ("_title", "Name"),
        ("city", "City"),
        ("phone", "Phone"),
        ("email", "E-mail"),
        ("owner_id", "Owner"),
    ],
    title_fields: &["name"],
};

static PERSON: EntitySpec = EntitySpec {
    kind: EntityKind::Person,
    path: "persons",
    one: "person",
    one_title: "Person",
    plural: "Persons",
    new_label: "New person",
    fields: &[
        field("first_name", "First name", Input::Text),
        required("last_name", "Last name", Input::Text),
        field("title", "Job title", Input::Text),
        field("company_id", "Company", Input::Link(EntityKind::Company)),
        hinted(
            "emails",
            "E-mail addresses",
            Input::Lines { emails: true },
            "One per line",
        ),
        hinted(
            "phones",
            "Phone numbers",
            Input::Lines { emails: false },
            "One per line",
        ),
        field("address", "Street address", Input::Text),
        field("postal_code", "Postal code", Input::Text),
        field("city", "City", Input::Text),
        field("country", "Country", Input::Text),
        field("owner_id", "Owner", Input::Owner),
        field("notes", "Notes", Input::Textarea),
    ],
    columns: &[
        ("_title", "Name"),
        ("title", "Job title"),
        ("company_id", "Company"),
        ("emails", "E-mail"),
        ("phones", "Phone"),
    ],
    title_fields: &["first_name", "last_name"],
};

static ACTIVITY: EntitySpec = EntitySpec {
    kind: EntityKind::Activity,
    path: "activities",
    one: "activity",
    one_title: "Activity",
    plural: "Activities",
    new_label: "New activity",
    fields: &[
        required("kind", "Type", Input::Choice(KINDS)),
        required("subject", "Subject", Input::Text),
        hinted(
            "starts_at",
            "Starts",
            Input::DateTime,
            "UTC. Needed for an appointment.",
        ),
        hinted("ends_at", "Ends", Input::DateTime, "UTC"),
        hinted("due_at", "Due", Input::DateTime, "UTC"),
        field("done", "Done", Input::Check),
        field("company_id", "Company", Input::Link(EntityKind::Company)),
        field("person_id", "Person", Input::Link(EntityKind::Person)),
        field("sale_id", "Sale", Input::Link(EntityKind::Sale)),
        field("owner_id", "Owner", Input::Owner),
        field("notes", "Notes", Input::Textarea),
    ],
    columns: &[
        ("_when", "When"),
        ("kind", "Type"),
        ("_title", "Subject"),
        ("company_id", "Company"),
        ("person_id", "Person"),
        ("done", "Done"),
    ],
    title_fields: &["subject"],
};

static SALE: EntitySpec = EntitySpec {
    kind: EntityKind::Sale,
    path: "sales",
    one: "sale",
    one_title: "Sale",
    plural: "Sales",
    new_label: "New sale",
    fields: &[
        required("title", "Title", Input::Text),
        field("company_id", "Company", Input::Link(EntityKind::Company)),
        field(
            "person_id",
            "Contact person",
            Input::Link(EntityKind::Person),
        ),
        hinted("amount", "Amount", Input::Amount, "For example 12500.00"),
        FieldSpec {
            name: "currency",
            label: "Currency",
            input: Input::Currency,
            required: true,
            hint: "Three letters, e.g. EUR",
        },
        required("stage", "Stage", Input::Choice(STAGES)),
        hinted("probability", "Probability (%)", Input::Number, "0 to 100"),
        field("expected_close", "Expected close", Input::Date),
        required("status", "Status", Input::Choice(STATUSES)),
        field("owner_id", "Owner", Input::Owner),
        field("notes", "Notes", Input::Textarea),
    ],
    columns: &[
        ("_title", "Title"),
        ("company_id", "Company"),
        ("stage", "Stage"),
        ("amount", "Amount"),
        ("status", "Status"),
        ("expected_close", "Expected close"),
    ],
    title_fields: &["title"],
};

pub fn spec(kind: EntityKind) -> &'static EntitySpec {
    match kind {
        EntityKind::Company => &COMPANY,
        EntityKind::Person => &PERSON,
        EntityKind::Activity => &ACTIVITY,
        EntityKind::Sale => &SALE,
    }
}

fn str_of<'a>(map: &'a Map<String, Value>, name: &str) -> &'a str {
    map.get(name).and_then(Value::as_str).unwrap_or("")
}

/// The name a person reads for a record.
pub fn title(kind: EntityKind, map: &Map<String, Value>) -> String {
    let t = match kind {
        EntityKind::Company => str_of(map, "name").to_string(),
        EntityKind::Person => {
            let first = str_of(map, "first_name");
            let last = str_of(map, "last_name");
            if first.is_empty() {
                last.to_string()
            } else {
                format!("{first} {last}")
            }
        }
        EntityKind::Activity => str_of(map, "subject").to_string(),
        EntityKind::Sale => str_of(map, "title").to_string(),
    };
    if t.trim().is_empty() {
        "(no name)".into()
    } else {
        t
    }
}

/// When an activity happens or is due, as stored.
pub fn when(map: &Map<String, Value>) -> Option<&str> {
    map.get("starts_at")
        .and_then(Value::as_str)
        .or_else(|| map.get("due_at").and_then(Value::as_str))
}

/// `2026-05-01T09:30:00.000000Z` → `2026-05-01 09:30 UTC`.
pub fn show_time(stored: &str) -> String {
    match skjold_domain::clock::parse_timestamp(stored) {
        Some(t) => t.format("%Y-%m-%d %H:%M UTC").to_string(),
        None => stored.to_string(),
    }
}

/// `2026-05-01T09:30:00.000000Z` → `2026-05-01T09:30` (a `datetime-local` value, in UTC).
fn time_input_value(stored: &str) -> String {
    match skjold_domain::clock::parse_timestamp(stored) {
        Some(t) => t.format("%Y-%m-%dT%H:%M").to_string(),
        None => stored.to_string(),
    }
}

/// A `datetime-local` value (taken as UTC) → RFC 3339. Anything else is passed on for the
/// store to judge.
fn time_from_input(raw: &str) -> String {
    for fmt in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(raw, fmt) {
            return t.and_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        }
    }
    raw.to_string()
}

/// A sale's amount with its currency, or "" when it has none.
pub fn sale_amount(map: &Map<String, Value>) -> String {
    match map.get("amount").and_then(Value::as_str) {
        Some(a) => show_amount(a, map.get("currency").and_then(Value::as_str).unwrap_or("")),
        None => String::new(),
    }
}

/// `125000.00` and `EUR` → `125,000.00 EUR` (with a no-break space).
pub fn show_amount(amount: &str, currency: &str) -> String {
    let (whole, frac) = amount.split_once('.').unwrap_or((amount, ""));
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let mut out = if frac.is_empty() {
        grouped
    } else {
        format!("{grouped}.{frac}")
    };
    if !currency.is_empty() {
        // A no-break space: the amount and its currency stay on one line.
        out.push('\u{a0}');
        out.push_str(currency);
    }
    out
}

pub fn choice_label(options: &[(&str, &'static str)], value: &str) -> String {
    options
        .iter()
        .find(|(v, _)| *v == value)
        .map(|(_, l)| l.to_string())
        .unwrap_or_else(|| value.to_string())
}

/// The value of a field as a form shows it.
pub fn form_value(f: &FieldSpec, v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) | Some(Value::Bool(_)) => String::new(),
        Some(Value::String(s)) => match f.input {
            Input::DateTime => time_input_value(s),
            _ => s.clone(),
        },
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        Some(other) => other.to_string(),
    }
}

/// A submitted form → the JSON object the store's input types read. Values the form
/// itself can tell are wrong (a number that is not one) are reported here; everything else
/// is left to the store's validation, so the rules live in one place.
pub fn form_to_map(spec: &EntitySpec, form: &FormData) -> (Map<String, Value>, FieldErrors) {
    let mut map = Map::new();
    let mut errs = FieldErrors::new();
    for f in spec.fields {
        // Browsers send a textarea's line breaks as CRLF; the store keeps LF.
        let raw = form
            .get(f.name)
            .unwrap_or("")
            .replace("\r\n", "\n")
            .replace('\r', "\n");
        let raw = raw.as_str();
        let trimmed = raw.trim();
        let empty = trimmed.is_empty();
        let text = |required: bool| {
            if empty && !required {
                Value::Null
            } else {
                Value::String(raw.to_string())
            }
        };
        let value = match f.input {
            Input::Text
            | Input::Email
            | Input::Tel
            | Input::Url
            | Input::Textarea
            | Input::Amount
            | Input::Date => text(f.required),
            Input::Currency => Value::String(trimmed.to_string()),
            Input::Lines { emails } => Value::Array(
                raw.split(|c| c == '\n' || (emails && (c == ',' || c == ';')))
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            ),
            Input::Choice(options) => {
                if !options.iter().any(|(v, _)| *v == trimmed) {
                    errs.add(f.name, "choose one of the options");
                }
                Value::String(trimmed.to_string())
            }
            Input::Link(_) | Input::Owner => {
                if empty {
                    Value::Null
                } else {
                    Value::String(trimmed.to_string())
                }
            }
            Input::DateTime => {
                if empty {
                    Value::Null
                } else {
                    Value::String(time_from_input(trimmed))
                }
            }
            Input::Check => Value::Bool(!empty),
            Input::Number => {
                if empty {
                    Value::from(0)
                } else {
                    match trimmed.parse::<i64>() {
                        Ok(n) => Value::from(n),
                        Err(_) => {
                            errs.add(f.name, "must be a whole number");
                            Value::from(0)
                        }
                    }
                }
            }
        };
        map.insert(f.name.to_string(), value);
    }
    (map, errs)
}

/// A value as a page shows it: text, maybe a link.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    pub text: String,
    pub href: Option<String>,
    /// A link to another site (opened without a referrer).
    pub external: bool,
}

impl Cell {
    pub fn text(text: impl Into<String>) -> Self {
        Cell {
            text: text.into(),
            ..Cell::default()
        }
    }

    pub fn link(text: impl Into<String>, href: impl Into<String>) -> Self {
        Cell {
            text: text.into(),
            href: Some(href.into()),
            external: false,
        }
    }
}

/// Resolves record and user ids to names, once per request, as far as the reader may see
/// them: a record of a kind they may not read, or outside their sight, has no name.
pub struct Lookup<'a> {
    db: &'a TenantDb,
    sight: Sight,
    grant: Grant,
    slug: String,
    titles: HashMap<(EntityKind, String), Option<String>>,
    users: Option<HashMap<String, String>>,
}

impl<'a> Lookup<'a> {
    pub fn new(db: &'a TenantDb, sight: Sight, grant: Grant) -> Self {
        Lookup {
            db,
            sight,
            grant,
            slug: db.slug().as_str().to_string(),
            titles: HashMap::new(),
            users: None,
        }
    }

    pub fn db(&self) -> &'a TenantDb {
        self.db
    }

    pub fn sight(&self) -> &Sight {
        &self.sight
    }

    /// Whether the reader may read records of this kind.
    pub fn reads(&self, kind: EntityKind) -> bool {
        self.grant.has(Right::on(kind, Access::Read))
    }

    pub fn remember(&mut self, kind: EntityKind, id: &str, map: &Map<String, Value>) {
        self.titles
            .insert((kind, id.to_string()), Some(title(kind, map)));
    }

    /// The record's title, or `None` when it does not exist (any more).
    pub async fn title(
        &mut self,
        kind: EntityKind,
        id: &str,
    ) -> Result<Option<String>, StoreError> {
        if let Some(t) = self.titles.get(&(kind, id.to_string())) {
            return Ok(t.clone());
        }
        if !self.reads(kind) {
            return Ok(None);
        }
        let t = match get_map(self.db, &self.sight, kind, id).await {
            Ok(m) => Some(title(kind, &m)),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e),
        };
        self.titles.insert((kind, id.to_string()), t.clone());
        Ok(t)
    }

    /// Every user's id → the name to show.
    pub async fn users(&mut self) -> Result<&HashMap<String, String>, StoreError> {
        if self.users.is_none() {
            let users = self.db.list_users().await?;
            self.users = Some(
                users
                    .into_iter()
                    .map(|u| {
                        let name = u.display_name.unwrap_or(u.username);
                        (u.id, name)
                    })
                    .collect(),
            );
        }
        Ok(self.users.get_or_insert_with(HashMap::new))
    }

    pub async fn user_name(&mut self, id: &str) -> Result<String, StoreError> {
        if let Some(rest) = id.strip_prefix("system:") {
            return Ok(format!("System ({rest})"));
        }
        Ok(self
            .users()
            .await?
            .get(id)
            .cloned()
            .unwrap_or_else(|| "(unknown user)".into()))
    }

    /// A field's value for display; `None` when it has none.
    pub async fn cell(
        &mut self,
        f: &FieldSpec,
        v: Option<&Value>,
    ) -> Result<Option<Cell>, StoreError> {
        let Some(v) = v else { return Ok(None) };
        let s = v.as_str().unwrap_or("");
        Ok(Some(match (f.input, v) {
            (_, Value::Null) => return Ok(None),
            (Input::Check, Value::Bool(b)) => Cell::text(if *b { "Yes" } else { "No" }),
            (Input::Lines { .. }, Value::Array(items)) => {
                if items.is_empty() {
                    return Ok(None);
                }
                Cell::text(
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            }
            (_, Value::String(s)) if s.is_empty() => return Ok(None),
            (Input::Email, _) => Cell::link(s, format!("mailto:{s}")),
            (Input::Tel, _) => Cell::link(
                s,
                format!(
                    "tel:{}",
                    s.chars()
                        .filter(|c| c.is_ascii_digit() || *c == '+')
                        .collect::<String>()
                ),
            ),
            (Input::Url, _) => {
                let lower = s.to_ascii_lowercase();
                if lower.starts_with("https://") || lower.starts_with("http://") {
                    Cell {
                        text: s.to_string(),
                        href: Some(s.to_string()),
                        external: true,
                    }
                } else {
                    Cell::text(s)
                }
            }
            (Input::Choice(options), _) => Cell::text(choice_label(options, s)),
            (Input::Link(kind), _) => match self.title(kind, s).await? {
                Some(t) => Cell::link(t, format!("/{}/{}/{s}", self.slug, spec(kind).path)),
                None => Cell::text("(deleted)"),
            },
            (Input::Owner, _) => Cell::text(self.user_name(s).await?),
            (Input::DateTime, _) => Cell::text(show_time(s)),
            (_, Value::String(s)) => Cell::text(s.clone()),
            (_, other) => Cell::text(other.to_string()),
        }))
    }
}

/// Which field a store error belongs to: `emails[1]` → `emails`.
pub fn error_field(field: &str) -> &str {
    field.split(['[', '.']).next().unwrap_or(field)
}

fn to_map<T: serde::Serialize>(v: &T) -> Result<Map<String, Value>, StoreError> {
    match serde_json::to_value(v) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(StoreError::Corrupt("record is not a JSON object".into())),
    }
}

/// Runs `$body` with `$e` bound to the record type of `$kind`.
macro_rules! with_entity {
    ($kind:expr, $e:ident => $body:expr) => {
        match $kind {
            EntityKind::Company => {
                type $e = Company;
                $body
            }
            EntityKind::Person => {
                type $e = Person;
                $body
            }
            EntityKind::Activity => {
                type $e = Activity;
                $body
            }
            EntityKind::Sale => {
                type $e = Sale;
                $body
            }
        }
    };
}

pub async fn get_map(
    db: &TenantDb,
    sight: &Sight,
    kind: EntityKind,
    id: &str,
) -> Result<Map<String, Value>, StoreError> {
    if uuid::Uuid::try_parse(id).is_err() {
        return Err(StoreError::NotFound);
    }
    with_entity!(kind, E => to_map(&db.get::<E>(sight, id).await?))
}

pub async fn list_maps(
    db: &TenantDb,
    sight: &Sight,
    kind: EntityKind,
    query: &ListQuery,
) -> Result<Page<Map<String, Value>>, StoreError> {
    with_entity!(kind, E => {
        let page = db.list::<E>(sight, query).await?;
        Ok(Page {
            items: page.items.iter().map(to_map).collect::<Result<_, _>>()?,
            next_cursor: page.next_cursor,
        })
    })
}

/// Every record of a list (up to `max`), following the cursor.
pub async fn list_all(
    db: &TenantDb,
    sight: &Sight,
    kind: EntityKind,
    filters: Vec<(String, String)>,
    max: usize,
) -> Result<Vec<Map<String, Value>>, StoreError> {
    let mut out = Vec::new();
    if max == 0 {
        return Ok(out);
    }
    let mut cursor = None;
    loop {
        let page = list_maps(
            db,
            sight,
            kind,
            &ListQuery {
                q: None,
                limit: Some(200),
                cursor,
                filters: filters.clone(),
                sort: skjold_store::ListSort::Name,
            },
        )
        .await?;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) if out.len() < max => cursor = Some(c),
            _ => break,
        }
    }
    out.truncate(max);
    Ok(out)
}

/// Creates a record of `kind` from a form's map, as the application layer's action.
pub async fn create_map(
    ctx: &skjold_app::Ctx<'_>,
    actor: &skjold_app::Actor,
    kind: EntityKind,
    map: Map<String, Value>,
) -> Result<Map<String, Value>, skjold_app::AppError> {
    with_entity!(kind, E => {
        let input = parse_json::<<E as skjold_domain::crm::Entity>::Input>(Value::Object(map))?;
        Ok(to_map(&skjold_app::records::create::<E>(ctx, actor, input).await?)?)
    })
}

/// Changes some fields of a record of `kind`, as the application layer's action.
pub async fn update_map(
    ctx: &skjold_app::Ctx<'_>,
    actor: &skjold_app::Actor,
    kind: EntityKind,
    id: &str,
    patch: Map<String, Value>,
) -> Result<Map<String, Value>, skjold_app::AppError> {
    with_entity!(kind, E => Ok(to_map(&skjold_app::records::update::<E>(ctx, actor, id, patch).await?)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_become_store_input() {
        let form = FormData(vec![
            ("last_name".into(), " Berg ".into()),
            ("first_name".into(), "".into()),
            ("emails".into(), "a@x.no, b@x.no\r\nc@x.no".into()),
            ("company_id".into(), "".into()),
            ("notes".into(), "one\r\ntwo".into()),
        ]);
        let (map, errs) = form_to_map(spec(EntityKind::Person), &form);
        assert!(errs.is_empty());
        assert_eq!(map["last_name"], " Berg ");
        assert_eq!(map["first_name"], Value::Null);
        assert_eq!(map["company_id"], Value::Null);
        assert_eq!(map["emails"].as_array().unwrap().len(), 3);
        assert_eq!(map["notes"], "one\ntwo");

        let form = FormData(vec![
            ("title".into(), "Deal".into()),
            ("probability".into(), "lots".into()),
            ("stage".into(), "nowhere".into()),
        ]);
        let (_, errs) = form_to_map(spec(EntityKind::Sale), &form);
        let fields: Vec<_> = errs.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["stage", "probability", "status"]);
    }

    #[test]
    fn amounts_are_grouped() {
        assert_eq!(show_amount("125000.00", "EUR"), "125,000.00\u{a0}EUR");
        assert_eq!(show_amount("950.50", "NOK"), "950.50\u{a0}NOK");
        assert_eq!(show_amount("1000", ""), "1,000");
    }

    #[test]
    fn times_are_utc_both_ways() {
        assert_eq!(time_from_input("2026-05-01T09:30"), "2026-05-01T09:30:00Z");
        assert_eq!(
            time_input_value("2026-05-01T09:30:00.000000Z"),
            "2026-05-01T09:30"
        );
        assert_eq!(
            show_time("2026-05-01T09:30:00.000000Z"),
            "2026-05-01 09:30 UTC"
        );
    }
}
