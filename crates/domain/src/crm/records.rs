use super::entity::{col, Column, ColumnKind::*, Entity, EntityKind, Link};
use super::validate::{self as v, Validate, LONG, SHORT};
use crate::FieldErrors;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

// ---------------------------------------------------------------- companies

/// A company (organisation) the tenant does business with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Company {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    /// Registration number, VAT id or similar.
    pub org_number: Option<String>,
    pub address: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    pub category: Option<String>,
    /// The user responsible for this company.
    #[schema(format = Uuid)]
    pub owner_id: Option<String>,
    pub notes: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// The fields of a company a client sets. On update, send any subset; `null` clears an
/// optional field.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyInput {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    #[serde(default)]
    pub org_number: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    /// Defaults to the user who creates the company.
    #[serde(default)]
    #[schema(format = Uuid)]
    pub owner_id: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

impl Validate for CompanyInput {
    fn validate(&mut self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        v::required(&mut e, "name", &mut self.name, SHORT);
        v::optional(&mut e, "org_number", &mut self.org_number, 50);
        v::optional(&mut e, "address", &mut self.address, SHORT);
        v::optional(&mut e, "postal_code", &mut self.postal_code, 20);
        v::optional(&mut e, "city", &mut self.city, 100);
        v::optional(&mut e, "country", &mut self.country, 100);
        v::phone(&mut e, "phone", &mut self.phone);
        v::email(&mut e, "email", &mut self.email);
        v::website(&mut e, "website", &mut self.website);
        v::optional(&mut e, "category", &mut self.category, 100);
        v::record_id(&mut e, "owner_id", &mut self.owner_id);
        v::optional(&mut e, "notes", &mut self.notes, LONG);
        e.into_result()
    }
}

impl Entity for Company {
    const KIND: EntityKind = EntityKind::Company;
    const COLUMNS: &'static [Column] = &[
        col("name", Text),
        col("org_number", Text),
        col("address", Text),
        col("postal_code", Text),
        col("city", Text),
        col("country", Text),
        col("phone", Text),
        col("email", Text),
        col("website", Text),
        col("category", Text),
        col("owner_id", Text),
        col("notes", Text),
    ];
    const LINKS: &'static [Link] = &[];
    type Input = CompanyInput;

    fn id(&self) -> &str {
        &self.id
    }
    fn search_text(&self) -> Vec<&str> {
        [
            Some(self.name.as_str()),
            self.org_number.as_deref(),
            self.city.as_deref(),
            self.phone.as_deref(),
            self.email.as_deref(),
            self.website.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
    fn sort_key(&self) -> String {
        self.name.to_lowercase()
    }
}

// ---------------------------------------------------------------- persons

/// A person, usually a contact at a company.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Person {
    #[schema(format = Uuid)]
    pub id: String,
    pub first_name: Option<String>,
    pub last_name: String,
    /// Job title, e.g. "Head of Purchasing".
    pub title: Option<String>,
    #[schema(format = Uuid)]
    pub company_id: Option<String>,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub address: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    #[schema(format = Uuid)]
    pub owner_id: Option<String>,
    pub notes: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// The fields of a person a client sets. On update, send any subset; `null` clears an
/// optional field.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonInput {
    #[serde(default)]
    pub first_name: Option<String>,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub last_name: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    #[schema(format = Uuid)]
    pub company_id: Option<String>,
    #[serde(default)]
    pub emails: Vec<String>,
    #[serde(default)]
    pub phones: Vec<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    /// Defaults to the user who creates the person.
    #[serde(default)]
    #[schema(format = Uuid)]
    pub owner_id: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

impl Validate for PersonInput {
    fn validate(&mut self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        v::optional(&mut e, "first_name", &mut self.first_name, 100);
        v::required(&mut e, "last_name", &mut self.last_name, 100);
        v::optional(&mut e, "title", &mut self.title, 100);
        v::record_id(&mut e, "company_id", &mut self.company_id);
        v::emails(&mut e, "emails", &mut self.emails);
        v::phones(&mut e, "phones", &mut self.phones);
        v::optional(&mut e, "address", &mut self.address, SHORT);
        v::optional(&mut e, "postal_code", &mut self.postal_code, 20);
        v::optional(&mut e, "city", &mut self.city, 100);
        v::optional(&mut e, "country", &mut self.country, 100);
        v::record_id(&mut e, "owner_id", &mut self.owner_id);
        v::optional(&mut e, "notes", &mut self.notes, LONG);
        e.into_result()
    }
}

impl Entity for Person {
    const KIND: EntityKind = EntityKind::Person;
    const COLUMNS: &'static [Column] = &[
        col("first_name", Text),
        col("last_name", Text),
        col("title", Text),
        col("company_id", Text),
        col("emails", Json),
        col("phones", Json),
        col("address", Text),
        col("postal_code", Text),
        col("city", Text),
        col("country", Text),
        col("owner_id", Text),
        col("notes", Text),
    ];
    const LINKS: &'static [Link] = &[Link {
        field: "company_id",
        target: EntityKind::Company,
    }];
    type Input = PersonInput;

    fn id(&self) -> &str {
        &self.id
    }
    fn search_text(&self) -> Vec<&str> {
        let mut out: Vec<&str> = [
            self.first_name.as_deref(),
            Some(self.last_name.as_str()),
            self.title.as_deref(),
            self.city.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect();
        out.extend(self.emails.iter().map(String::as_str));
        out.extend(self.phones.iter().map(String::as_str));
        out
    }
    fn sort_key(&self) -> String {
        match &self.first_name {
            Some(first) => format!("{} {}", self.last_name, first).to_lowercase(),
            None => self.last_name.to_lowercase(),
        }
    }
}

