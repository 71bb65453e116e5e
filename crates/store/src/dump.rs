//! Whole-tenant export and load, for backups and point-in-time restore.
//!
//! A snapshot is every row of every tenant table (except those the [`registry`] excludes) read in
//! one consistent read transaction — SQLite's WAL snapshot or PostgreSQL's REPEATABLE READ —
//! so writers go on while it runs. The rows travel as JSON values (the schema has only text
//! and integer columns), which makes a snapshot the same on both databases: a SQLite tenant
//! can be restored onto PostgreSQL and back. A restore loads a snapshot into an empty
//! database, replays the journal's after-images on top, and checks the result before it
//! commits.

use crate::journal::{self, Actor, Change, JournalOp};
use crate::{registry, search_index, BackendKind, StoreError, TenantDb};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::any::{AnyRow, AnyTypeInfoKind};
use sqlx::AnyConnection;
use sqlx::{Any, Column, Executor, Row, Statement, Transaction, TypeInfo, ValueRef};
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColKind {
    Int,
    Text,
}

/// One item of a snapshot stream: a table's header, then its rows in the header's column
/// order.
#[derive(Debug, Clone, PartialEq)]
pub enum DumpItem {
    Table { name: String, columns: Vec<String> },
    Row(Vec<Value>),
}

/// Receives a snapshot as it is read.
pub trait DumpSink: Send {
    fn table(&mut self, name: &str, columns: &[String]) -> Result<(), StoreError>;
    fn row(&mut self, values: &[Value]) -> Result<(), StoreError>;
}

/// Keeps a whole export in memory: for tests and small comparisons.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct MemorySink {
    /// Table → rows as column → value, sorted.
    pub tables: BTreeMap<String, Vec<BTreeMap<String, Value>>>,
    current: Option<(String, Vec<String>)>,
}

impl MemorySink {
    /// The rows, each table's sorted by its JSON text, so two exports compare equal when
    /// they hold the same rows.
    pub fn into_sorted(mut self) -> BTreeMap<String, Vec<BTreeMap<String, Value>>> {
        for rows in self.tables.values_mut() {
            rows.sort_by_key(|r| serde_json::to_string(r).unwrap_or_default());
        }
        self.tables
    }
}

impl DumpSink for MemorySink {
    fn table(&mut self, name: &str, columns: &[String]) -> Result<(), StoreError> {
        self.tables.entry(name.to_string()).or_default();
        self.current = Some((name.to_string(), columns.to_vec()));
        Ok(())
    }

    fn row(&mut self, values: &[Value]) -> Result<(), StoreError> {
        let (name, columns) = self
            .current
            .as_ref()
            .ok_or_else(|| StoreError::Corrupt("a row before its table".into()))?;
        let row = columns
            .iter()
            .cloned()
            .zip(values.iter().cloned())
            .collect();
        self.tables.entry(name.clone()).or_default().push(row);
        Ok(())
    }
}

/// What a snapshot holds: the journal position it includes (every entry up to and
/// including it), the schema version, and each table's row count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportSummary {
    pub position: i64,
    pub schema_version: i64,
    pub tables: BTreeMap<String, u64>,
}

/// One journal entry as it is shipped to the backups and replayed by a restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalRecord {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub entity: String,
    pub record_id: String,
    pub op: String,
    pub changed: String,
    pub data: Option<String>,
    pub image: Option<String>,
}

/// What a restore into an empty database did.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub tables: BTreeMap<String, u64>,
    pub replayed: u64,
    pub last_seq: i64,
}

/// Records a restore's event from what it changed, before the restore commits.
pub type RecordApplied<'r> = dyn Fn(&ApplyReport) -> futures_util::future::BoxFuture<'static, Result<(), StoreError>>
    + Send
    + Sync
    + 'r;

/// What an in-place restore changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyReport {
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
    pub unchanged: u64,
}

fn check_ident(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(StoreError::Corrupt(format!(
            "'{name}' is not a table or column name this schema uses"
        )))
    }
}

