//! The search index (`search_docs`, migration 0013): writing it with the records, and
//! finding records in it in the order a user expects.
//!
//! One row per record holds its normalised words ([`crate::search`]) with copies of its sort
//! key and owner. SQLite indexes the words with FTS5 (triggers keep it in step), PostgreSQL
//! with a GIN full-text index over the same words. A search runs in two parts — records
//! where every query word is a whole word, then records where some are only prefixes — and
//! each part in name order. A part that matches few records is read from the full-text
//! index and sorted; one that matches many is read by walking the records in name order
//! and testing each one's words, which stops after a page: either way a page costs about
//! the same at 10,000 records as at a million.

use crate::search::{self, Part};
use crate::sight::{Args, Sight};
use crate::{BackendKind, StoreError, TenantDb};
use skjold_domain::crm::{Activity, Company, Entity, EntityKind, Person, Sale};
use sqlx::{Any, AnyConnection, Row, Transaction};

/// From this many matches on, a part walks the name order instead of sorting its matches:
/// sorting `m` matches costs about `m` index reads, walking about `page × total / m`; the
/// two meet near the square root of `page × total` (≈ 7,000 at a million records).
const DENSE_AT: i64 = 2_000;

/// Rows per multi-row INSERT of index rows (five parameters each).
const DOCS_PER_STATEMENT: usize = 500;

/// The PostgreSQL index expression of `search_docs_words` (migration 0013), which the
/// planner matches to use the index.
const PG_TSVECTOR: &str = "search_tsvector(d.entity, d.words)";

/// One record's row in the index.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Doc {
    pub entity: &'static str,
    pub record_id: String,
    pub sort_key: String,
    pub owner_id: Option<String>,
    pub words: String,
}

impl Doc {
    pub(crate) fn of<E: Entity>(record: &E, owner_id: Option<&str>) -> Self {
        Doc {
            entity: E::KIND.name(),
            record_id: record.id().to_string(),
            sort_key: record.sort_key(),
            owner_id: owner_id.map(str::to_string),
            words: search::words(record.search_text()),
        }
    }
}

/// A record found, with its place in the result order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    pub rank: u8,
    pub sort_key: String,
    pub id: String,
}

