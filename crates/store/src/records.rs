//! The one write path for CRM records, and their reads.
//!
//! Generic over [`Entity`]: each record type declares its columns and links once (in the
//! domain crate) and this module builds the SQL. Every create, update and delete writes the
//! row, its search index row and a journal entry in one transaction.
//!
//! Every method takes the reader's [`Sight`] and puts its condition into the SQL: a record
//! outside it is not found, cannot be linked to, and cannot be handed to an owner outside it.

use crate::journal::{self, Actor, Change, JournalOp};
use crate::search_index::{self, Doc, Hit};
use crate::sight::{Args, Sight};
use crate::{search, StoreError, TenantDb};
use base64::Engine;
use serde_json::{Map, Value};
use skjold_domain::crm::{Column, ColumnKind, Entity, EntityKind};
use skjold_domain::{parse_json, FieldErrors};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Row, Transaction};

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;

/// What a list request asks for.
#[derive(Debug, Default, Clone)]
pub struct ListQuery {
    /// Word-prefix search over the record's searchable fields.
    pub q: Option<String>,
    pub limit: Option<usize>,
    /// Opaque position returned as `next_cursor` by the previous page.
    pub cursor: Option<String>,
    /// Equality filters on link fields (`company_id`, …) and `owner_id`.
    pub filters: Vec<(String, String)>,
    /// The order of a list without `q` (search results come in relevance order: exact word
    /// matches before prefix matches, each by name).
    pub sort: ListSort,
}

/// The orders a list can be read in. Each has an index (`*_by_sort`, `*_by_updated`,
/// `*_by_created`), read backwards for the descending ones.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum ListSort {
    /// By name (the record's sort key), A to Z.
    #[default]
    Name,
    NameDesc,
    /// By the time of the last change, oldest first.
    Updated,
    /// Most recently changed first.
    UpdatedDesc,
    Created,
    CreatedDesc,
}

impl ListSort {
    pub const ALL: [ListSort; 6] = [
        Self::Name,
        Self::NameDesc,
        Self::Updated,
        Self::UpdatedDesc,
        Self::Created,
        Self::CreatedDesc,
    ];

    /// `name`, `-name`, `updated`, `-updated`, `created`, `-created`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::NameDesc => "-name",
            Self::Updated => "updated",
            Self::UpdatedDesc => "-updated",
            Self::Created => "created",
            Self::CreatedDesc => "-created",
        }
    }

    fn column(self) -> &'static str {
        match self {
            Self::Name | Self::NameDesc => "sort_key",
            Self::Updated | Self::UpdatedDesc => "updated_at",
            Self::Created | Self::CreatedDesc => "created_at",
        }
    }

    fn descending(self) -> bool {
        matches!(self, Self::NameDesc | Self::UpdatedDesc | Self::CreatedDesc)
    }
}

#[derive(Debug, Clone)]
pub struct Page<E> {
    pub items: Vec<E>,
    pub next_cursor: Option<String>,
}

type AnyQuery<'q> = Query<'q, Any, AnyArguments<'q>>;

pub(crate) fn select_list(prefix: &str, columns: &[Column]) -> String {
    let mut s = format!("{prefix}id, {prefix}created_at, {prefix}updated_at, {prefix}sort_key");
    for c in columns {
        s.push_str(", ");
        s.push_str(prefix);
        s.push_str(c.name);
    }
    s
}

fn bind_value<'q>(
    q: AnyQuery<'q>,
    kind: ColumnKind,
    v: &Value,
) -> Result<AnyQuery<'q>, StoreError> {
    let bad = || StoreError::Corrupt(format!("value {v} does not fit a {kind:?} column"));
    Ok(match kind {
        ColumnKind::Text => match v {
            Value::Null => q.bind(None::<String>),
            Value::String(s) => q.bind(Some(s.clone())),
            _ => return Err(bad()),
        },
        ColumnKind::Int => match v {
            Value::Null => q.bind(None::<i64>),
            Value::Number(n) => q.bind(Some(n.as_i64().ok_or_else(bad)?)),
            _ => return Err(bad()),
        },
        ColumnKind::Bool => match v {
            Value::Null => q.bind(None::<i64>),
            Value::Bool(b) => q.bind(Some(i64::from(*b))),
            _ => return Err(bad()),
        },
        ColumnKind::Json => match v {
            Value::Null => q.bind(None::<String>),
            other => q.bind(Some(other.to_string())),
        },
    })
}

