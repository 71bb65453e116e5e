//! The CRM record screens — list with search-as-you-type and paging, detail with linked
//! records and history, create and edit forms with the store's validation messages beside
//! each field, delete with confirmation — for companies, persons, activities and sales.
//! One generic implementation driven by the descriptions in [`super::fields`].

use super::auth::{safe_next, FormData, Post, UiAuth};
use super::fields::{
    self, create_map, error_field, form_to_map, form_value, get_map, list_maps, show_time, spec,
    update_map, Cell, EntitySpec, Input, Lookup,
};
use super::templates::{
    Action, DeletePage, DetailPage, FormField, FormPage, HistoryRow, ListPage, MoveForm, Opt,
    Section,
};
use super::{ok, render, Chrome, UiError};
use crate::export::ExportFormat;
use crate::extract::{Delete, Export, Read, Requirement, Write};
use crate::records_export;
use crate::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{Map, Value};
use skjold_app::{records, AppError};
use skjold_domain::crm::{Activity, Company, Entity, EntityKind, Person, Sale};
use skjold_domain::{Access, FieldErrors, Right};
use skjold_store::{JournalOp, ListQuery, ListSort, StoreError};

const PAGE_SIZE: usize = 25;
/// How many records a link's drop-down offers.
const MAX_OPTIONS: usize = 200;

/// `base?k=v&…`, leaving out empty values.
pub fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (k, v) in params {
        if !v.is_empty() {
            ser.append_pair(k, v);
            any = true;
        }
    }
    if any {
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}{}", ser.finish())
    } else {
        base.to_string()
    }
}

fn query(raw: Option<String>) -> FormData {
    FormData::parse(raw.unwrap_or_default().as_bytes())
}

fn record_href(slug: &str, kind: EntityKind, id: &str) -> String {
    format!("/{slug}/{}/{id}", spec(kind).path)
}

fn is_id(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok()
}

/// The cells of one list row.
async fn row(
    look: &mut Lookup<'_>,
    spec: &EntitySpec,
    map: &Map<String, Value>,
    skip: Option<&str>,
) -> Result<Vec<Cell>, StoreError> {
    let slug = look.db().slug().as_str().to_string();
    let id = map.get("id").and_then(Value::as_str).unwrap_or("");
    let mut cells = Vec::new();
    for (col, _) in spec.columns {
        if Some(*col) == skip {
            continue;
        }
        let cell = match *col {
            "_title" => Cell::link(
                fields::title(spec.kind, map),
                record_href(&slug, spec.kind, id),
            ),
            "_when" => Cell::text(fields::when(map).map(show_time).unwrap_or_default()),
            "amount" => Cell::text(fields::sale_amount(map)),
            name => match spec.field(name) {
                Some(f) => look.cell(f, map.get(name)).await?.unwrap_or_default(),
                None => Cell::default(),
            },
        };
        cells.push(cell);
    }
    Ok(cells)
}

fn headers(spec: &EntitySpec, skip: Option<&str>) -> Vec<&'static str> {
    spec.columns
        .iter()
        .filter(|(c, _)| Some(*c) != skip)
        .map(|(_, h)| *h)
        .collect()
}

/// Link filters a list understands from its query (`?company_id=…`).
fn link_filters(kind: EntityKind, params: &FormData) -> Vec<(String, String)> {
    spec(kind)
        .fields
        .iter()
        .filter(|f| matches!(f.input, Input::Link(_)))
        .filter_map(|f| {
            let v = params.text(f.name);
            is_id(&v).then(|| (f.name.to_string(), v))
        })
        .collect()
}

/// The orders a list offers, as the "Sort by" choice names them.
const SORTS: [(ListSort, &str); 6] = [
    (ListSort::Name, "Name, A to Z"),
    (ListSort::NameDesc, "Name, Z to A"),
    (ListSort::UpdatedDesc, "Recently changed"),
    (ListSort::Updated, "Least recently changed"),
    (ListSort::CreatedDesc, "Newest"),
    (ListSort::Created, "Oldest"),
];