/// The row as column → JSON value (text as strings, integers as numbers).
pub(crate) fn row_to_json(row: &AnyRow) -> Result<Value, StoreError> {
    let mut map = Map::new();
    for (i, col) in row.columns().iter().enumerate() {
        map.insert(col.name().to_string(), value_at(row, i)?);
    }
    Ok(Value::Object(map))
}

fn value_at(row: &AnyRow, i: usize) -> Result<Value, StoreError> {
    let kind = {
        let raw = row.try_get_raw(i)?;
        if raw.is_null() {
            return Ok(Value::Null);
        }
        raw.type_info().kind()
    };
    Ok(match kind {
        AnyTypeInfoKind::SmallInt | AnyTypeInfoKind::Integer | AnyTypeInfoKind::BigInt => {
            Value::from(row.try_get::<i64, _>(i)?)
        }
        AnyTypeInfoKind::Bool => Value::from(i64::from(row.try_get::<bool, _>(i)?)),
        AnyTypeInfoKind::Text => Value::String(row.try_get::<String, _>(i)?),
        other => {
            return Err(StoreError::Corrupt(format!(
                "column {} holds a {other:?} value; tenant tables hold only text and integers",
                row.columns()[i].name()
            )))
        }
    })
}

/// Every table the database really has (the database's own catalog aside).
async fn all_tables(
    conn: &mut AnyConnection,
    kind: BackendKind,
) -> Result<Vec<String>, StoreError> {
    let sql = match kind {
        BackendKind::Sqlite => {
            // Ordinary tables only: the FTS5 search index (a virtual table and its shadow
            // tables) is derived from search_docs and rebuilt by its triggers.
            "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' \
             AND name NOT LIKE 'sqlite%'"
        }
        BackendKind::Postgres => {
            "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()"
        }
    };
    let mut names: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut *conn).await?;
    names.sort();
    Ok(names)
}

/// The tables a backup carries, in load order.
pub(crate) async fn list_tables(
    conn: &mut AnyConnection,
    kind: BackendKind,
) -> Result<Vec<String>, StoreError> {
    let mut names = all_tables(conn, kind).await?;
    // A table the registry does not know is carried (and loads last): the registry's test
    // fails for it, but a backup must not silently lose rows.
    names.retain(|n| registry::table(n).is_none_or(|t| t.in_snapshots()));
    for n in &names {
        check_ident(n)?;
    }
    names.sort_by_key(|n| (registry::load_position(n), n.clone()));
    Ok(names)
}

async fn table_columns(
    conn: &mut AnyConnection,
    table: &str,
) -> Result<Vec<(String, ColKind)>, StoreError> {
    check_ident(table)?;
    let sql = format!("SELECT * FROM {table}");
    let stmt = conn.prepare(&sql).await?;
    stmt.columns()
        .iter()
        .map(|c| {
            let kind = match c.type_info().kind() {
                AnyTypeInfoKind::SmallInt
                | AnyTypeInfoKind::Integer
                | AnyTypeInfoKind::BigInt
                | AnyTypeInfoKind::Bool => ColKind::Int,
                AnyTypeInfoKind::Text | AnyTypeInfoKind::Null => ColKind::Text,
                other => {
                    return Err(StoreError::Corrupt(format!(
                    "{table}.{} is a {} column ({other:?}); backups carry only text and integers",
                    c.name(),
                    c.type_info().name()
                )))
                }
            };
            Ok((c.name().to_string(), kind))
        })
        .collect()
}

fn bind_as<'q>(
    q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    kind: ColKind,
    v: &Value,
    what: &str,
) -> Result<sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>, StoreError> {
    Ok(match (kind, v) {
        (ColKind::Int, Value::Null) => q.bind(None::<i64>),
        (ColKind::Text, Value::Null) => q.bind(None::<String>),
        (ColKind::Int, Value::Number(n)) => {
            q.bind(Some(n.as_i64().ok_or_else(|| {
                StoreError::Corrupt(format!("{what}: {n} is not a 64-bit integer"))
            })?))
        }
        (ColKind::Text, Value::String(s)) => q.bind(Some(s.clone())),
        (_, other) => {
            return Err(StoreError::Corrupt(format!(
                "{what}: {other} does not fit a {kind:?} column"
            )))
        }
    })
}