pub(crate) fn row_to_record<E: Entity>(row: &AnyRow) -> Result<E, StoreError> {
    let mut map = Map::new();
    for name in ["id", "created_at", "updated_at"] {
        let v: String = row.try_get(name)?;
        map.insert(name.into(), Value::String(v));
    }
    for c in E::COLUMNS {
        let v = match c.kind {
            ColumnKind::Text => row
                .try_get::<Option<String>, _>(c.name)?
                .map(Value::String)
                .unwrap_or(Value::Null),
            ColumnKind::Int => row
                .try_get::<Option<i64>, _>(c.name)?
                .map(Value::from)
                .unwrap_or(Value::Null),
            ColumnKind::Bool => row
                .try_get::<Option<i64>, _>(c.name)?
                .map(|i| Value::Bool(i != 0))
                .unwrap_or(Value::Null),
            ColumnKind::Json => match row.try_get::<Option<String>, _>(c.name)? {
                Some(s) => serde_json::from_str(&s).map_err(|e| {
                    StoreError::Corrupt(format!("{}.{}: {e}", E::KIND.table(), c.name))
                })?,
                None => Value::Null,
            },
        };
        map.insert(c.name.into(), v);
    }
    serde_json::from_value(Value::Object(map))
        .map_err(|e| StoreError::Corrupt(format!("{} row: {e}", E::KIND.table())))
}

fn to_map<T: serde::Serialize>(v: &T) -> Result<Map<String, Value>, StoreError> {
    match serde_json::to_value(v) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(StoreError::Corrupt("record is not a JSON object".into())),
        Err(e) => Err(StoreError::Corrupt(e.to_string())),
    }
}

/// The cursor names the order it continues (`q` for search results), so that it is not
/// applied to another.
fn encode_cursor(order: &str, key: &str, id: &str) -> String {
    let raw = serde_json::json!([order, key, id]).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_cursor(cursor: &str, order: &str) -> Result<(String, String), StoreError> {
    let bad = || FieldErrors::single("cursor", "is not a cursor this server handed out");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| bad())?;
    let (of, key, id): (String, String, String) =
        serde_json::from_slice(&raw).map_err(|_| bad())?;
    if of != order {
        return Err(FieldErrors::single(
            "cursor",
            "belongs to a list in another order or search; start again from the first page",
        )
        .into());
    }
    Ok((key, id))
}

impl TenantDb {
    pub async fn get<E: Entity>(&self, sight: &Sight, id: &str) -> Result<E, StoreError> {
        let mut args = Args::default();
        let p = args.push(id.to_string());
        let sql = format!(
            "SELECT {} FROM {} r WHERE r.id = {p}{}",
            select_list("r.", E::COLUMNS),
            E::KIND.table(),
            sight.condition("r.owner_id", &mut args)
        );
        let row = args
            .bind_all(&sql)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        row_to_record(&row)
    }