/// Writes (or replaces) the index rows of `docs`.
pub(crate) async fn put_docs(
    tx: &mut Transaction<'static, Any>,
    docs: &[Doc],
) -> Result<(), StoreError> {
    for chunk in docs.chunks(DOCS_PER_STATEMENT) {
        let mut sql = String::from(
            "INSERT INTO search_docs (entity, record_id, sort_key, owner_id, words) VALUES ",
        );
        BackendKind::of(tx).push_value_rows(&mut sql, chunk.len(), 5);
        sql.push_str(
            " ON CONFLICT (entity, record_id) DO UPDATE SET sort_key = excluded.sort_key, \
             owner_id = excluded.owner_id, words = excluded.words",
        );
        let mut q = sqlx::query(&sql);
        for d in chunk {
            q = q
                .bind(d.entity)
                .bind(d.record_id.as_str())
                .bind(d.sort_key.as_str())
                .bind(d.owner_id.as_deref())
                .bind(d.words.as_str());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Removes a record's index row.
pub(crate) async fn remove_doc(
    tx: &mut Transaction<'static, Any>,
    entity: &str,
    record_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM search_docs WHERE entity = $1 AND record_id = $2")
        .bind(entity)
        .bind(record_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A record's indexed words, if it has an index row.
pub(crate) async fn doc_words(
    conn: &mut AnyConnection,
    entity: &str,
    record_id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT words FROM search_docs WHERE entity = $1 AND record_id = $2")
            .bind(entity)
            .bind(record_id)
            .fetch_optional(conn)
            .await?,
    )
}

/// Sets a record's index row from a stored row (a restore's after-image or a source
/// tenant's row) and its words; `None` removes it. Entities that are not records have none.
pub(crate) async fn set_doc_from_row(
    tx: &mut Transaction<'static, Any>,
    entity: &str,
    record_id: &str,
    row: &serde_json::Value,
    words: Option<String>,
) -> Result<(), StoreError> {
    let Some(kind) = EntityKind::from_name(entity) else {
        return Ok(());
    };
    match words {
        None => remove_doc(tx, kind.name(), record_id).await,
        Some(words) => {
            let doc = Doc {
                entity: kind.name(),
                record_id: record_id.to_string(),
                sort_key: row["sort_key"].as_str().unwrap_or_default().to_string(),
                owner_id: row["owner_id"].as_str().map(str::to_string),
                words,
            };
            put_docs(tx, &[doc]).await
        }
    }
}

/// Indexes every record of every type that has records but no index rows: the tenants
/// that migration 0013 found with data. Each type in one transaction, so a type is either
/// wholly indexed or not at all, and the check costs two index probes per type.
pub(crate) async fn backfill(pool: &sqlx::AnyPool, backend: BackendKind) -> Result<(), StoreError> {
    for kind in EntityKind::ALL {
        let has_records: Option<String> =
            sqlx::query_scalar(&format!("SELECT id FROM {} LIMIT 1", kind.table()))
                .fetch_optional(pool)
                .await?;
        let has_docs: Option<String> =
            sqlx::query_scalar("SELECT record_id FROM search_docs WHERE entity = $1 LIMIT 1")
                .bind(kind.name())
                .fetch_optional(pool)
                .await?;
        if has_records.is_none() || has_docs.is_some() {
            continue;
        }
        let mut tx = match backend {
            BackendKind::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
            BackendKind::Postgres => pool.begin().await?,
        };
        let n = reindex(&mut tx, *kind).await?;
        tx.commit().await?;
        tracing::info!(entity = kind.name(), records = n, "search index backfilled");
    }
    Ok(())
}

/// Rebuilds the index rows of every record of `kind` from the records, in `tx`.
pub(crate) async fn reindex(
    tx: &mut Transaction<'static, Any>,
    kind: EntityKind,
) -> Result<u64, StoreError> {
    sqlx::query("DELETE FROM search_docs WHERE entity = $1")
        .bind(kind.name())
        .execute(&mut **tx)
        .await?;
    match kind {
        EntityKind::Company => reindex_all::<Company>(tx).await,
        EntityKind::Person => reindex_all::<Person>(tx).await,
        EntityKind::Activity => reindex_all::<Activity>(tx).await,
        EntityKind::Sale => reindex_all::<Sale>(tx).await,
    }
}

async fn reindex_all<E: Entity>(tx: &mut Transaction<'static, Any>) -> Result<u64, StoreError> {
    let mut after = String::new();
    let mut n = 0u64;
    loop {
        let sql = format!(
            "SELECT {} FROM {} r WHERE r.id > $1 ORDER BY r.id LIMIT 1000",
            crate::records::select_list("r.", E::COLUMNS),
            E::KIND.table()
        );
        let rows = sqlx::query(&sql).bind(&after).fetch_all(&mut **tx).await?;
        let Some(last) = rows.last() else {
            return Ok(n);
        };
        after = last.try_get("id")?;
        let mut docs = Vec::with_capacity(rows.len());
        for row in &rows {
            let record: E = crate::records::row_to_record(row)?;
            let owner: Option<String> = row.try_get("owner_id")?;
            docs.push(Doc::of(&record, owner.as_deref()));
        }
        put_docs(tx, &docs).await?;
        n += docs.len() as u64;
    }
}

impl TenantDb {
    /// Up to `n` records of `kind` matching `words` within `sight` (and the equality
    /// `filters` on the record's columns, already checked by the caller), after `after`:
    /// exact matches first, then prefix matches, each in name order.
    pub(crate) async fn search_hits(
        &self,
        kind: EntityKind,
        words: &[String],
        sight: &Sight,
        filters: &[(String, String)],
        after: Option<&Hit>,
        n: usize,
    ) -> Result<Vec<Hit>, StoreError> {
        let mut hits = Vec::new();
        for part in Part::BOTH {
            if hits.len() >= n {
                break;
            }
            let from = match after {
                Some(a) if a.rank > part.rank() => continue,
                Some(a) if a.rank == part.rank() => Some(a),
                _ => None,
            };
            let found = self
                .search_part(kind, words, part, sight, filters, from, n - hits.len())
                .await?;
            hits.extend(found);
        }
        Ok(hits)
    }

    #[allow(clippy::too_many_arguments)]
    async fn search_part(
        &self,
        kind: EntityKind,
        words: &[String],
        part: Part,
        sight: &Sight,
        filters: &[(String, String)],
        after: Option<&Hit>,
        n: usize,
    ) -> Result<Vec<Hit>, StoreError> {
        let matcher = match self.kind {
            BackendKind::Sqlite => search::fts5_query(kind.name(), words, part),
            BackendKind::Postgres => search::tsquery(kind.name(), words, part),
        };
        let dense = self.count_matches(&matcher).await? >= DENSE_AT;
        let join = if filters.is_empty() {
            String::new()
        } else {
            format!(" JOIN {} r ON r.id = d.record_id", kind.table())
        };
        let mut args = Args::default();
        let mut sql = if dense {
            let e = args.push(kind.name().to_string());
            let test = word_test(self.kind, words, part, &mut args);
            format!("SELECT d.record_id, d.sort_key FROM search_docs d{join} WHERE d.entity = {e} AND {test}")
        } else {
            let m = args.push(matcher);
            let source = match self.kind {
                BackendKind::Sqlite => format!(
                    "SELECT d.record_id, d.sort_key, d.owner_id FROM search_fts \
                     JOIN search_docs d ON d.doc = search_fts.rowid WHERE search_fts MATCH {m}"
                ),
                BackendKind::Postgres => format!(
                    "SELECT d.record_id, d.sort_key, d.owner_id FROM search_docs d \
                     WHERE {PG_TSVECTOR} @@ CAST({m} AS tsquery)"
                ),
            };
            format!(
                "WITH m AS MATERIALIZED ({source}) \
                 SELECT d.record_id, d.sort_key FROM m d{join} WHERE 1 = 1"
            )
        };
        sql.push_str(&sight.condition("d.owner_id", &mut args));
        for (field, value) in filters {
            let p = args.push(value.clone());
            sql.push_str(&format!(" AND r.{field} = {p}"));
        }
        if let Some(a) = after {
            let k = args.push(a.sort_key.clone());
            let i = args.push(a.id.clone());
            // A row-value comparison, which both databases turn into an index seek.
            sql.push_str(&format!(" AND (d.sort_key, d.record_id) > ({k}, {i})"));
        }
        sql.push_str(&format!(" ORDER BY d.sort_key, d.record_id LIMIT {n}"));
        let rows = args.bind_all(&sql).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(Hit {
                    rank: part.rank(),
                    sort_key: row.try_get("sort_key")?,
                    id: row.try_get("record_id")?,
                })
            })
            .collect()
    }

    /// How many records the full-text index matches, counting no further than
    /// [`DENSE_AT`].
    async fn count_matches(&self, matcher: &str) -> Result<i64, StoreError> {
        let sql = match self.kind {
            BackendKind::Sqlite => format!(
                "SELECT count(*) FROM (SELECT 1 FROM search_fts WHERE search_fts MATCH $1 \
                 LIMIT {DENSE_AT})"
            ),
            BackendKind::Postgres => format!(
                "SELECT count(*) FROM (SELECT 1 FROM search_docs d \
                 WHERE {PG_TSVECTOR} @@ CAST($1 AS tsquery) LIMIT {DENSE_AT}) c"
            ),
        };
        Ok(sqlx::query_scalar(&sql)
            .bind(matcher)
            .fetch_one(&self.pool)
            .await?)
    }
}

/// The condition that a record's words (`d.words`) match `words` in `part`, tested per row
/// on a walk in name order; the same meaning as the full-text queries of
/// [`search::fts5_query`] and [`search::tsquery`]. Each word is a bound argument.
fn word_test(backend: BackendKind, words: &[String], part: Part, args: &mut Args) -> String {
    let find = match backend {
        BackendKind::Sqlite => "instr",
        BackendKind::Postgres => "strpos",
    };
    let exact: Vec<String> = words
        .iter()
        .map(|w| {
            let p = args.push(format!(" {w} "));
            format!("{find}(' ' || d.words || ' ', {p}) > 0")
        })
        .collect();
    match part {
        Part::Exact => format!("({})", exact.join(" AND ")),
        Part::Prefix => {
            let prefix: Vec<String> = words
                .iter()
                .map(|w| {
                    let p = args.push(format!(" {w}"));
                    format!("{find}(' ' || d.words, {p}) > 0")
                })
                .collect();
            format!(
                "({} AND NOT ({}))",
                prefix.join(" AND "),
                exact.join(" AND ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::migrate::Migrator;

    /// A tenant migrated before 0013, with records and their old search words, is indexed
    /// when it is next opened: migration 0013 and the backfill, as the router runs them.
    #[tokio::test]
    async fn a_tenant_from_before_0013_is_indexed_at_its_next_open() {
        crate::install_drivers();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        let all = crate::tenant::sqlite_migrator();
        let before = Migrator {
            migrations: std::borrow::Cow::Owned(
                all.migrations
                    .iter()
                    .filter(|m| m.version < 13)
                    .cloned()
                    .collect(),
            ),
            ..Migrator::DEFAULT
        };
        before.run(&pool).await.unwrap();
        sqlx::raw_sql(
            "INSERT INTO users (id, username, role, status, created_at, updated_at) \
             VALUES ('u1', 'olga', 'user', 'active', 't', 't');
             INSERT INTO persons (id, sort_key, first_name, last_name, emails, phones, owner_id, \
             created_at, updated_at) VALUES ('p1', 'nordmann åse', 'Åse', 'Nordmann', \
             '[\"ase@firma.example\"]', '[\"+47 22 33 44 55\"]', 'u1', 't', 't');
             INSERT INTO search_tokens (entity, token, record_id) VALUES ('person', 'åse', 'p1');",
        )
        .execute(&pool)
        .await
        .unwrap();

        crate::tenant::migrate(&pool, BackendKind::Sqlite)
            .await
            .unwrap();
        backfill(&pool, BackendKind::Sqlite).await.unwrap();
        let (owner, words): (String, String) = sqlx::query_as(
            "SELECT owner_id, words FROM search_docs WHERE entity = 'person' AND record_id = 'p1'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(owner, "u1");
        assert_eq!(
            words,
            "22 33 44 47 4722334455 55 ase ase@firma.example example firma nordmann"
        );
        let found: Vec<i64> = sqlx::query_scalar(
            "SELECT rowid FROM search_fts WHERE search_fts MATCH 'words : \"472\" *'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(found.len(), 1);
        let old: Option<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE name = 'search_tokens'")
                .fetch_optional(&pool)
                .await
                .unwrap();
        assert_eq!(old, None);
        // A second open finds nothing left to do.
        backfill(&pool, BackendKind::Sqlite).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM search_docs")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
}
