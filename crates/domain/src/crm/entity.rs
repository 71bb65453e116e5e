use super::Validate;
use serde::{de::DeserializeOwned, Serialize};

/// Which record type; also the name used in the change journal and the search index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityKind {
    Company,
    Person,
    Activity,
    Sale,
}

impl EntityKind {
    pub const ALL: &'static [EntityKind] = &[
        EntityKind::Company,
        EntityKind::Person,
        EntityKind::Activity,
        EntityKind::Sale,
    ];

    /// The journal's and search index's name for it.
    pub fn name(self) -> &'static str {
        match self {
            EntityKind::Company => "company",
            EntityKind::Person => "person",
            EntityKind::Activity => "activity",
            EntityKind::Sale => "sale",
        }
    }

    /// Its table, which is also its path segment in the API.
    pub fn table(self) -> &'static str {
        match self {
            EntityKind::Company => "companies",
            EntityKind::Person => "persons",
            EntityKind::Activity => "activities",
            EntityKind::Sale => "sales",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// Fields of other record types that point at this one: what a delete must consider.
    pub fn dependents(self) -> Vec<(EntityKind, &'static str)> {
        use super::{Activity, Company, Person, Sale};
        let mut out = Vec::new();
        for (kind, links) in [
            (EntityKind::Company, Company::LINKS),
            (EntityKind::Person, Person::LINKS),
            (EntityKind::Activity, Activity::LINKS),
            (EntityKind::Sale, Sale::LINKS),
        ] {
            for link in links {
                if link.target == self {
                    out.push((kind, link.field));
                }
            }
        }
        out
    }
}

/// How a field is kept in a database column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Text (strings, enums, dates); `NULL` for none.
    Text,
    /// A 64-bit integer.
    Int,
    /// A JSON boolean kept as 0 / 1 (the same on both databases).
    Bool,
    /// A JSON array or object kept as its text.
    Json,
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: ColumnKind,
}

pub const fn col(name: &'static str, kind: ColumnKind) -> Column {
    Column { name, kind }
}

/// A field that holds the id of another record of this tenant.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    pub field: &'static str,
    pub target: EntityKind,
}

/// A CRM record type. The struct serialises to a JSON object whose keys are `id`,
/// `created_at`, `updated_at` and the [`Entity::COLUMNS`]; its input type serialises to a
/// subset of the same keys.
pub trait Entity: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static {
    const KIND: EntityKind;
    /// Every stored field except `id`, `created_at` and `updated_at`.
    const COLUMNS: &'static [Column];
    const LINKS: &'static [Link];
    /// The body of a create request; a partial update is merged into it and checked again.
    type Input: Serialize + DeserializeOwned + Validate + Send;

    fn id(&self) -> &str;
    /// The text that `?q=` search finds this record by.
    fn search_text(&self) -> Vec<&str>;
    /// The key lists are ordered by (lowercased), usually the record's name.
    fn sort_key(&self) -> String;
}