/// Column kinds of the target tables, looked up once per table.
#[derive(Default)]
pub(crate) struct Schema(HashMap<String, Vec<(String, ColKind)>>);

impl Schema {
    async fn columns(
        &mut self,
        conn: &mut AnyConnection,
        table: &str,
    ) -> Result<&Vec<(String, ColKind)>, StoreError> {
        if !self.0.contains_key(table) {
            let cols = table_columns(conn, table).await?;
            self.0.insert(table.to_string(), cols);
        }
        Ok(&self.0[table])
    }

    async fn kind_of(
        &mut self,
        conn: &mut AnyConnection,
        table: &str,
        column: &str,
    ) -> Result<ColKind, StoreError> {
        self.columns(conn, table)
            .await?
            .iter()
            .find(|(n, _)| n == column)
            .map(|(_, k)| *k)
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "the backup has a column {table}.{column} that this schema does not have"
                ))
            })
    }
}

impl TenantDb {
    /// Writes every backed-up table to `sink` from one consistent read, without blocking
    /// writers.
    pub async fn export(&self, sink: &mut dyn DumpSink) -> Result<ExportSummary, StoreError> {
        let mut tx = match self.kind {
            // A deferred transaction: in WAL mode its first read fixes the snapshot that
            // every later read of it sees, while writers go on.
            BackendKind::Sqlite => self.pool.begin().await?,
            BackendKind::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
        };
        let position: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM journal")
            .fetch_one(&mut *tx)
            .await?;
        let schema_version: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations")
                .fetch_one(&mut *tx)
                .await?;
        let mut tables = BTreeMap::new();
        for table in list_tables(&mut tx, self.kind).await? {
            let columns = table_columns(&mut tx, &table).await?;
            let names: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
            sink.table(&table, &names)?;
            let sql = format!("SELECT {} FROM {table}", names.join(", "));
            let mut rows = sqlx::query(&sql).fetch(&mut *tx);
            let mut count = 0u64;
            while let Some(row) = rows.try_next().await? {
                let values = (0..names.len())
                    .map(|i| value_at(&row, i))
                    .collect::<Result<Vec<_>, _>>()?;
                sink.row(&values)?;
                count += 1;
            }
            tables.insert(table, count);
        }
        tx.rollback().await?;
        Ok(ExportSummary {
            position,
            schema_version,
            tables,
        })
    }

    /// Every table of this tenant's database as it really is (after its migrations), by
    /// name: what the [registry](crate::registry) is checked against.
    pub async fn schema_tables(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        all_tables(&mut conn, self.kind).await
    }