// ---------------------------------------------------------------- activities

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActivityKind {
    Appointment,
    #[default]
    Task,
    Call,
    Note,
}

/// Something done or to do: an appointment, a task, a call or a note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Activity {
    #[schema(format = Uuid)]
    pub id: String,
    pub kind: ActivityKind,
    pub subject: String,
    #[schema(format = DateTime)]
    pub starts_at: Option<String>,
    #[schema(format = DateTime)]
    pub ends_at: Option<String>,
    #[schema(format = DateTime)]
    pub due_at: Option<String>,
    pub done: bool,
    #[schema(format = Uuid)]
    pub company_id: Option<String>,
    #[schema(format = Uuid)]
    pub person_id: Option<String>,
    #[schema(format = Uuid)]
    pub sale_id: Option<String>,
    #[schema(format = Uuid)]
    pub owner_id: Option<String>,
    pub notes: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// The fields of an activity a client sets. On update, send any subset; `null` clears an
/// optional field.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityInput {
    pub kind: ActivityKind,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub subject: String,
    #[serde(default)]
    #[schema(format = DateTime)]
    pub starts_at: Option<String>,
    #[serde(default)]
    #[schema(format = DateTime)]
    pub ends_at: Option<String>,
    #[serde(default)]
    #[schema(format = DateTime)]
    pub due_at: Option<String>,
    #[serde(default)]
    pub done: bool,
    #[serde(default)]
    #[schema(format = Uuid)]
    pub company_id: Option<String>,
    #[serde(default)]
    #[schema(format = Uuid)]
    pub person_id: Option<String>,
    #[serde(default)]
    #[schema(format = Uuid)]
    pub sale_id: Option<String>,
    /// Defaults to the user who creates the activity.
    #[serde(default)]
    #[schema(format = Uuid)]
    pub owner_id: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