/// The records a list's address asks for: its search, link filters, "Only mine" and order
/// (search results come in match order; the chosen order applies to the plain list).
fn list_query(kind: EntityKind, me: &str, params: &FormData) -> ListQuery {
    let q = params.text("q");
    let mut filters = link_filters(kind, params);
    if !params.text("mine").is_empty() {
        filters.push(("owner_id".into(), me.to_string()));
    }
    let sort = ListSort::parse(&params.text("sort")).unwrap_or_default();
    ListQuery {
        sort: if q.is_empty() { sort } else { ListSort::Name },
        q: (!q.is_empty()).then_some(q),
        limit: None,
        cursor: None,
        filters,
    }
}

async fn list(
    kind: EntityKind,
    auth: UiAuth<impl Requirement>,
    raw: Option<String>,
) -> Result<Response, UiError> {
    let spec = spec(kind);
    let slug = auth.slug().to_string();
    let params = query(raw);
    let q = params.text("q");
    let cursor = params.text("cursor");
    let mine = !params.text("mine").is_empty();
    // Search results come in match order; the chosen order applies to the plain list.
    let sort = ListSort::parse(&params.text("sort")).unwrap_or_default();
    let sort_s = if sort == ListSort::Name {
        ""
    } else {
        sort.as_str()
    };
    let links = link_filters(kind, &params);
    let result = list_maps(
        auth.db(),
        &auth.sight(),
        kind,
        &ListQuery {
            limit: Some(PAGE_SIZE),
            cursor: (!cursor.is_empty()).then(|| cursor.clone()),
            ..list_query(kind, &auth.user().id, &params)
        },
    )
    .await;
    let page = match result {
        Ok(p) => p,
        // A stale or edited cursor: start again from the first page.
        Err(StoreError::Invalid(_)) if !cursor.is_empty() => {
            let base = format!("/{slug}/{}", spec.path);
            return Ok(
                Redirect::to(&with_query(&base, &[("q", &q), ("sort", sort_s)])).into_response(),
            );
        }
        Err(e) => return Err(e.into()),
    };

    let mut look = auth.lookup();
    let mut rows = Vec::with_capacity(page.items.len());
    for item in &page.items {
        rows.push(row(&mut look, spec, item, None).await?);
    }
    let base = format!("/{slug}/{}", spec.path);
    let mut keep: Vec<(String, String)> = links.clone();
    let mine_s = if mine { "1" } else { "" };
    let mut state: Vec<(&str, &str)> = vec![("q", &q), ("mine", mine_s), ("sort", sort_s)];
    for (k, v) in &keep {
        state.push((k, v));
    }
    let next_href = page.next_cursor.as_deref().map(|c| {
        let mut p = state.clone();
        p.push(("cursor", c));
        with_query(&base, &p)
    });
    let first_href = (!cursor.is_empty()).then(|| with_query(&base, &state));
    // Holders of `export` download what the list shows, every page of it.
    let export_hrefs = auth.can(Right::Export).then(|| {
        let href = |format| {
            let mut p = state.clone();
            p.push(("format", format));
            with_query(&format!("{base}/export"), &p)
        };
        (href("csv"), href("jsonl"))
    });
    let filter_note = match links.first() {
        Some((field, id)) => {
            let target = match spec.field(field).map(|f| f.input) {
                Some(Input::Link(k)) => k,
                _ => EntityKind::Company,
            };
            let name = look
                .title(target, id)
                .await?
                .unwrap_or_else(|| "(deleted)".into());
            Some((
                format!("{} linked to {name}", spec.plural),
                with_query(&base, &[("q", &q)]),
            ))
        }
        None => None,
    };
    let new_href = auth.can(Right::on(kind, Access::Write)).then(|| {
        let mut p: Vec<(&str, &str)> = Vec::new();
        for (k, v) in &keep {
            p.push((k, v));
        }
        with_query(&format!("{base}/new"), &p)
    });
    let empty_text = if q.is_empty() && !mine && links.is_empty() {
        format!("No {} yet.", spec.plural.to_lowercase())
    } else {
        format!("No {} match.", spec.plural.to_lowercase())
    };
    keep.retain(|(k, _)| k != "q" && k != "mine");
    let page = ListPage {
        chrome: Chrome::new(&auth, spec.path, spec.plural).with_flash(params.get("msg")),
        path: spec.path,
        plural: spec.plural,
        new_label: spec.new_label,
        new_href,
        search_label: format!("Search {}", spec.plural.to_lowercase()),
        q,
        mine,
        keep,
        filter_note,
        headers: headers(spec, None),
        rows,
        empty_text,
        next_href,
        first_href,
        export_hrefs,
        sort_options: SORTS
            .iter()
            .map(|(s, label)| Opt {
                value: s.as_str().to_string(),
                label: label.to_string(),
                selected: *s == sort,
            })
            .collect(),
    };
    ok(&page)
}