    /// A page of records in name order, or — with `q` — the records matching the search:
    /// those where every query word is a whole word first, then those where some word
    /// matched only as a prefix, each in name order.
    pub async fn list<E: Entity>(
        &self,
        sight: &Sight,
        query: &ListQuery,
    ) -> Result<Page<E>, StoreError> {
        let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(
                FieldErrors::single("limit", format!("must be between 1 and {MAX_LIMIT}")).into(),
            );
        }
        for (field, value) in &query.filters {
            let known = field == "owner_id" || E::LINKS.iter().any(|l| l.field == field);
            if !known {
                return Err(
                    FieldErrors::single(field.as_str(), "is not a filter of this list").into(),
                );
            }
            if uuid::Uuid::try_parse(value).is_err() {
                return Err(FieldErrors::single(field.as_str(), "is not a valid id").into());
            }
        }
        let words = query
            .q
            .as_deref()
            .map(search::query_words)
            .unwrap_or_default();
        if !words.is_empty() && query.sort != ListSort::Name {
            return Err(FieldErrors::single(
                "sort",
                "cannot be combined with q: search results come in relevance order (exact word matches first, then by name)",
            )
            .into());
        }
        let order = if words.is_empty() {
            query.sort.as_str()
        } else {
            "q"
        };
        let cursor = query
            .cursor
            .as_deref()
            .map(|c| decode_cursor(c, order))
            .transpose()?;
        if !words.is_empty() {
            return self
                .search_page::<E>(sight, &words, &query.filters, cursor, limit)
                .await;
        }
        let table = E::KIND.table();

        // Arguments are numbered in the order they are pushed here.
        let mut args = Args::default();
        let mut sql = format!(
            "SELECT {} FROM {table} r WHERE 1 = 1",
            select_list("r.", E::COLUMNS)
        );
        sql.push_str(&sight.condition("r.owner_id", &mut args));
        let mut arg = |v: String| args.push(v);
        for (field, value) in &query.filters {
            sql.push_str(&format!(" AND r.{field} = {}", arg(value.clone())));
        }
        let column = query.sort.column();
        let (after, direction) = if query.sort.descending() {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        if let Some((key, id)) = &cursor {
            let k = arg(key.clone());
            let i = arg(id.clone());
            sql.push_str(&format!(
                " AND (r.{column} {after} {k} OR (r.{column} = {k} AND r.id {after} {i}))"
            ));
        }
        sql.push_str(&format!(
            " ORDER BY r.{column} {direction}, r.id {direction} LIMIT {}",
            limit + 1
        ));
        let rows = args.bind_all(&sql).fetch_all(&self.pool).await?;
        let mut items = Vec::with_capacity(rows.len().min(limit));
        let mut next_cursor = None;
        for (i, row) in rows.iter().enumerate() {
            if i == limit {
                let last = &rows[limit - 1];
                let key: String = last.try_get(column)?;
                let id: String = last.try_get("id")?;
                next_cursor = Some(encode_cursor(order, &key, &id));
                break;
            }
            items.push(row_to_record::<E>(row)?);
        }
        Ok(Page { items, next_cursor })
    }

    /// A page of search results: exact matches before prefix matches, each in name order
    /// (see [`crate::search_index`]). The cursor's key is the rank followed by the sort key.
    async fn search_page<E: Entity>(
        &self,
        sight: &Sight,
        words: &[String],
        filters: &[(String, String)],
        cursor: Option<(String, String)>,
        limit: usize,
    ) -> Result<Page<E>, StoreError> {
        let after = cursor
            .map(|(key, id)| {
                let mut chars = key.chars();
                let rank = chars.next().and_then(|c| c.to_digit(10)).ok_or_else(|| {
                    FieldErrors::single("cursor", "is not a cursor this server handed out")
                })?;
                Ok::<_, StoreError>(Hit {
                    rank: rank as u8,
                    sort_key: chars.as_str().to_string(),
                    id,
                })
            })
            .transpose()?;
        let hits = self
            .search_hits(E::KIND, words, sight, filters, after.as_ref(), limit + 1)
            .await?;
        let next_cursor = (hits.len() > limit).then(|| {
            let last = &hits[limit - 1];
            encode_cursor("q", &format!("{}{}", last.rank, last.sort_key), &last.id)
        });
        let shown = &hits[..hits.len().min(limit)];
        if shown.is_empty() {
            return Ok(Page {
                items: Vec::new(),
                next_cursor,
            });
        }
        // The records themselves, in the hits' order. The sight is applied again on the
        // records' own owners: the index's copy is kept in step, and this costs nothing.
        let mut args = Args::default();
        let ids: Vec<String> = shown.iter().map(|h| args.push(h.id.clone())).collect();
        let sql = format!(
            "SELECT {} FROM {} r WHERE r.id IN ({}){}",
            select_list("r.", E::COLUMNS),
            E::KIND.table(),
            ids.join(", "),
            sight.condition("r.owner_id", &mut args)
        );
        let rows = args.bind_all(&sql).fetch_all(&self.pool).await?;
        let mut by_id = std::collections::HashMap::with_capacity(rows.len());
        for row in &rows {
            let id: String = row.try_get("id")?;
            by_id.insert(id, row_to_record::<E>(row)?);
        }
        let items = shown.iter().filter_map(|h| by_id.remove(&h.id)).collect();
        Ok(Page { items, next_cursor })
    }