impl Validate for ActivityInput {
    fn validate(&mut self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        v::required(&mut e, "subject", &mut self.subject, SHORT);
        v::timestamp(&mut e, "starts_at", &mut self.starts_at);
        v::timestamp(&mut e, "ends_at", &mut self.ends_at);
        v::timestamp(&mut e, "due_at", &mut self.due_at);
        if let (Some(s), Some(end)) = (&self.starts_at, &self.ends_at) {
            // Both are normalised to the same fixed-width form, so text order is time order.
            if end < s {
                e.add("ends_at", "must not be before starts_at");
            }
        }
        if self.kind == ActivityKind::Appointment && self.starts_at.is_none() {
            e.add("starts_at", "an appointment needs a start time");
        }
        v::record_id(&mut e, "company_id", &mut self.company_id);
        v::record_id(&mut e, "person_id", &mut self.person_id);
        v::record_id(&mut e, "sale_id", &mut self.sale_id);
        v::record_id(&mut e, "owner_id", &mut self.owner_id);
        v::optional(&mut e, "notes", &mut self.notes, LONG);
        e.into_result()
    }
}

impl Entity for Activity {
    const KIND: EntityKind = EntityKind::Activity;
    const COLUMNS: &'static [Column] = &[
        col("kind", Text),
        col("subject", Text),
        col("starts_at", Text),
        col("ends_at", Text),
        col("due_at", Text),
        col("done", Bool),
        col("company_id", Text),
        col("person_id", Text),
        col("sale_id", Text),
        col("owner_id", Text),
        col("notes", Text),
    ];
    const LINKS: &'static [Link] = &[
        Link {
            field: "company_id",
            target: EntityKind::Company,
        },
        Link {
            field: "person_id",
            target: EntityKind::Person,
        },
        Link {
            field: "sale_id",
            target: EntityKind::Sale,
        },
    ];
    type Input = ActivityInput;

    fn id(&self) -> &str {
        &self.id
    }
    fn search_text(&self) -> Vec<&str> {
        vec![self.subject.as_str()]
    }
    fn sort_key(&self) -> String {
        // Upcoming first: by the time the activity happens or is due.
        self.starts_at
            .as_deref()
            .or(self.due_at.as_deref())
            .unwrap_or("9999")
            .to_string()
    }
}

// ---------------------------------------------------------------- sales

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SaleStage {
    #[default]
    Lead,
    Qualified,
    Proposal,
    Negotiation,
    Closing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SaleStatus {
    #[default]
    Open,
    Won,
    Lost,
}

/// A sales opportunity moving through the pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Sale {
    #[schema(format = Uuid)]
    pub id: String,
    pub title: String,
    #[schema(format = Uuid)]
    pub company_id: Option<String>,
    #[schema(format = Uuid)]
    pub person_id: Option<String>,
    /// Decimal with two places, e.g. "12500.00".
    pub amount: Option<String>,
    /// ISO 4217 code.
    pub currency: String,
    pub stage: SaleStage,
    /// Chance of winning, 0–100.
    pub probability: i64,
    #[schema(format = Date)]
    pub expected_close: Option<String>,
    pub status: SaleStatus,
    #[schema(format = Uuid)]
    pub owner_id: Option<String>,
    pub notes: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

fn default_currency() -> String {
    "EUR".to_string()
}

/// The fields of a sale a client sets. On update, send any subset; `null` clears an
/// optional field.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaleInput {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: String,
    #[serde(default)]
    #[schema(format = Uuid)]
    pub company_id: Option<String>,
    #[serde(default)]
    #[schema(format = Uuid)]
    pub person_id: Option<String>,
    #[serde(default)]
    pub amount: Option<String>,
    #[serde(default = "default_currency")]
    pub currency: String,
    #[serde(default)]
    pub stage: SaleStage,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100)]
    pub probability: i64,
    #[serde(default)]
    #[schema(format = Date)]
    pub expected_close: Option<String>,
    #[serde(default)]
    pub status: SaleStatus,
    /// Defaults to the user who creates the sale.
    #[serde(default)]
    #[schema(format = Uuid)]
    pub owner_id: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