/// The stage choices of the pipeline's "Move" form: each stage, then won and lost.
pub fn move_options(map: &Map<String, Value>) -> Vec<Opt> {
    let stage = map.get("stage").and_then(Value::as_str).unwrap_or("");
    let status = map.get("status").and_then(Value::as_str).unwrap_or("open");
    let mut out: Vec<Opt> = fields::STAGES
        .iter()
        .map(|(v, l)| Opt {
            value: format!("stage:{v}"),
            label: l.to_string(),
            selected: status == "open" && *v == stage,
        })
        .collect();
    for (v, l) in [("won", "Won"), ("lost", "Lost")] {
        out.push(Opt {
            value: format!("status:{v}"),
            label: l.to_string(),
            selected: status == v,
        });
    }
    out
}

async fn history_rows(
    look: &mut Lookup<'_>,
    spec: &EntitySpec,
    id: &str,
) -> Result<Vec<HistoryRow>, StoreError> {
    let entries = look.db().history(spec.kind.name(), id).await?;
    let mut rows = Vec::with_capacity(entries.len());
    // Newest first.
    for h in entries.into_iter().rev() {
        let mut changes = Vec::new();
        for (name, change) in &h.changes {
            let Some(f) = spec.field(name) else { continue };
            let text = |c: Option<Cell>| c.map(|c| c.text).unwrap_or_default();
            let from = text(look.cell(f, change.get("from")).await?);
            let to = text(look.cell(f, change.get("to")).await?);
            if h.op == JournalOp::Create && to.is_empty() {
                continue;
            }
            changes.push((
                f.label.to_string(),
                if h.op == JournalOp::Create {
                    String::new()
                } else if from.is_empty() {
                    "(empty)".into()
                } else {
                    from
                },
                if to.is_empty() { "(empty)".into() } else { to },
            ));
        }
        rows.push(HistoryRow {
            at: show_time(&h.at),
            who: look.user_name(&h.actor).await?,
            what: match h.op {
                JournalOp::Create => "Created",
                JournalOp::Update => "Changed",
                JournalOp::Delete => "Deleted",
            },
            changes,
        });
    }
    Ok(rows)
}

