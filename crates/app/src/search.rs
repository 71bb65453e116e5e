//! One search over every record type: companies, persons, activities and sales.
//!
//! Each type is searched as its own list is (`?q=`: the same index, relevance order and
//! sight), and only the types whose read right the actor holds; a hit names its type and
//! id and carries a display name and a short context so that a result list can show it
//! without a second request.

use crate::{records, Actor, AppError, Ctx};
use skjold_domain::crm::{Activity, Company, Entity, EntityKind, Person, Sale};
use skjold_domain::rights::Access;
use skjold_domain::{FieldErrors, Right};
use skjold_store::ListQuery;

/// Hits per record type when the request names no limit.
pub const DEFAULT_PER_TYPE: usize = 5;
/// The most hits per record type one request may ask for.
pub const MAX_PER_TYPE: usize = 50;

/// A record found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub kind: EntityKind,
    pub id: String,
    /// What the record is called: a company's or person's name, an activity's subject, a
    /// sale's title.
    pub name: String,
    /// A few words that tell records of the same name apart (city, e-mail, date, stage).
    pub context: String,
}

/// The hits of one record type, in relevance order.
#[derive(Debug, Clone)]
pub struct Group {
    pub kind: EntityKind,
    pub hits: Vec<Hit>,
    /// Whether this type has more hits than shown (its own list's `?q=` shows them all).
    pub more: bool,
}

/// Searches every record type the actor may read for `q`, at most `limit` hits per type
/// (default [`DEFAULT_PER_TYPE`]). Types without hits are left out.
pub async fn search(
    ctx: &Ctx<'_>,
    actor: &Actor,
    q: &str,
    limit: Option<usize>,
) -> Result<Vec<Group>, AppError> {
    let limit = limit.unwrap_or(DEFAULT_PER_TYPE);
    let mut errs = FieldErrors::new();
    if limit == 0 || limit > MAX_PER_TYPE {
        errs.add("limit", format!("must be between 1 and {MAX_PER_TYPE}"));
    }
    if !q.chars().any(char::is_alphanumeric) {
        errs.add("q", "must contain at least one letter or digit");
    }
    errs.into_result()?;
    let query = ListQuery {
        q: Some(q.to_string()),
        limit: Some(limit),
        ..ListQuery::default()
    };
    let mut groups = Vec::new();
    for kind in EntityKind::ALL {
        if actor.require(Right::on(*kind, Access::Read)).is_err() {
            continue;
        }
        let group = match kind {
            EntityKind::Company => group::<Company>(ctx, actor, &query).await?,
            EntityKind::Person => group::<Person>(ctx, actor, &query).await?,
            EntityKind::Activity => group::<Activity>(ctx, actor, &query).await?,
            EntityKind::Sale => group::<Sale>(ctx, actor, &query).await?,
        };
        if !group.hits.is_empty() {
            groups.push(group);
        }
    }
    Ok(groups)
}

async fn group<E: Entity + Summary>(
    ctx: &Ctx<'_>,
    actor: &Actor,
    query: &ListQuery,
) -> Result<Group, AppError> {
    let page = records::list::<E>(ctx, actor, query).await?;
    Ok(Group {
        kind: E::KIND,
        more: page.next_cursor.is_some(),
        hits: page
            .items
            .iter()
            .map(|r| Hit {
                kind: E::KIND,
                id: r.id().to_string(),
                name: r.display_name(),
                context: r.context(),
            })
            .collect(),
    })
}

/// How a record shows in a result list.
trait Summary {
    fn display_name(&self) -> String;
    fn context(&self) -> String;
}

/// The present parts, joined by " · ".
fn joined<'a>(parts: impl IntoIterator<Item = Option<&'a str>>) -> String {
    parts
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A serialised enum's name (`note`, `proposal`, …).
fn label<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl Summary for Company {
    fn display_name(&self) -> String {
        self.name.clone()
    }
    fn context(&self) -> String {
        joined([
            self.city.as_deref(),
            self.org_number.as_deref(),
            self.email.as_deref(),
        ])
    }
}

impl Summary for Person {
    fn display_name(&self) -> String {
        match self.first_name.as_deref().map(str::trim) {
            Some(first) if !first.is_empty() => format!("{first} {}", self.last_name),
            _ => self.last_name.clone(),
        }
    }
    fn context(&self) -> String {
        joined([
            self.title.as_deref(),
            self.emails.first().map(String::as_str),
            self.city.as_deref(),
        ])
    }
}

impl Summary for Activity {
    fn display_name(&self) -> String {
        self.subject.clone()
    }
    fn context(&self) -> String {
        let when = self
            .starts_at
            .as_deref()
            .or(self.due_at.as_deref())
            .map(|t| t.get(..10).unwrap_or(t));
        let kind = label(&self.kind);
        joined([Some(kind.as_str()), when])
    }
}

impl Summary for Sale {
    fn display_name(&self) -> String {
        self.title.clone()
    }
    fn context(&self) -> String {
        let stage = label(&self.stage);
        let amount = self
            .amount
            .as_deref()
            .map(|a| format!("{a} {}", self.currency));
        joined([Some(stage.as_str()), amount.as_deref()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_leaves_out_missing_parts() {
        assert_eq!(
            joined([Some("Oslo"), None, Some(" "), Some("a@b.no")]),
            "Oslo · a@b.no"
        );
        assert_eq!(joined([None, None]), "");
    }
}
