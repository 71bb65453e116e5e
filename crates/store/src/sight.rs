//! Record visibility: which CRM records a reader may see, judged by each record's owner.
//!
//! Every read and write of CRM records in [`crate::records`] takes a [`Sight`], and the SQL
//! it runs carries the sight's condition, so a list, a search, a count or a lookup by id
//! cannot reach a record outside it: there is no method without one. A record outside the
//! sight is "not found", exactly like a missing one.

use crate::{StoreError, TenantDb};
use skjold_domain::Visibility;
use sqlx::{Any, Transaction};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    Everything,
    /// Records owned by this user.
    Own(String),
    /// Records owned by this user or anyone who shares a team with them.
    Team(String),
}

/// What one reader may see of the tenant's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sight(Scope);

impl Sight {
    /// A user's sight under their role's visibility.
    pub fn of(user_id: &str, visibility: Visibility) -> Self {
        Sight(match visibility {
            Visibility::Own => Scope::Own(user_id.to_string()),
            Visibility::Team => Scope::Team(user_id.to_string()),
            Visibility::All => Scope::Everything,
        })
    }

    /// Everything: for work done by the system or an operator tool (imports, loaders,
    /// restores), never for a user's request.
    pub fn everything() -> Self {
        Sight(Scope::Everything)
    }

    pub fn sees_everything(&self) -> bool {
        self.0 == Scope::Everything
    }

    /// The SQL condition that `owner` (a column expression such as `r.owner_id`) is within
    /// this sight, prefixed with ` AND `, or "" for everything. Its arguments are pushed to
    /// `args`. A record without an owner is seen only by those who see everything.
    pub(crate) fn condition(&self, owner: &str, args: &mut Args) -> String {
        match &self.0 {
            Scope::Everything => String::new(),
            Scope::Own(user) => format!(" AND {owner} = {}", args.push(user.clone())),
            Scope::Team(user) => {
                let me = args.push(user.clone());
                format!(
                    " AND ({owner} = {me} OR {owner} IN (SELECT o.user_id FROM team_members m \
                     JOIN team_members o ON o.team_id = m.team_id WHERE m.user_id = {me}))"
                )
            }
        }
    }

    /// Whether `user_id` is someone whose records this sight includes: the owners a
    /// reader may hand a record to.
    pub(crate) async fn includes_owner(
        &self,
        tx: &mut Transaction<'static, Any>,
        user_id: &str,
    ) -> Result<bool, StoreError> {
        let mut args = Args::default();
        let id = args.push(user_id.to_string());
        let sql = format!(
            "SELECT u.id FROM users u WHERE u.id = {id}{}",
            self.condition("u.id", &mut args)
        );
        Ok(args
            .bind_all(&sql)
            .fetch_optional(&mut **tx)
            .await?
            .is_some())
    }
}

/// Numbered SQL arguments, pushed in order; all are text.
#[derive(Debug, Default)]
pub(crate) struct Args(Vec<String>);

impl Args {
    /// Adds an argument and returns its placeholder. (The same placeholder may appear more
    /// than once in a statement, on both databases.)
    pub(crate) fn push(&mut self, v: String) -> String {
        self.0.push(v);
        format!("${}", self.0.len())
    }

    pub(crate) fn bind_all<'q>(
        &'q self,
        sql: &'q str,
    ) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
        let mut q = sqlx::query(sql);
        for a in &self.0 {
            q = q.bind(a.as_str());
        }
        q
    }
}

impl TenantDb {
    /// Whether the record `id` of `table` is within `sight` (a record that does not exist is
    /// not).
    pub(crate) async fn sees(
        &self,
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
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }
}