async fn detail(
    kind: EntityKind,
    auth: UiAuth<impl Requirement>,
    id: String,
    raw: Option<String>,
) -> Result<Response, UiError> {
    let spec = spec(kind);
    let slug = auth.slug().to_string();
    let params = query(raw);
    let map = get_map(auth.db(), &auth.sight(), kind, &id).await?;
    let title = fields::title(kind, &map);
    let here = record_href(&slug, kind, &id);
    let mut look = auth.lookup();
    look.remember(kind, &id, &map);

    let mut facts = Vec::new();
    for f in spec.fields {
        if spec.title_fields.contains(&f.name) || f.name == "notes" {
            continue;
        }
        if kind == EntityKind::Sale && f.name == "currency" {
            continue;
        }
        let cell = if f.name == "amount" {
            Some(fields::sale_amount(&map))
                .filter(|a| !a.is_empty())
                .map(Cell::text)
        } else {
            look.cell(f, map.get(f.name)).await?
        };
        if let Some(c) = cell {
            facts.push((f.label, c));
        }
    }
    let notes = map
        .get("notes")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);

    let mut actions = Vec::new();
    if auth.can(Right::on(kind, Access::Write)) {
        actions.push(Action {
            label: "Edit".into(),
            href: format!("{here}/edit"),
            primary: true,
        });
        if kind != EntityKind::Activity && auth.can(Right::ActivitiesWrite) {
            let link = match kind {
                EntityKind::Company => "company_id",
                EntityKind::Person => "person_id",
                _ => "sale_id",
            };
            actions.push(Action {
                label: "Log activity".into(),
                href: with_query(
                    &format!("/{slug}/activities/new"),
                    &[(link, &id), ("kind", "call"), ("return_to", &here)],
                ),
                primary: false,
            });
        }
    }
    if auth.can(Right::on(kind, Access::Delete)) {
        actions.push(Action {
            label: "Delete".into(),
            href: format!("{here}/delete"),
            primary: false,
        });
    }

    let mut sections = Vec::new();
    for (dep, field) in kind.dependents() {
        // Only the kinds this user may read.
        if !auth.can(Right::on(dep, Access::Read)) {
            continue;
        }
        let dep_spec = spec_of(dep);
        let page = list_maps(
            auth.db(),
            &auth.sight(),
            dep,
            &ListQuery {
                q: None,
                limit: Some(10),
                cursor: None,
                filters: vec![(field.to_string(), id.clone())],
                sort: ListSort::Name,
            },
        )
        .await?;
        let mut rows = Vec::new();
        for item in &page.items {
            rows.push(row(&mut look, dep_spec, item, Some(field)).await?);
        }
        let list_href = with_query(&format!("/{slug}/{}", dep_spec.path), &[(field, &id)]);
        sections.push(Section {
            id: format!("related-{}", dep_spec.path),
            title: dep_spec.plural.to_string(),
            new_label: if dep == EntityKind::Activity {
                "Log activity".into()
            } else {
                dep_spec.new_label.to_string()
            },
            new_href: auth.can(Right::on(dep, Access::Write)).then(|| {
                with_query(
                    &format!("/{slug}/{}/new", dep_spec.path),
                    &[(field, &id), ("return_to", &here)],
                )
            }),
            more_href: page.next_cursor.is_some().then_some(list_href),
            headers: headers(dep_spec, Some(field)),
            rows,
            empty: format!("No {}.", dep_spec.plural.to_lowercase()),
        });
    }
    let move_form = (kind == EntityKind::Sale && auth.can(Right::SalesWrite)).then(|| MoveForm {
        action: format!("{here}/move"),
        id: id.clone(),
        options: move_options(&map),
        return_to: None,
    });
    let history = history_rows(&mut look, spec, &id).await?;
    let str_at = |k: &str| show_time(map.get(k).and_then(Value::as_str).unwrap_or(""));
    let page = DetailPage {
        chrome: Chrome::new(&auth, spec.path, title.clone()).with_flash(params.get("msg")),
        kind_label: spec.one_title,
        title,
        facts,
        notes,
        actions,
        move_form,
        sections,
        history,
        created: str_at("created_at"),
        updated: str_at("updated_at"),
    };
    ok(&page)
}

fn spec_of(kind: EntityKind) -> &'static EntitySpec {
    spec(kind)
}