impl Validate for SaleInput {
    fn validate(&mut self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        v::required(&mut e, "title", &mut self.title, SHORT);
        v::record_id(&mut e, "company_id", &mut self.company_id);
        v::record_id(&mut e, "person_id", &mut self.person_id);
        v::amount(&mut e, "amount", &mut self.amount);
        v::currency(&mut e, "currency", &mut self.currency);
        if !(0..=100).contains(&self.probability) {
            e.add("probability", "must be between 0 and 100");
        }
        v::date(&mut e, "expected_close", &mut self.expected_close);
        v::record_id(&mut e, "owner_id", &mut self.owner_id);
        v::optional(&mut e, "notes", &mut self.notes, LONG);
        e.into_result()
    }
}

impl Entity for Sale {
    const KIND: EntityKind = EntityKind::Sale;
    const COLUMNS: &'static [Column] = &[
        col("title", Text),
        col("company_id", Text),
        col("person_id", Text),
        col("amount", Text),
        col("currency", Text),
        col("stage", Text),
        col("probability", Int),
        col("expected_close", Text),
        col("status", Text),
        col("owner_id", Text),
        col("notes", Text),
    ];
    const LINKS: &'static [Link] = &[
        Link {
            field: "company_id",
            target: EntityKind::Company,
        },
        Link {
            field: "person_id",
            target: EntityKind::Person,
        },
    ];
    type Input = SaleInput;

    fn id(&self) -> &str {
        &self.id
    }
    fn search_text(&self) -> Vec<&str> {
        vec![self.title.as_str()]
    }
    fn sort_key(&self) -> String {
        self.title.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn company_input_refuses_unknown_fields_and_names_bad_ones() {
        let err = serde_json::from_str::<CompanyInput>(r#"{"name":"A","colour":"red"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("colour"), "{err}");
        let mut c: CompanyInput =
            serde_json::from_str(r#"{"name":"  ","email":"nope","website":"ftp://x"}"#).unwrap();
        let errs = c.validate().unwrap_err();
        let fields: Vec<_> = errs.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "email", "website"]);
    }

    #[test]
    fn every_input_field_is_a_stored_column() {
        fn check<E: Entity>(input: &E::Input) {
            let value = serde_json::to_value(input).unwrap();
            for key in value.as_object().unwrap().keys() {
                assert!(
                    E::COLUMNS.iter().any(|c| c.name == key),
                    "{key} of {} has no column",
                    E::KIND.name()
                );
            }
        }
        check::<Company>(&CompanyInput::default());
        check::<Person>(&PersonInput::default());
        check::<Activity>(&ActivityInput::default());
        check::<Sale>(&serde_json::from_str(r#"{"title":"x"}"#).unwrap());
    }

    #[test]
    fn dependents_follow_links() {
        let deps = EntityKind::Company.dependents();
        assert!(deps.contains(&(EntityKind::Person, "company_id")));
        assert!(deps.contains(&(EntityKind::Activity, "company_id")));
        assert!(deps.contains(&(EntityKind::Sale, "company_id")));
        assert_eq!(EntityKind::Activity.dependents(), vec![]);
    }

    #[test]
    fn appointment_needs_start_and_end_after_start() {
        let mut a: ActivityInput = serde_json::from_str(
            r#"{"kind":"appointment","subject":"Demo","ends_at":"2026-01-01T10:00:00Z"}"#,
        )
        .unwrap();
        let errs = a.validate().unwrap_err();
        assert_eq!(errs.0[0].field, "starts_at");
        let mut a: ActivityInput = serde_json::from_str(
            r#"{"kind":"call","subject":"x","starts_at":"2026-01-01T11:00:00+01:00","ends_at":"2026-01-01T09:59:00Z"}"#,
        )
        .unwrap();
        assert_eq!(a.validate().unwrap_err().0[0].field, "ends_at");
    }
}