    /// The journal's newest position (0 when empty).
    pub async fn journal_position(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM journal")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Journal entries after `after`, oldest first, at most `limit`.
    pub async fn journal_since(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<JournalRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT seq, at, actor, entity, record_id, op, changed, data, image FROM journal \
             WHERE seq > $1 ORDER BY seq LIMIT {}",
            limit.max(1)
        ))
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(JournalRecord {
                    seq: r.try_get("seq")?,
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    entity: r.try_get("entity")?,
                    record_id: r.try_get("record_id")?,
                    op: r.try_get("op")?,
                    changed: r.try_get("changed")?,
                    data: r.try_get("data")?,
                    image: r.try_get("image")?,
                })
            })
            .collect()
    }

    /// Row counts of the backed-up tables.
    pub async fn table_counts(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let mut out = BTreeMap::new();
        for table in list_tables(&mut conn, self.kind).await? {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&mut *conn)
                .await?;
            out.insert(table, n as u64);
        }
        Ok(out)
    }

    /// Fills this (new, empty) database from a snapshot and replays `journal` on top, in one
    /// transaction that commits only when the snapshot's row counts match `expected` and the
    /// database checks out; otherwise nothing stays. Tells `observer` how far it is.
    pub async fn load_backup(
        &self,
        items: &mut (dyn Iterator<Item = Result<DumpItem, StoreError>> + Send),
        expected: &BTreeMap<String, u64>,
        journal: &[JournalRecord],
        observer: &dyn LoadObserver,
    ) -> Result<LoadReport, StoreError> {
        let mut tx = self.write_tx().await?;
        let mut schema = Schema::default();
        let mut loaded: BTreeMap<String, u64> = BTreeMap::new();
        // Rows go in as multi-row INSERTs of up to `Batch::rows` rows: one statement per
        // row made a restore pay a round trip per row.
        let mut batch: Option<Batch> = None;
        // A snapshot taken before migration 0013 holds the old word table instead of
        // search_docs: its rows are counted but not loaded, and the index is rebuilt from
        // the records at the end.
        let (mut legacy_search, mut skipping) = (false, false);
        for item in items {
            match item? {
                DumpItem::Table { name, .. } if name == LEGACY_SEARCH_TABLE => {
                    if let Some(b) = batch.take() {
                        b.flush(&mut tx).await?;
                    }
                    if loaded.insert(name.clone(), 0).is_some() {
                        return Err(StoreError::Corrupt(format!(
                            "the snapshot holds table {name} twice"
                        )));
                    }
                    legacy_search = true;
                    skipping = true;
                }
                DumpItem::Row(_) if skipping => {
                    *loaded.entry(LEGACY_SEARCH_TABLE.to_string()).or_default() += 1;
                }
                DumpItem::Table { name, columns } => {
                    skipping = false;
                    if let Some(b) = batch.take() {
                        b.flush(&mut tx).await?;
                    }
                    check_ident(&name)?;
                    if loaded.contains_key(&name) {
                        return Err(StoreError::Corrupt(format!(
                            "the snapshot holds table {name} twice"
                        )));
                    }
                    let mut kinds = Vec::with_capacity(columns.len());
                    for c in &columns {
                        check_ident(c)?;
                        kinds.push(schema.kind_of(&mut tx, &name, c).await?);
                    }
                    // A new database may come with rows of its own (defaults a migration
                    // inserts); the snapshot's rows replace them.
                    sqlx::query(&format!("DELETE FROM {name}"))
                        .execute(&mut *tx)
                        .await?;
                    loaded.insert(name.clone(), 0);
                    batch = Some(Batch::new(self.kind, name, columns, kinds));
                }
                DumpItem::Row(values) => {
                    let b = batch
                        .as_mut()
                        .ok_or_else(|| StoreError::Corrupt("a row before its table".into()))?;
                    if values.len() != b.kinds.len() {
                        return Err(StoreError::Corrupt(format!(
                            "a row of {} has {} values for {} columns",
                            b.table,
                            values.len(),
                            b.kinds.len()
                        )));
                    }
                    b.rows.push(values);
                    *loaded.entry(b.table.clone()).or_default() += 1;
                    if b.rows.len() >= b.max_rows {
                        b.flush_rows(&mut tx).await?;
                        observer.rows_loaded(loaded.values().sum());
                    }
                }
            }
        }
        if let Some(b) = batch.take() {
            b.flush(&mut tx).await?;
        }
        observer.rows_loaded(loaded.values().sum());
        observer.checking();
        if &loaded != expected {
            let mut diffs = Vec::new();
            for name in loaded.keys().chain(expected.keys()).collect::<HashSet<_>>() {
                let (got, want) = (loaded.get(name), expected.get(name));
                if got != want {
                    diffs.push(format!(
                        "{name}: {} rows loaded, the manifest says {}",
                        got.map_or("no".into(), |n| n.to_string()),
                        want.map_or("none".into(), |n| n.to_string())
                    ));
                }
            }
            diffs.sort();
            return Err(StoreError::Corrupt(format!(
                "the snapshot does not match its manifest: {}",
                diffs.join("; ")
            )));
        }
        let last_seq = apply_journal(&mut tx, &mut schema, journal, observer).await?;
        if legacy_search {
            for kind in skjold_domain::crm::EntityKind::ALL {
                search_index::reindex(&mut tx, *kind).await?;
            }
        }
        check_links(&mut tx, self.kind).await?;
        tx.commit().await?;
        let mut tables = loaded;
        if !journal.is_empty() {
            tables = self.table_counts().await?;
        }
        Ok(LoadReport {
            tables,
            replayed: journal.len() as u64,
            last_seq,
        })
    }

    /// Makes this tenant's journaled tables (records, users, roles, teams, settings, and the
    /// credentials and factors: API tokens, passkeys, TOTP, recovery codes, password
    /// history, sign-in failures) and the records' search words equal to `source`'s, in one
    /// transaction, journaling every change as made by `actor` — so the journal stays one
    /// line of history that backups go on shipping. Which tables: the registry's journaled
    /// ones. Sessions end (everyone signs in again); the audit trail is not touched.
    pub async fn apply_state_from(
        &self,
        source: &TenantDb,
        actor: &Actor,
    ) -> Result<ApplyReport, StoreError> {
        self.apply_state_from_recorded(source, actor, &|_| Box::pin(async { Ok(()) }))
            .await
    }

    /// [`Self::apply_state_from`], with `record` (the restore's audit event, which names
    /// what changed) run inside the transaction before it commits: an error from it rolls
    /// the whole restore back.
    pub async fn apply_state_from_recorded(
        &self,
        source: &TenantDb,
        actor: &Actor,
        record: &RecordApplied<'_>,
    ) -> Result<ApplyReport, StoreError> {
        let mut tx = self.write_tx().await?;
        if self.kind == BackendKind::Postgres {
            // Writers wait until the restore is done, readers go on. (SQLite's write
            // transaction already excludes other writers.)
            let tables: Vec<&str> = registry::journaled_tables()
                .map(|t| t.name)
                .chain(["search_docs"])
                .collect();
            sqlx::query(&format!(
                "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE",
                tables.join(", ")
            ))
            .execute(&mut *tx)
            .await?;
        }
        let now = self.now();
        let mut report = ApplyReport::default();
        let mut schema = Schema::default();
        let mut gone: Vec<(&'static registry::Table, Vec<String>)> = Vec::new();
        // Every row of the source, parents first, in pages by key.
        for table in registry::journaled_tables() {
            let entity = table.entity().unwrap_or_default();
            let keys = table.key_list();
            // What is left of these after the source's rows is what goes.
            let mut live_ids = record_ids(
                table,
                sqlx::query(&format!("SELECT {keys} FROM {}", table.name))
                    .fetch_all(&mut *tx)
                    .await?,
            )?;
            let select_here = format!(
                "SELECT * FROM {} WHERE {}",
                table.name,
                table.key_condition(1)
            );
            let mut last: Option<Vec<Value>> = None;
            loop {
                let rows = match &last {
                    None => {
                        sqlx::query(&format!(
                            "SELECT * FROM {} ORDER BY {keys} LIMIT 500",
                            table.name
                        ))
                        .fetch_all(&source.pool)
                        .await?
                    }
                    Some(after) => {
                        let sql = format!(
                            "SELECT * FROM {} WHERE ({keys}) > ({}) ORDER BY {keys} LIMIT 500",
                            table.name,
                            (1..=table.key.len())
                                .map(|i| format!("${i}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        );
                        registry::bind_key(sqlx::query(&sql), table, after)?
                            .fetch_all(&source.pool)
                            .await?
                    }
                };
                if rows.is_empty() {
                    break;
                }
                for row in &rows {
                    let wanted = row_to_json(row)?;
                    let key = table.key_of_row(&wanted)?;
                    let id = table.record_id(&key)?;
                    last = Some(key.clone());
                    let existed = live_ids.remove(&id);
                    let current = if existed {
                        let r = registry::bind_key(sqlx::query(&select_here), table, &key)?
                            .fetch_one(&mut *tx)
                            .await?;
                        Some(row_to_json(&r)?)
                    } else {
                        None
                    };
                    let wanted_words = {
                        let mut conn = source.pool.acquire().await?;
                        search_index::doc_words(&mut conn, entity, &id).await?
                    };
                    let current_words = search_index::doc_words(&mut tx, entity, &id).await?;
                    if current.as_ref() == Some(&wanted) && current_words == wanted_words {
                        report.unchanged += 1;
                        continue;
                    }
                    let changed: Vec<String> = wanted
                        .as_object()
                        .map(|w| {
                            w.iter()
                                .filter(|(k, v)| {
                                    current.as_ref().and_then(|c| c.get(k.as_str())) != Some(v)
                                })
                                .map(|(k, _)| {
                                    if k == "password_hash" {
                                        "password".to_string()
                                    } else {
                                        k.clone()
                                    }
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    upsert(&mut tx, &mut schema, table.name, &wanted).await?;
                    search_index::set_doc_from_row(&mut tx, entity, &id, &wanted, wanted_words)
                        .await?;
                    let data = if table.is_secret() {
                        // Credentials and factors: their entries carry the after-image only.
                        None
                    } else {
                        // History shows the record as its last journal entry described it.
                        let data: Option<String> = sqlx::query_scalar(
                            "SELECT data FROM journal WHERE entity = $1 AND record_id = $2 \
                             ORDER BY seq DESC LIMIT 1",
                        )
                        .bind(entity)
                        .bind(&id)
                        .fetch_optional(&source.pool)
                        .await?
                        .flatten();
                        Some(match data {
                            Some(d) => serde_json::from_str(&d)
                                .map_err(|e| StoreError::Corrupt(format!("journal data: {e}")))?,
                            None => wanted.clone(),
                        })
                    };
                    journal::append(
                        &mut tx,
                        &now,
                        actor,
                        Change {
                            entity,
                            record_id: &id,
                            op: if existed {
                                JournalOp::Update
                            } else {
                                JournalOp::Create
                            },
                            changed: if table.is_secret() { vec![] } else { changed },
                            data,
                        },
                    )
                    .await?;
                    if existed {
                        report.updated += 1;
                    } else {
                        report.created += 1;
                    }
                }
            }
            let mut ids: Vec<String> = live_ids.into_iter().collect();
            ids.sort();
            gone.push((table, ids));
        }
        // Then what goes, children before parents.
        for (table, ids) in gone.iter().rev() {
            let entity = table.entity().unwrap_or_default();
            let delete = format!(
                "DELETE FROM {} WHERE {}",
                table.name,
                table.key_condition(1)
            );
            for id in ids {
                search_index::remove_doc(&mut tx, entity, id).await?;
                let key = table.key_values(id)?;
                registry::bind_key(sqlx::query(&delete), table, &key)?
                    .execute(&mut *tx)
                    .await?;
                journal::append(
                    &mut tx,
                    &now,
                    actor,
                    Change {
                        entity,
                        record_id: id,
                        op: JournalOp::Delete,
                        changed: vec![],
                        data: None,
                    },
                )
                .await?;
                report.deleted += 1;
            }
        }
        sqlx::query("DELETE FROM sessions")
            .execute(&mut *tx)
            .await?;
        for table in registry::journaled_tables() {
            let sql = format!("SELECT COUNT(*) FROM {}", table.name);
            let here: i64 = sqlx::query_scalar(&sql).fetch_one(&mut *tx).await?;
            let there: i64 = sqlx::query_scalar(&sql).fetch_one(&source.pool).await?;
            if here != there {
                return Err(StoreError::Corrupt(format!(
                    "{}: {here} rows after the restore, {there} expected",
                    table.name
                )));
            }
        }
        // On an error the transaction is dropped here, which rolls it back.
        record(&report).await?;
        tx.commit().await?;
        Ok(report)
    }
}

/// The journal's record ids of rows holding (at least) the table's key columns.
fn record_ids(table: &registry::Table, rows: Vec<AnyRow>) -> Result<HashSet<String>, StoreError> {
    rows.iter()
        .map(|r| table.record_id(&table.key_of_row(&row_to_json(r)?)?))
        .collect()
}

/// Rows of one table waiting to go in with one multi-row INSERT.
struct Batch {
    backend: BackendKind,
    table: String,
    columns: Vec<String>,
    kinds: Vec<ColKind>,
    rows: Vec<Vec<Value>>,
    max_rows: usize,
}

impl Batch {
    /// Both databases take at least 32,766 parameters in one statement; 500 rows keep each
    /// statement a modest size.
    const MAX_PARAMS: usize = 30_000;

    fn new(backend: BackendKind, table: String, columns: Vec<String>, kinds: Vec<ColKind>) -> Self {
        let max_rows = (Self::MAX_PARAMS / kinds.len().max(1)).clamp(1, 500);
        Self {
            backend,
            table,
            columns,
            kinds,
            rows: Vec::with_capacity(max_rows),
            max_rows,
        }
    }

    async fn flush_rows(&mut self, tx: &mut Transaction<'static, Any>) -> Result<(), StoreError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let mut sql = format!(
            "INSERT INTO {} ({}) VALUES ",
            self.table,
            self.columns.join(", ")
        );
        self.backend
            .push_value_rows(&mut sql, self.rows.len(), self.kinds.len());
        let rows = std::mem::take(&mut self.rows);
        let mut q = sqlx::query(&sql);
        for values in &rows {
            for (v, k) in values.iter().zip(&self.kinds) {
                q = bind_as(q, *k, v, &self.table)?;
            }
        }
        q.execute(&mut **tx).await?;
        self.rows = rows;
        self.rows.clear();
        Ok(())
    }

    async fn flush(mut self, tx: &mut Transaction<'static, Any>) -> Result<(), StoreError> {
        self.flush_rows(tx).await
    }
}

/// Applies `journal` in order, telling `observer` (from its start) how many entries are in;
/// returns the last sequence number applied.
pub(crate) async fn apply_journal(
    tx: &mut Transaction<'static, Any>,
    schema: &mut Schema,
    journal: &[JournalRecord],
    observer: &dyn LoadObserver,
) -> Result<i64, StoreError> {
    observer.replaying();
    let mut last_seq = 0;
    for (n, entry) in journal.iter().enumerate() {
        apply_entry(tx, schema, entry).await?;
        last_seq = entry.seq;
        observer.entries_applied(n as u64 + 1);
    }
    Ok(last_seq)
}

/// Told how a restore's load and replay go, for a progress display. Every method has a
/// default that ignores it; `()` ignores everything.
pub trait LoadObserver: Send + Sync {
    /// So many snapshot rows are in (a running total).
    fn rows_loaded(&self, _rows: u64) {}
    /// The loaded data is being checked (row counts, integrity).
    fn checking(&self) {}
    /// Journal entries are about to be applied.
    fn replaying(&self) {}
    /// So many journal entries are applied (a running total).
    fn entries_applied(&self, _entries: u64) {}
}

impl LoadObserver for () {}

/// The word table that search_docs replaced (migration 0013), as old snapshots hold it.
const LEGACY_SEARCH_TABLE: &str = "search_tokens";

/// The last checks of a restored database before it commits: on SQLite no broken links and
/// a sound file; on PostgreSQL (which checks links as rows go in) the journal's sequence
/// continues after the restored entries.
pub(crate) async fn check_links(
    tx: &mut Transaction<'static, Any>,
    kind: BackendKind,
) -> Result<(), StoreError> {
    match kind {
        BackendKind::Sqlite => {
            let problems: Vec<AnyRow> = sqlx::query("PRAGMA foreign_key_check")
                .fetch_all(&mut **tx)
                .await?;
            if !problems.is_empty() {
                return Err(StoreError::Corrupt(format!(
                    "the restored database has {} broken links",
                    problems.len()
                )));
            }
            let check: String = sqlx::query_scalar("PRAGMA quick_check")
                .fetch_one(&mut **tx)
                .await?;
            if check != "ok" {
                return Err(StoreError::Corrupt(format!(
                    "the restored database fails its integrity check: {check}"
                )));
            }
        }
        BackendKind::Postgres => {
            // Links are checked as rows go in. Sequences (the journal's, the password
            // history's) must continue after the restored rows.
            for t in registry::TABLES.iter().filter(|t| t.in_snapshots()) {
                if let Some(col) = t.serial {
                    sqlx::query(&format!(
                        "SELECT setval(pg_get_serial_sequence('{0}', '{col}'), \
                         (SELECT COALESCE(MAX({col}), 0) + 1 FROM {0}), false)",
                        t.name
                    ))
                    .execute(&mut **tx)
                    .await?;
                }
            }
        }
    }
    Ok(())
}

async fn upsert(
    tx: &mut Transaction<'static, Any>,
    schema: &mut Schema,
    table: &str,
    row: &Value,
) -> Result<(), StoreError> {
    check_ident(table)?;
    let row = row
        .as_object()
        .ok_or_else(|| StoreError::Corrupt(format!("an after-image of {table} is no object")))?;
    let mut names = Vec::with_capacity(row.len());
    let mut kinds = Vec::with_capacity(row.len());
    for name in row.keys() {
        check_ident(name)?;
        kinds.push(schema.kind_of(tx, table, name).await?);
        names.push(name.as_str());
    }
    let spec = registry::table(table)
        .ok_or_else(|| StoreError::Corrupt(format!("{table} is not in the registry")))?;
    let is_key = |n: &str| spec.key.iter().any(|(k, _)| *k == n);
    for (k, _) in spec.key {
        if !names.contains(k) {
            return Err(StoreError::Corrupt(format!(
                "an after-image of {table} has no {k}"
            )));
        }
    }
    let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
    let sets: Vec<String> = names
        .iter()
        .filter(|n| !is_key(n))
        .map(|n| format!("{n} = excluded.{n}"))
        .collect();
    let on_conflict = if sets.is_empty() {
        "DO NOTHING".to_string()
    } else {
        format!("DO UPDATE SET {}", sets.join(", "))
    };
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({}) {on_conflict}",
        names.join(", "),
        placeholders.join(", "),
        spec.key_list()
    );
    let mut q = sqlx::query(&sql);
    for ((name, kind), v) in names.iter().zip(&kinds).zip(row.values()) {
        q = bind_as(q, *kind, v, &format!("{table}.{name}"))?;
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// Replays one shipped journal entry: its after-image, then the entry itself.
pub(crate) async fn apply_entry(
    tx: &mut Transaction<'static, Any>,
    schema: &mut Schema,
    e: &JournalRecord,
) -> Result<(), StoreError> {
    let image: Value = match &e.image {
        Some(text) => serde_json::from_str(text).map_err(|err| {
            StoreError::Corrupt(format!("journal entry {}: after-image: {err}", e.seq))
        })?,
        None => {
            return Err(StoreError::Corrupt(format!(
                "journal entry {} has no after-image (written before backups were set up)",
                e.seq
            )))
        }
    };
    // The registry, not the entry, says which table an entity's rows are in; the image
    // must agree.
    let spec = registry::journaled_table(&e.entity)
        .map_err(|err| StoreError::Corrupt(format!("journal entry {}: {err}", e.seq)))?;
    let table = spec.name;
    if image["table"].as_str() != Some(table) {
        return Err(StoreError::Corrupt(format!(
            "journal entry {}: the after-image names table {} for entity {}, not {table}",
            e.seq, image["table"], e.entity
        )));
    }
    match e.op.as_str() {
        "delete" => {
            let key = spec.key_values(&e.record_id)?;
            let sql = format!("DELETE FROM {table} WHERE {}", spec.key_condition(1));
            registry::bind_key(sqlx::query(&sql), spec, &key)?
                .execute(&mut **tx)
                .await?;
            search_index::remove_doc(tx, &e.entity, &e.record_id).await?;
        }
        "create" | "update" => {
            if spec.record_id(&spec.key_of_row(&image["row"])?)? != e.record_id {
                return Err(StoreError::Corrupt(format!(
                    "journal entry {}: the after-image is of another row than {}",
                    e.seq, e.record_id
                )));
            }
            upsert(tx, schema, table, &image["row"]).await?;
            // Today's images carry the words; those written before migration 0013 the list
            // of search_tokens, which become today's words.
            let words = match &image["search"] {
                Value::String(w) => Some(w.clone()),
                Value::Array(tokens) => Some(crate::search::legacy_words(
                    tokens.iter().filter_map(Value::as_str),
                )),
                _ => None,
            };
            search_index::set_doc_from_row(tx, &e.entity, &e.record_id, &image["row"], words)
                .await?;
        }
        other => {
            return Err(StoreError::Corrupt(format!(
                "journal entry {}: unknown operation '{other}'",
                e.seq
            )))
        }
    }
    sqlx::query(
        "INSERT INTO journal (seq, at, actor, entity, record_id, op, changed, data, image) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(e.seq)
    .bind(&e.at)
    .bind(&e.actor)
    .bind(&e.entity)
    .bind(&e.record_id)
    .bind(&e.op)
    .bind(&e.changed)
    .bind(&e.data)
    .bind(&e.image)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
