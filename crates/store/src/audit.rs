//! The audit trail's database sink: insert-only storage, the chain head, search and scans.
//! The same table exists in every tenant database and in the catalog (for `_system`).

use crate::{BackendKind, Catalog, StoreError, TenantDb};
use skjold_domain::audit::{AuditRecord, AuditRow, ACCESS};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

/// A search over one chain, newest first.
#[derive(Debug, Default, Clone)]
pub struct AuditQuery {
    /// Inclusive lower bound (normalised timestamp text).
    pub from: Option<String>,
    /// Exclusive upper bound.
    pub to: Option<String>,
    pub username: Option<String>,
    pub ip: Option<String>,
    pub kind: Option<String>,
    /// Continue after this (at, seq), from a previous page.
    pub before: Option<(String, i64)>,
    pub limit: usize,
}

/// The audit table of one chain's database.
pub struct AuditTable<'a> {
    pool: &'a AnyPool,
    /// Where inserts go: the database's pool, or the audit trail's own pool on it.
    writer: &'a AnyPool,
    kind: BackendKind,
}

const COLUMNS: &str = "seq, at, chain, kind, request_id, user_id, username, ip, method, path, \
                       status, duration_ms, bytes, user_agent, detail, prev_hash, hash";

fn record_from_row(row: &AnyRow) -> Result<AuditRecord, StoreError> {
    let detail: Option<String> = row.try_get("detail")?;
    Ok(AuditRecord {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        chain: row.try_get("chain")?,
        kind: row.try_get("kind")?,
        request_id: row.try_get("request_id")?,
        user_id: row.try_get("user_id")?,
        username: row.try_get("username")?,
        ip: row.try_get("ip")?,
        method: row.try_get("method")?,
        path: row.try_get("path")?,
        status: row.try_get("status")?,
        duration_ms: row.try_get("duration_ms")?,
        bytes: row.try_get("bytes")?,
        user_agent: row.try_get("user_agent")?,
        detail: detail
            .map(|d| serde_json::from_str(&d))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// The columns of [`COLUMNS`], bound per row.
const FIELDS: usize = 17;

/// The most rows one `INSERT` takes: fewer statements, each a round trip (on SQLite a
/// hand-off to the connection's thread), for a batch of hundreds or thousands of records.
/// SQLite statements use anonymous placeholders, which keep binding linear in the rows
/// (see [`BackendKind::push_value_rows`]).
const MAX_ROWS_PER_INSERT: usize = 64;

/// How many of `remaining` rows the next `INSERT` takes: the largest power of two up to
/// [`MAX_ROWS_PER_INSERT`]. Only seven distinct statements (1, 2, 4, … 64 rows) are then
/// ever prepared and cached per connection, whatever the batch sizes.
fn rows_in_next_insert(remaining: usize) -> usize {
    let capped = remaining.min(MAX_ROWS_PER_INSERT);
    if capped == 0 {
        0
    } else {
        1 << capped.ilog2()
    }
}

/// `INSERT … VALUES (…), (…) …` for `rows` records, with the backend's placeholders.
fn insert_statement(kind: BackendKind, rows: usize) -> String {
    let mut sql = format!("INSERT INTO audit_log ({COLUMNS}) VALUES ");
    kind.push_value_rows(&mut sql, rows, FIELDS);
    sql.push_str(" ON CONFLICT (seq) DO NOTHING");
    sql
}

enum Arg {
    Text(String),
    Int(i64),
}

impl AuditTable<'_> {
    /// Inserts records already placed in the chain. A record whose seq is present is
    /// skipped (the file sink may replay what the database already has).
    pub async fn insert(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        let rows: Vec<AuditRow<'_>> = records.iter().map(AuditRecord::row).collect();
        self.insert_rows(&rows).await
    }

    /// [`insert`](Self::insert) for rows borrowed from wherever the records are (the
    /// trail's copier reads them from the lines it wrote). The statement borrows the rows'
    /// strings: sqlx's `Any` driver copies a bound `String` into its arguments but takes a
    /// `&str` as it is.
    pub async fn insert_rows(&self, rows: &[AuditRow<'_>]) -> Result<(), StoreError> {
        // The transaction starts with a write (no read first): on SQLite a deferred
        // transaction that reads and then writes cannot wait for a busy writer and fails
        // with "database is locked"; one that writes first waits its turn.
        let mut tx = self.writer.begin().await?;
        // Several rows per statement: a batch of the trail is hundreds or thousands of
        // records, and each statement is a round trip (on SQLite, a hand-off to the
        // connection's thread).
        let mut rest = rows;
        while !rest.is_empty() {
            let (these, after) = rest.split_at(rows_in_next_insert(rest.len()));
            rest = after;
            let sql = insert_statement(self.kind, these.len());
            let mut query = sqlx::query(&sql);
            for r in these {
                query = query
                    .bind(r.seq)
                    .bind(&*r.at)
                    .bind(&*r.chain)
                    .bind(&*r.kind)
                    .bind(r.request_id.as_deref())
                    .bind(r.user_id.as_deref())
                    .bind(r.username.as_deref())
                    .bind(r.ip.as_deref())
                    .bind(r.method.as_deref())
                    .bind(r.path.as_deref())
                    .bind(r.status)
                    .bind(r.duration_ms)
                    .bind(r.bytes)
                    .bind(r.user_agent.as_deref())
                    .bind(r.detail.as_deref())
                    .bind(&*r.prev_hash)
                    .bind(&*r.hash);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The last record of the chain, if any.
    pub async fn head(&self) -> Result<Option<AuditRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1"
        ))
        .fetch_optional(self.pool)
        .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// The newest retention anchor (`audit.purged`), if records were ever purged.
    pub async fn latest_anchor(&self) -> Result<Option<AuditRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM audit_log WHERE kind = 'audit.purged' ORDER BY seq DESC LIMIT 1"
        ))
        .fetch_optional(self.pool)
        .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// The last record written before `day` (`YYYY-MM-DD`), if any.
    pub async fn last_before(&self, day: &str) -> Result<Option<AuditRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM audit_log WHERE at < $1 ORDER BY at DESC, seq DESC LIMIT 1"
        ))
        .bind(day)
        .fetch_optional(self.pool)
        .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// Deletes the records up to and including `through_seq`. Only retention calls this,
    /// after it has written the anchor that lets the rest of the chain verify.
    pub async fn purge_through(&self, through_seq: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM audit_log WHERE seq <= $1")
            .bind(through_seq)
            .execute(self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Records with seq > `after`, in chain order, at most `limit`.
    pub async fn scan(&self, after: i64, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(self.pool)
        .await?;
        rows.iter().map(record_from_row).collect()
    }

    /// A page of records matching the query, newest first, and whether more follow.
    pub async fn search(&self, q: &AuditQuery) -> Result<(Vec<AuditRecord>, bool), StoreError> {
        let (sql, args) = search_statement(q);
        let rows = bind_all(sqlx::query(&sql), args)
            .fetch_all(self.pool)
            .await?;
        let more = rows.len() > q.limit;
        let records = rows
            .iter()
            .take(q.limit)
            .map(record_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((records, more))
    }

    /// How the database would answer [`search`](Self::search) for `q`, one line per step of
    /// its plan (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` on PostgreSQL): which index a
    /// search walks, for tests that hold searches to their indexes.
    pub async fn search_plan(&self, q: &AuditQuery) -> Result<Vec<String>, StoreError> {
        let (sql, args) = search_statement(q);
        let (explain, column) = match self.kind {
            BackendKind::Sqlite => (format!("EXPLAIN QUERY PLAN {sql}"), "detail"),
            BackendKind::Postgres => (format!("EXPLAIN {sql}"), "QUERY PLAN"),
        };
        let rows = bind_all(sqlx::query(&explain), args)
            .fetch_all(self.pool)
            .await?;
        rows.iter()
            .map(|row| row.try_get::<String, _>(column).map_err(StoreError::from))
            .collect()
    }
}

/// The `SELECT` behind a search, with its arguments in placeholder order.
fn search_statement(q: &AuditQuery) -> (String, Vec<Arg>) {
    let mut sql = format!("SELECT {COLUMNS} FROM audit_log WHERE 1 = 1");
    let mut args: Vec<Arg> = Vec::new();
    let mut push = |sql: &mut String, clause: &str, arg: Arg| {
        args.push(arg);
        sql.push_str(&clause.replace('?', &format!("${}", args.len())));
    };
    if let Some(v) = &q.from {
        push(&mut sql, " AND at >= ?", Arg::Text(v.clone()));
    }
    if let Some(v) = &q.to {
        push(&mut sql, " AND at < ?", Arg::Text(v.clone()));
    }
    if let Some(v) = &q.username {
        push(&mut sql, " AND username = ?", Arg::Text(v.clone()));
    }
    if let Some(v) = &q.ip {
        push(&mut sql, " AND ip = ?", Arg::Text(v.clone()));
    }
    if let Some(v) = &q.kind {
        push(&mut sql, " AND kind = ?", Arg::Text(v.clone()));
        if v != ACCESS {
            // The kind index holds the other kinds only; naming its condition lets the
            // planner use it (neither database can see it in `kind = $n` alone).
            sql.push_str(&format!(" AND kind <> '{ACCESS}'"));
        }
    }
    if let Some((at, seq)) = &q.before {
        push(&mut sql, " AND (at < ?", Arg::Text(at.clone()));
        push(&mut sql, " OR (at = ?", Arg::Text(at.clone()));
        push(&mut sql, " AND seq < ?))", Arg::Int(*seq));
    }
    sql.push_str(&format!(
        " ORDER BY at DESC, seq DESC LIMIT {}",
        q.limit + 1
    ));
    (sql, args)
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    args: Vec<Arg>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for a in args {
        query = match a {
            Arg::Text(t) => query.bind(t),
            Arg::Int(i) => query.bind(i),
        };
    }
    query
}

impl TenantDb {
    pub fn audit(&self) -> AuditTable<'_> {
        AuditTable {
            pool: &self.pool,
            writer: self.audit_writer.as_ref().unwrap_or(&self.pool),
            kind: self.kind,
        }
    }
}

impl Catalog {
    pub fn audit(&self) -> AuditTable<'_> {
        AuditTable {
            pool: self.pool(),
            writer: self.pool(),
            kind: self.backend().kind(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_cut_into_few_statements_of_few_shapes() {
        let cut = |mut n: usize| {
            let mut sizes = Vec::new();
            while n > 0 {
                let k = rows_in_next_insert(n);
                sizes.push(k);
                n -= k;
            }
            sizes
        };
        assert_eq!(cut(1), [1]);
        assert_eq!(cut(7), [4, 2, 1]);
        assert_eq!(cut(64), [64]);
        assert_eq!(cut(150), [64, 64, 16, 4, 2]);
        assert_eq!(rows_in_next_insert(0), 0);
        assert!((1..5000).all(|n| cut(n).iter().sum::<usize>() == n));
    }

    #[test]
    fn sqlite_statements_use_anonymous_placeholders_postgres_numbered_ones() {
        let sqlite = insert_statement(BackendKind::Sqlite, 2);
        assert_eq!(sqlite.matches('?').count(), 2 * FIELDS);
        assert!(!sqlite.contains('$'), "{sqlite}");
        let pg = insert_statement(BackendKind::Postgres, 2);
        assert!(
            pg.contains("$1,") && pg.contains(&format!("${})", 2 * FIELDS)),
            "{pg}"
        );
        assert!(!pg.contains('?'), "{pg}");
    }
}