    /// Creates a record. An unset `owner_id` becomes the acting user.
    pub async fn create<E: Entity>(
        &self,
        sight: &Sight,
        actor: &Actor,
        input: E::Input,
    ) -> Result<E, StoreError> {
        let mut tx = self.write_tx().await?;
        let record = self.insert_in::<E>(&mut tx, sight, actor, input).await?;
        self.commit(tx).await?;
        Ok(record)
    }

    /// Creates many records in one transaction, all or none: each is validated, its links
    /// and owner checked within `sight`, indexed for search and journaled exactly as
    /// [`Self::create`] does, but in multi-row statements (links and owners are checked
    /// once per distinct target, rows, index rows and journal entries go in by the
    /// hundred). For imports and loaders. A refused record fails the whole batch with its
    /// own field errors.
    pub async fn create_many<E: Entity>(
        &self,
        sight: &Sight,
        actor: &Actor,
        inputs: Vec<E::Input>,
    ) -> Result<Vec<E>, StoreError> {
        use skjold_domain::crm::Validate;
        let now = self.now();
        let mut maps = Vec::with_capacity(inputs.len());
        for mut input in inputs {
            input.validate()?;
            let mut map = to_map(&input)?;
            if map.get("owner_id").is_some_and(Value::is_null) {
                if let Some(uid) = actor.user_id() {
                    map.insert("owner_id".into(), Value::String(uid.to_string()));
                }
            }
            map.insert(
                "id".into(),
                Value::String(crate::users::new_id(&self.clock)),
            );
            map.insert("created_at".into(), Value::String(now.clone()));
            map.insert("updated_at".into(), Value::String(now.clone()));
            maps.push(map);
        }
        let records = maps
            .iter()
            .map(|m| {
                serde_json::from_value::<E>(Value::Object(m.clone()))
                    .map_err(|e| StoreError::Corrupt(format!("new {}: {e}", E::KIND.name())))
            })
            .collect::<Result<Vec<E>, _>>()?;

        let mut tx = self.write_tx().await?;
        check_links_many::<E>(&mut tx, sight, &maps).await?;
        let table = E::KIND.table();
        let names: Vec<&str> = E::COLUMNS.iter().map(|c| c.name).collect();
        let width = 4 + names.len();
        let per_statement = (30_000 / width).clamp(1, 500);
        for (chunk, recs) in maps
            .chunks(per_statement)
            .zip(records.chunks(per_statement))
        {
            let mut sql = format!(
                "INSERT INTO {table} (id, sort_key, created_at, updated_at, {}) VALUES ",
                names.join(", ")
            );
            self.kind.push_value_rows(&mut sql, chunk.len(), width);
            let mut q = sqlx::query(&sql);
            for (map, record) in chunk.iter().zip(recs) {
                q = q
                    .bind(record.id().to_string())
                    .bind(record.sort_key())
                    .bind(now.clone())
                    .bind(now.clone());
                for c in E::COLUMNS {
                    q = bind_value(q, c.kind, map.get(c.name).unwrap_or(&Value::Null))?;
                }
            }
            q.execute(&mut *tx).await?;
        }
        let docs: Vec<Doc> = maps
            .iter()
            .zip(&records)
            .map(|(m, r)| Doc::of(r, m.get("owner_id").and_then(Value::as_str)))
            .collect();
        search_index::put_docs(&mut tx, &docs).await?;

        // The journal's after-images are the rows as stored, read back like a single
        // create reads its own.
        let mut stored = std::collections::HashMap::with_capacity(maps.len());
        for chunk in records.chunks(500) {
            let mut sql = format!("SELECT * FROM {table} WHERE id IN ");
            self.kind.push_value_rows(&mut sql, 1, chunk.len());
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q.bind(r.id().to_string());
            }
            for row in q.fetch_all(&mut *tx).await? {
                let id: String = row.try_get("id")?;
                stored.insert(id, crate::dump::row_to_json(&row)?);
            }
        }
        let mut entries = Vec::with_capacity(maps.len());
        for ((map, record), doc) in maps.into_iter().zip(&records).zip(&docs) {
            let row = stored.remove(record.id()).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "new {} {} not read back",
                    E::KIND.name(),
                    record.id()
                ))
            })?;
            let changed = E::COLUMNS
                .iter()
                .filter(|c| !map.get(c.name).is_none_or(Value::is_null))
                .map(|c| c.name.to_string())
                .collect();
            entries.push((
                Change {
                    entity: E::KIND.name(),
                    record_id: record.id(),
                    op: JournalOp::Create,
                    changed,
                    data: Some(Value::Object(map)),
                },
                journal::record_image(table, row, &doc.words),
            ));
        }
        journal::append_many(&mut tx, &now, actor, entries).await?;
        self.commit(tx).await?;
        Ok(records)
    }

    async fn insert_in<E: Entity>(
        &self,
        tx: &mut Transaction<'static, Any>,
        sight: &Sight,
        actor: &Actor,
        mut input: E::Input,
    ) -> Result<E, StoreError> {
        use skjold_domain::crm::Validate;
        input.validate()?;
        let mut map = to_map(&input)?;
        if map.get("owner_id").is_some_and(Value::is_null) {
            if let Some(uid) = actor.user_id() {
                map.insert("owner_id".into(), Value::String(uid.to_string()));
            }
        }
        let now = self.now();
        let id = crate::users::new_id(&self.clock);
        map.insert("id".into(), Value::String(id.clone()));
        map.insert("created_at".into(), Value::String(now.clone()));
        map.insert("updated_at".into(), Value::String(now.clone()));

        check_links::<E>(tx, sight, &map, None).await?;
        let record: E = serde_json::from_value(Value::Object(map.clone()))
            .map_err(|e| StoreError::Corrupt(format!("new {}: {e}", E::KIND.name())))?;

        let table = E::KIND.table();
        let names: Vec<&str> = E::COLUMNS.iter().map(|c| c.name).collect();
        let placeholders: Vec<String> = (5..5 + names.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "INSERT INTO {table} (id, sort_key, created_at, updated_at, {}) VALUES ($1, $2, $3, $4, {})",
            names.join(", "),
            placeholders.join(", ")
        );
        let mut q = sqlx::query(&sql)
            .bind(id.clone())
            .bind(record.sort_key())
            .bind(now.clone())
            .bind(now.clone());
        for c in E::COLUMNS {
            q = bind_value(q, c.kind, map.get(c.name).unwrap_or(&Value::Null))?;
        }
        q.execute(&mut **tx).await?;
        let owner = map.get("owner_id").and_then(Value::as_str);
        search_index::put_docs(tx, &[Doc::of(&record, owner)]).await?;
        let changed = E::COLUMNS
            .iter()
            .filter(|c| !map.get(c.name).is_none_or(Value::is_null))
            .map(|c| c.name.to_string())
            .collect();
        journal::append(
            tx,
            &now,
            actor,
            Change {
                entity: E::KIND.name(),
                record_id: &id,
                op: JournalOp::Create,
                changed,
                data: Some(Value::Object(map)),
            },
        )
        .await?;
        Ok(record)
    }

    /// Applies a partial update: the fields in `patch` replace the stored ones, `null`
    /// clears an optional field, and the result is checked like a new record.
    pub async fn update<E: Entity>(
        &self,
        sight: &Sight,
        actor: &Actor,
        id: &str,
        patch: Map<String, Value>,
    ) -> Result<E, StoreError> {
        use skjold_domain::crm::Validate;
        let table = E::KIND.table();
        let mut tx = self.write_tx().await?;
        let mut args = Args::default();
        let p = args.push(id.to_string());
        let sql = format!(
            "SELECT {} FROM {table} r WHERE r.id = {p}{}{}",
            select_list("r.", E::COLUMNS),
            sight.condition("r.owner_id", &mut args),
            self.lock_clause()
        );
        let row = args
            .bind_all(&sql)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let current: E = row_to_record(&row)?;
        let current_map = to_map(&current)?;

        let mut merged: Map<String, Value> = E::COLUMNS
            .iter()
            .map(|c| {
                (
                    c.name.to_string(),
                    current_map.get(c.name).cloned().unwrap_or(Value::Null),
                )
            })
            .collect();
        for (k, v) in patch {
            merged.insert(k, v);
        }
        let mut input: E::Input = parse_json(Value::Object(merged))?;
        input.validate()?;
        let input_map = to_map(&input)?;
        check_links::<E>(&mut tx, sight, &input_map, Some(&current_map)).await?;

        let mut new_map = current_map.clone();
        for (k, v) in input_map {
            new_map.insert(k, v);
        }
        let changed: Vec<String> = E::COLUMNS
            .iter()
            .filter(|c| new_map.get(c.name) != current_map.get(c.name))
            .map(|c| c.name.to_string())
            .collect();
        if changed.is_empty() {
            tx.rollback().await?;
            return Ok(current);
        }
        let now = self.now();
        new_map.insert("updated_at".into(), Value::String(now.clone()));
        let record: E = serde_json::from_value(Value::Object(new_map.clone()))
            .map_err(|e| StoreError::Corrupt(format!("updated {}: {e}", E::KIND.name())))?;

        let sets: Vec<String> = E::COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{} = ${}", c.name, i + 4))
            .collect();
        let sql = format!(
            "UPDATE {table} SET sort_key = $1, updated_at = $2, {} WHERE id = $3",
            sets.join(", ")
        );
        let mut q = sqlx::query(&sql)
            .bind(record.sort_key())
            .bind(now.clone())
            .bind(id.to_string());
        for c in E::COLUMNS {
            q = bind_value(q, c.kind, new_map.get(c.name).unwrap_or(&Value::Null))?;
        }
        q.execute(&mut *tx).await?;
        let owner = new_map.get("owner_id").and_then(Value::as_str);
        search_index::put_docs(&mut tx, &[Doc::of(&record, owner)]).await?;
        journal::append(
            &mut tx,
            &now,
            actor,
            Change {
                entity: E::KIND.name(),
                record_id: id,
                op: JournalOp::Update,
                changed,
                data: Some(Value::Object(new_map)),
            },
        )
        .await?;
        self.commit(tx).await?;
        Ok(record)
    }

    /// Deletes a record. Records linked to it make this a conflict unless `cascade` is set,
    /// in which case they are deleted too (each one journaled).
    pub async fn delete(
        &self,
        sight: &Sight,
        actor: &Actor,
        kind: EntityKind,
        id: &str,
        cascade: bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let mut args = Args::default();
        let p = args.push(id.to_string());
        let sql = format!(
            "SELECT r.id FROM {} r WHERE r.id = {p}{}{}",
            kind.table(),
            sight.condition("r.owner_id", &mut args),
            self.lock_clause()
        );
        let exists = args.bind_all(&sql).fetch_optional(&mut *tx).await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        if !cascade {
            let mut linked = Vec::new();
            for (dep, field) in kind.dependents() {
                let n: i64 = sqlx::query_scalar(&format!(
                    "SELECT COUNT(*) FROM {} WHERE {field} = $1",
                    dep.table()
                ))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
                if n > 0 {
                    linked.push(format!(
                        "{n} {}",
                        if n == 1 { dep.name() } else { dep.table() }
                    ));
                }
            }
            if !linked.is_empty() {
                return Err(StoreError::Conflict(format!(
                    "this {} has linked records ({}); delete or relink them first, or delete with ?cascade=true",
                    kind.name(),
                    linked.join(", ")
                )));
            }
        }
        let now = self.now();
        delete_cascading(&mut tx, sight, &now, actor, kind, id.to_string()).await?;
        self.commit(tx).await?;
        Ok(())
    }
}