/// The form's fields with their values, choices and errors.
async fn form_fields(
    look: &mut Lookup<'_>,
    spec: &EntitySpec,
    values: &Map<String, Value>,
    errors: &FieldErrors,
) -> Result<Vec<FormField>, StoreError> {
    let mut out = Vec::new();
    for f in spec.fields {
        let value = form_value(f, values.get(f.name));
        let error = {
            let msgs: Vec<&str> = errors
                .0
                .iter()
                .filter(|e| error_field(&e.field) == f.name)
                .map(|e| e.message.as_str())
                .collect();
            (!msgs.is_empty()).then(|| msgs.join("; "))
        };
        let mut options = Vec::new();
        let mut more_note = None;
        let kind = match f.input {
            Input::Text | Input::Amount | Input::Currency => "text",
            Input::Email => "email",
            Input::Tel => "tel",
            Input::Url => "url",
            Input::Textarea => "textarea",
            Input::Lines { .. } => "lines",
            Input::Number => "number",
            Input::Date => "date",
            Input::DateTime => "datetime-local",
            Input::Check => "checkbox",
            Input::Choice(choices) => {
                options = choices
                    .iter()
                    .map(|(v, l)| Opt {
                        value: v.to_string(),
                        label: l.to_string(),
                        selected: *v == value,
                    })
                    .collect();
                "select"
            }
            Input::Link(target) => {
                // Only records of a kind the user may read are offered.
                let page = if look.reads(target) {
                    list_maps(
                        look.db(),
                        look.sight(),
                        target,
                        &ListQuery {
                            limit: Some(MAX_OPTIONS),
                            ..ListQuery::default()
                        },
                    )
                    .await?
                } else {
                    skjold_store::Page {
                        items: Vec::new(),
                        next_cursor: None,
                    }
                };
                if page.next_cursor.is_some() {
                    more_note = Some(format!(
                        "Shows the first {MAX_OPTIONS} {}; to link another, open it and start from there.",
                        spec_of(target).plural.to_lowercase()
                    ));
                }
                let mut found = false;
                for item in &page.items {
                    let id = item.get("id").and_then(Value::as_str).unwrap_or("");
                    found |= id == value;
                    options.push(Opt {
                        value: id.to_string(),
                        label: fields::title(target, item),
                        selected: id == value,
                    });
                }
                if !found && !value.is_empty() {
                    let label = look
                        .title(target, &value)
                        .await?
                        .unwrap_or_else(|| "(deleted)".into());
                    options.insert(
                        0,
                        Opt {
                            value: value.clone(),
                            label,
                            selected: true,
                        },
                    );
                }
                "select"
            }
            Input::Owner => {
                for u in look.db().users_within(look.sight()).await? {
                    if u.status != skjold_store::UserStatus::Active && u.id != value {
                        continue;
                    }
                    options.push(Opt {
                        selected: u.id == value,
                        label: match &u.display_name {
                            Some(n) => format!("{n} ({})", u.username),
                            None => u.username.clone(),
                        },
                        value: u.id,
                    });
                }
                "select"
            }
        };
        let id = format!("f-{}", f.name);
        let mut described_by = Vec::new();
        if !f.hint.is_empty() {
            described_by.push(format!("{id}-hint"));
        }
        if error.is_some() {
            described_by.push(format!("{id}-error"));
        }
        out.push(FormField {
            name: f.name,
            label: f.label,
            kind,
            checked: values.get(f.name) == Some(&Value::Bool(true)),
            value,
            // Without an owner a record is seen only by those who see everything: others
            // must name one (the store refuses an empty owner on their edits).
            required: f.required
                || (matches!(f.input, Input::Owner) && !look.sight().sees_everything()),
            hint: f.hint.to_string(),
            error,
            options,
            described_by: described_by.join(" "),
            more_note,
            list: None,
            id,
        });
    }
    Ok(out)
}