/// Deletes the record after everything that links to it, depth first.
///
/// A reader who does not see every linked record cannot cascade: the delete would remove
/// records they cannot see.
fn delete_cascading<'a>(
    tx: &'a mut Transaction<'static, Any>,
    sight: &'a Sight,
    now: &'a str,
    actor: &'a Actor,
    kind: EntityKind,
    id: String,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), StoreError>> + Send + 'a>> {
    Box::pin(async move {
        for (dep, field) in kind.dependents() {
            let ids: Vec<String> = sqlx::query_scalar(&format!(
                "SELECT id FROM {} WHERE {field} = $1",
                dep.table()
            ))
            .bind(&id)
            .fetch_all(&mut **tx)
            .await?;
            for dep_id in ids {
                if !sight.sees_everything() && !sees_in(tx, sight, dep.table(), &dep_id).await? {
                    return Err(StoreError::Conflict(format!(
                        "this {} has linked {} you cannot see; ask someone who sees them to delete it",
                        kind.name(),
                        dep.table()
                    )));
                }
                delete_cascading(tx, sight, now, actor, dep, dep_id).await?;
            }
        }
        let done = sqlx::query(&format!("DELETE FROM {} WHERE id = $1", kind.table()))
            .bind(&id)
            .execute(&mut **tx)
            .await?;
        if done.rows_affected() == 0 {
            // Reached twice through two links (an activity of a person of the company).
            return Ok(());
        }
        search_index::remove_doc(tx, kind.name(), &id).await?;
        journal::append(
            tx,
            now,
            actor,
            Change {
                entity: kind.name(),
                record_id: &id,
                op: JournalOp::Delete,
                changed: vec![],
                data: None,
            },
        )
        .await
    })
}

/// Every link in `map` must name an existing record of this tenant that the writer sees,
/// and the owner a user within the writer's sight: a clear error beats a foreign-key
/// failure, and a record one cannot see answers like one that does not exist. On an update
/// (`current` given) only the links that change are checked, so that someone may edit a
/// record that a colleague linked to something they cannot see.
async fn check_links<E: Entity>(
    tx: &mut Transaction<'static, Any>,
    sight: &Sight,
    map: &Map<String, Value>,
    current: Option<&Map<String, Value>>,
) -> Result<(), StoreError> {
    let unchanged = |field: &str| current.is_some_and(|c| c.get(field) == map.get(field));
    let mut errs = FieldErrors::new();
    for link in E::LINKS {
        if unchanged(link.field) {
            continue;
        }
        if let Some(Value::String(target)) = map.get(link.field) {
            if !sees_in(tx, sight, link.target.table(), target).await? {
                errs.add(
                    link.field,
                    format!("no {} with this id exists", link.target.name()),
                );
            }
        }
    }
    if !unchanged("owner_id") {
        let no_owner = map.get("owner_id").is_none_or(Value::is_null);
        if no_owner && current.is_some() && !sight.sees_everything() {
            // Only those who see everything see a record without an owner: the writer would
            // lose it from sight.
            errs.add(
                "owner_id",
                "cannot be empty: with your role's visibility a record without an owner \
                 would be hidden from you",
            );
        }
        if let Some(Value::String(owner)) = map.get("owner_id") {
            let found: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
                .bind(owner)
                .fetch_optional(&mut **tx)
                .await?;
            if found.is_none() {
                errs.add("owner_id", "no user with this id exists");
            } else if !sight.includes_owner(tx, owner).await? {
                errs.add(
                    "owner_id",
                    "is outside what you may see: you can give records only to yourself or, \
                     with team visibility, to members of your teams",
                );
            }
        }
    }
    Ok(errs.into_result()?)
}