/// Errors that belong to no field of the form.
fn general_errors(spec: &EntitySpec, errors: &FieldErrors) -> Vec<String> {
    errors
        .0
        .iter()
        .filter(|e| spec.field(error_field(&e.field)).is_none())
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn form_page<R: Requirement>(
    auth: &UiAuth<R>,
    spec: &EntitySpec,
    heading: String,
    action: String,
    cancel_href: String,
    values: &Map<String, Value>,
    errors: &FieldErrors,
    conflict: Option<String>,
    return_to: Option<String>,
    status: StatusCode,
) -> Result<Response, UiError> {
    let mut look = auth.lookup();
    let fields = form_fields(&mut look, spec, values, errors).await?;
    let mut general = general_errors(spec, errors);
    general.extend(conflict);
    let page = FormPage {
        chrome: Chrome::new(auth, spec.path, heading.clone()),
        heading,
        action,
        cancel_href,
        field_errors: fields.iter().any(|f| f.error.is_some()),
        fields,
        errors: general,
        return_to,
    };
    render(status, &page)
}

async fn new_form(
    kind: EntityKind,
    auth: UiAuth<impl Requirement>,
    raw: Option<String>,
) -> Result<Response, UiError> {
    let spec = spec(kind);
    let slug = auth.slug().to_string();
    let params = query(raw);
    let mut values = Map::new();
    values.insert("owner_id".into(), Value::String(auth.user().id.clone()));
    match kind {
        EntityKind::Activity => {
            let k = params.text("kind");
            let k = if fields::KINDS.iter().any(|(v, _)| *v == k) {
                k
            } else {
                "task".into()
            };
            values.insert("kind".into(), Value::String(k));
        }
        EntityKind::Sale => {
            values.insert("currency".into(), Value::String("EUR".into()));
            values.insert("stage".into(), Value::String("lead".into()));
            values.insert("status".into(), Value::String("open".into()));
            values.insert("probability".into(), Value::from(10));
        }
        _ => {}
    }
    for (k, v) in link_filters(kind, &params) {
        values.insert(k, Value::String(v));
    }
    let return_to = safe_next(&slug, params.get("return_to"));
    let cancel = return_to
        .clone()
        .unwrap_or_else(|| format!("/{slug}/{}", spec.path));
    form_page(
        &auth,
        spec,
        spec.new_label.to_string(),
        format!("/{slug}/{}", spec.path),
        cancel,
        &values,
        &FieldErrors::new(),
        None,
        return_to,
        StatusCode::OK,
    )
    .await
}

fn conflict_text(m: &str) -> String {
    // The store speaks to API clients ("… or delete with ?cascade=true"); keep the reason.
    let reason = m.split(';').next().unwrap_or(m);
    let mut s = reason.to_string();
    if let Some(first) = s.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    s
}

async fn create(kind: EntityKind, post: Post<impl Requirement>) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let spec = spec(kind);
    let slug = auth.slug().to_string();
    let return_to = safe_next(&slug, form.get("return_to"));
    let cancel = return_to
        .clone()
        .unwrap_or_else(|| format!("/{slug}/{}", spec.path));
    let (map, errs) = form_to_map(spec, &form);
    let outcome = if errs.is_empty() {
        create_map(&auth.ctx(), &auth.acting(), kind, map.clone()).await
    } else {
        Err(AppError::Invalid(errs))
    };
    let (errors, conflict, status) = match outcome {
        Ok(record) => {
            let id = record.get("id").and_then(Value::as_str).unwrap_or("");
            let to = match return_to {
                Some(r) => with_query(&r, &[("msg", "created")]),
                None => format!("{}?msg=created", record_href(&slug, kind, id)),
            };
            return Ok(Redirect::to(&to).into_response());
        }
        Err(AppError::Invalid(f)) => (f, None, StatusCode::UNPROCESSABLE_ENTITY),
        Err(AppError::Conflict(m)) => (
            FieldErrors::new(),
            Some(conflict_text(&m)),
            StatusCode::CONFLICT,
        ),
        Err(e) => return Err(e.into()),
    };
    form_page(
        &auth,
        spec,
        spec.new_label.to_string(),
        format!("/{slug}/{}", spec.path),
        cancel,
        &map,
        &errors,
        conflict,
        return_to,
        status,
    )
    .await
}

async fn edit_form(
    kind: EntityKind,
    auth: UiAuth<impl Requirement>,
    id: String,
) -> Result<Response, UiError> {
    let spec = spec(kind);
    let slug = auth.slug().to_string();
    let map = get_map(auth.db(), &auth.sight(), kind, &id).await?;
    let here = record_href(&slug, kind, &id);
    form_page(
        &auth,
        spec,
        format!("Edit {}", fields::title(kind, &map)),
        format!("{here}/edit"),
        here,
        &map,
        &FieldErrors::new(),
        None,
        None,
        StatusCode::OK,
    )
    .await
}

async fn update(
    kind: EntityKind,
    id: String,
    post: Post<impl Requirement>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let spec = spec(kind);
    let slug = auth.slug().to_string();
    let current = get_map(auth.db(), &auth.sight(), kind, &id).await?;
    let here = record_href(&slug, kind, &id);
    let (map, errs) = form_to_map(spec, &form);
    let outcome = if errs.is_empty() {
        update_map(&auth.ctx(), &auth.acting(), kind, &id, map.clone()).await
    } else {
        Err(AppError::Invalid(errs))
    };
    let (errors, conflict, status) = match outcome {
        Ok(_) => return Ok(Redirect::to(&format!("{here}?msg=saved")).into_response()),
        Err(AppError::Invalid(f)) => (f, None, StatusCode::UNPROCESSABLE_ENTITY),
        Err(AppError::Conflict(m)) => (
            FieldErrors::new(),
            Some(conflict_text(&m)),
            StatusCode::CONFLICT,
        ),
        Err(e) => return Err(e.into()),
    };
    form_page(
        &auth,
        spec,
        format!("Edit {}", fields::title(kind, &current)),
        format!("{here}/edit"),
        here,
        &map,
        &errors,
        conflict,
        None,
        status,
    )
    .await
}

async fn delete_form(
    kind: EntityKind,
    auth: UiAuth<impl Requirement>,
    id: String,
) -> Result<Response, UiError> {
    let spec = spec(kind);
    let slug = auth.slug().to_string();
    let map = get_map(auth.db(), &auth.sight(), kind, &id).await?;
    let here = record_href(&slug, kind, &id);
    let title = fields::title(kind, &map);
    ok(&DeletePage {
        chrome: Chrome::new(&auth, spec.path, format!("Delete {title}")),
        one: spec.one,
        title,
        action: format!("{here}/delete"),
        cancel_href: here,
        conflict: None,
    })
}

async fn delete(
    kind: EntityKind,
    id: String,
    post: Post<impl Requirement>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let spec = spec(kind);
    let slug = auth.slug().to_string();
    let map = get_map(auth.db(), &auth.sight(), kind, &id).await?;
    let cascade = !form.text("cascade").is_empty();
    match records::delete(&auth.ctx(), &auth.acting(), kind, &id, cascade).await {
        Ok(()) => Ok(Redirect::to(&format!("/{slug}/{}?msg=deleted", spec.path)).into_response()),
        Err(AppError::Conflict(m)) => {
            let here = record_href(&slug, kind, &id);
            let title = fields::title(kind, &map);
            render(
                StatusCode::CONFLICT,
                &DeletePage {
                    chrome: Chrome::new(&auth, spec.path, format!("Delete {title}")),
                    one: spec.one,
                    title,
                    action: format!("{here}/delete"),
                    cancel_href: here,
                    conflict: Some(format!(
                        "{}. Delete or relink them first, or tick the box below to delete them too.",
                        conflict_text(&m)
                    )),
                },
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// Marks an activity done (the dashboard's "Done" button).
async fn mark_done(id: String, post: Post<Write<Activity>>) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let slug = auth.slug().to_string();
    let mut patch = Map::new();
    patch.insert("done".into(), Value::Bool(true));
    if !is_id(&id) {
        return Err(UiError::NotFound);
    }
    update_map(
        &auth.ctx(),
        &auth.acting(),
        EntityKind::Activity,
        &id,
        patch,
    )
    .await?;
    let to = safe_next(&slug, form.get("return_to"))
        .unwrap_or_else(|| record_href(&slug, EntityKind::Activity, &id));
    Ok(Redirect::to(&with_query(&to, &[("msg", "done")])).into_response())
}

/// Moves a sale to a stage, or closes it as won or lost (pipeline board, sale page).
async fn move_sale(id: String, post: Post<Write<Sale>>) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let slug = auth.slug().to_string();
    if !is_id(&id) {
        return Err(UiError::NotFound);
    }
    let to = form.text("to");
    let mut patch = Map::new();
    match to.split_once(':') {
        Some(("stage", s)) if fields::STAGES.iter().any(|(v, _)| *v == s) => {
            patch.insert("stage".into(), Value::String(s.into()));
            patch.insert("status".into(), Value::String("open".into()));
        }
        Some(("status", s)) if fields::STATUSES.iter().any(|(v, _)| *v == s) => {
            patch.insert("status".into(), Value::String(s.into()));
        }
        _ => {
            return Err(UiError::BadRequest(
                "choose a stage to move the sale to".into(),
            ))
        }
    }
    update_map(&auth.ctx(), &auth.acting(), EntityKind::Sale, &id, patch).await?;
    let back = safe_next(&slug, form.get("return_to"))
        .unwrap_or_else(|| record_href(&slug, EntityKind::Sale, &id));
    Ok(Redirect::to(&with_query(&back, &[("msg", "moved")])).into_response())
}

/// A GET of an action's address (after signing in again): show the record.
async fn show_record(kind: EntityKind, tenant: String, id: String) -> Response {
    // Both come from the (decoded) path: check them before they go into a Location.
    match skjold_domain::TenantSlug::parse(&tenant) {
        Ok(slug) if is_id(&id) => {
            Redirect::to(&record_href(slug.as_str(), kind, &id)).into_response()
        }
        _ => UiError::NotFound.into_response(),
    }
}

/// Every record the list's address matches, as a CSV or JSON-lines download (the API's
/// export, with the list's own parameters); recorded as `records.exported` first.
async fn export<E: Entity>(
    state: AppState,
    auth: UiAuth<Export<E>>,
    raw: Option<String>,
) -> Result<Response, UiError> {
    let params = query(raw);
    let format = ExportFormat::parse(&params.text("format"))
        .ok_or_else(|| UiError::BadRequest("choose the export format: csv or jsonl".into()))?;
    let query = list_query(E::KIND, &auth.user().id, &params);
    let export = records::export::<E>(&auth.ctx(), &auth.acting(), query, format.as_str()).await?;
    Ok(records_export::response(
        auth.db(),
        export,
        format,
        state.clock.now(),
    ))
}

/// The screens of one record type. Each handler's extractor names the right it needs, and
/// the right follows from the type: `Read<Company>` is `companies.read`.
fn routes<E: Entity + 'static>() -> Router<AppState> {
    let kind = E::KIND;
    let p = spec(kind).path;
    Router::new()
        .route(
            &format!("/{{tenant}}/{p}"),
            get(move |auth: UiAuth<Read<E>>, RawQuery(raw): RawQuery| list(kind, auth, raw))
                .post(move |post: Post<Write<E>>| create(kind, post)),
        )
        .route(
            &format!("/{{tenant}}/{p}/export"),
            get(
                move |State(state): State<AppState>,
                      auth: UiAuth<Export<E>>,
                      RawQuery(raw): RawQuery| export::<E>(state, auth, raw),
            ),
        )
        .route(
            &format!("/{{tenant}}/{p}/new"),
            get(move |auth: UiAuth<Write<E>>, RawQuery(raw): RawQuery| new_form(kind, auth, raw)),
        )
        .route(
            &format!("/{{tenant}}/{p}/{{id}}"),
            get(
                move |auth: UiAuth<Read<E>>,
                      Path((_, id)): Path<(String, String)>,
                      RawQuery(raw): RawQuery| detail(kind, auth, id, raw),
            ),
        )
        .route(
            &format!("/{{tenant}}/{p}/{{id}}/edit"),
            get(
                move |auth: UiAuth<Write<E>>, Path((_, id)): Path<(String, String)>| {
                    edit_form(kind, auth, id)
                },
            )
            .post(
                move |Path((_, id)): Path<(String, String)>, post: Post<Write<E>>| {
                    update(kind, id, post)
                },
            ),
        )
        .route(
            &format!("/{{tenant}}/{p}/{{id}}/delete"),
            get(
                move |auth: UiAuth<Delete<E>>, Path((_, id)): Path<(String, String)>| {
                    delete_form(kind, auth, id)
                },
            )
            .post(
                move |Path((_, id)): Path<(String, String)>, post: Post<Delete<E>>| {
                    delete(kind, id, post)
                },
            ),
        )
}

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(routes::<Company>())
        .merge(routes::<Person>())
        .merge(routes::<Activity>())
        .merge(routes::<Sale>())
        .route(
            "/{tenant}/activities/{id}/done",
            get(|Path((t, id)): Path<(String, String)>| show_record(EntityKind::Activity, t, id))
                .post(
                    |Path((_, id)): Path<(String, String)>, post: Post<Write<Activity>>| {
                        mark_done(id, post)
                    },
                ),
        )
        .route(
            "/{tenant}/sales/{id}/move",
            get(|Path((t, id)): Path<(String, String)>| show_record(EntityKind::Sale, t, id)).post(
                |Path((_, id)): Path<(String, String)>, post: Post<Write<Sale>>| {
                    move_sale(id, post)
                },
            ),
        )
}