/// [`check_links`] for many new records at once: each distinct link target and owner is
/// looked up once. Answers the field errors of the first record (in input order) that has
/// any, as a one-by-one create would have.
async fn check_links_many<E: Entity>(
    tx: &mut Transaction<'static, Any>,
    sight: &Sight,
    maps: &[Map<String, Value>],
) -> Result<(), StoreError> {
    use std::collections::{BTreeSet, HashMap};
    // (field, value) → what is wrong with it.
    let mut bad: HashMap<(&str, &str), String> = HashMap::new();
    for link in E::LINKS {
        let targets: BTreeSet<&str> = maps
            .iter()
            .filter_map(|m| m.get(link.field).and_then(Value::as_str))
            .collect();
        let targets: Vec<&str> = targets.into_iter().collect();
        let mut seen = std::collections::HashSet::new();
        for chunk in targets.chunks(500) {
            let mut args = Args::default();
            let ids: Vec<String> = chunk.iter().map(|t| args.push(t.to_string())).collect();
            let sql = format!(
                "SELECT r.id FROM {} r WHERE r.id IN ({}){}",
                link.target.table(),
                ids.join(", "),
                sight.condition("r.owner_id", &mut args)
            );
            for row in args.bind_all(&sql).fetch_all(&mut **tx).await? {
                seen.insert(row.try_get::<String, _>("id")?);
            }
        }
        for t in targets {
            if !seen.contains(t) {
                bad.insert(
                    (link.field, t),
                    format!("no {} with this id exists", link.target.name()),
                );
            }
        }
    }
    let owners: BTreeSet<&str> = maps
        .iter()
        .filter_map(|m| m.get("owner_id").and_then(Value::as_str))
        .collect();
    for owner in owners {
        let found: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
            .bind(owner)
            .fetch_optional(&mut **tx)
            .await?;
        if found.is_none() {
            bad.insert(("owner_id", owner), "no user with this id exists".into());
        } else if !sight.includes_owner(tx, owner).await? {
            bad.insert(
                ("owner_id", owner),
                "is outside what you may see: you can give records only to yourself or, \
                 with team visibility, to members of your teams"
                    .into(),
            );
        }
    }
    if bad.is_empty() {
        return Ok(());
    }
    for map in maps {
        let mut errs = FieldErrors::new();
        for field in E::LINKS.iter().map(|l| l.field).chain(["owner_id"]) {
            if let Some(v) = map.get(field).and_then(Value::as_str) {
                if let Some(message) = bad.get(&(field, v)) {
                    errs.add(field, message.clone());
                }
            }
        }
        errs.into_result()?;
    }
    Ok(())
}

/// Whether the record is within the sight, read inside the writing transaction.
async fn sees_in(
    tx: &mut Transaction<'static, Any>,
    sight: &Sight,
    table: &str,
    id: &str,
) -> Result<bool, StoreError> {
    let mut args = Args::default();
    let p = args.push(id.to_string());
    let sql = format!(
        "SELECT r.id FROM {table} r WHERE r.id = {p}{}",
        sight.condition("r.owner_id", &mut args)
    );
    Ok(args
        .bind_all(&sql)
        .fetch_optional(&mut **tx)
        .await?
        .is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = encode_cursor("name", "berg ann", "0190-x");
        assert_eq!(
            decode_cursor(&c, "name").unwrap(),
            ("berg ann".into(), "0190-x".into())
        );
        // A cursor continues only the order it came from.
        assert!(decode_cursor(&c, "-updated").is_err());
        assert!(decode_cursor("not base64 !!", "name").is_err());
        assert!(decode_cursor("aGVsbG8", "name").is_err());
    }
}
