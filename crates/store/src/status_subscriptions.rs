//! Who is told about maintenance and incidents (e-mail addresses and webhooks), and the
//! queue of notifications to them: one row per event and subscriber, retried until
//! delivered or given up.

use crate::commit::commit_recorded;
use crate::{BeforeCommit, Catalog, StoreError};
use chrono::{DateTime, Utc};
use skjold_domain::clock::format_timestamp;
use sqlx::any::AnyRow;
use sqlx::Row;

/// A subscription to the status page's announcements.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Subscription {
    pub id: String,
    /// `email` or `webhook`.
    pub kind: String,
    pub target: String,
    /// A webhook's signing secret; never shown after it is made.
    #[serde(skip)]
    pub signing_secret: Option<String>,
    /// The tenant whose administrator added it; `None` for an operator's.
    pub tenant: Option<String>,
    pub created_by: String,
    pub created_at: String,
    /// The secret of the unsubscribe link in each message; never shown in lists.
    #[serde(skip)]
    pub unsubscribe_token: String,
}

/// A notification waiting for (another) attempt.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event_key: String,
    pub subscription: Subscription,
    pub subject: String,
    pub payload: serde_json::Value,
    pub attempts: i64,
}

const COLUMNS: &str =
    "id, kind, target, signing_secret, tenant, created_by, created_at, unsubscribe_token";

fn subscription_from_row(r: &AnyRow) -> Result<Subscription, StoreError> {
    Ok(Subscription {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        target: r.try_get("target")?,
        signing_secret: r.try_get("signing_secret")?,
        tenant: r.try_get("tenant")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        unsubscribe_token: r.try_get("unsubscribe_token")?,
    })
}

impl Catalog {
    pub async fn insert_subscription(
        &self,
        s: &Subscription,
        record: &dyn BeforeCommit,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query(&format!(
            "INSERT INTO status_subscriptions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&s.id)
        .bind(&s.kind)
        .bind(&s.target)
        .bind(&s.signing_secret)
        .bind(&s.tenant)
        .bind(&s.created_by)
        .bind(&s.created_at)
        .bind(&s.unsubscribe_token)
        .execute(&mut *tx)
        .await?;
        commit_recorded(tx, Some(record)).await
    }

    /// A tenant's subscriptions (`Some`), or every one (`None`), oldest first.
    pub async fn subscriptions(
        &self,
        tenant: Option<&str>,
    ) -> Result<Vec<Subscription>, StoreError> {
        let rows = match tenant {
            Some(t) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM status_subscriptions WHERE tenant = $1 ORDER BY created_at, id"
                ))
                .bind(t)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM status_subscriptions ORDER BY created_at, id"
                ))
                .fetch_all(self.pool())
                .await?
            }
        };
        rows.iter().map(subscription_from_row).collect()
    }

    /// Removes a subscription; with `tenant`, only one of that tenant's.
    pub async fn delete_subscription(
        &self,
        id: &str,
        tenant: Option<&str>,
        record: &dyn BeforeCommit,
    ) -> Result<Subscription, StoreError> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM status_subscriptions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let found = subscription_from_row(&row)?;
        if tenant.is_some() && found.tenant.as_deref() != tenant {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "DELETE FROM status_deliveries WHERE subscription_id = $1 AND delivered_at IS NULL",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM status_subscriptions WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        commit_recorded(tx, Some(record)).await?;
        Ok(found)
    }

    /// The subscription an unsubscribe link's secret belongs to.
    pub async fn subscription_by_unsubscribe_token(
        &self,
        hash: &str,
    ) -> Result<Option<Subscription>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM status_subscriptions WHERE unsubscribe_token = $1"
        ))
        .bind(hash)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(subscription_from_row).transpose()
    }

    /// Queues a notification for every subscriber that does not have it yet (an event is
    /// queued once however often it is seen). Answers how many were queued.
    pub async fn enqueue_notification(
        &self,
        event_key: &str,
        subject: &str,
        payload: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        // (`WHERE true`: SQLite needs it to read an upsert after a SELECT.)
        let done = sqlx::query(
            "INSERT INTO status_deliveries (event_key, subscription_id, subject, payload, created_at, next_attempt_at) \
             SELECT $1, id, $2, $3, $4, $4 FROM status_subscriptions WHERE true \
             ON CONFLICT (event_key, subscription_id) DO NOTHING",
        )
        .bind(event_key)
        .bind(subject)
        .bind(payload.to_string())
        .bind(format_timestamp(now))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Notifications due for an attempt at `now`, oldest first.
    pub async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT d.event_key, d.subject, d.payload, d.attempts, {} \
             FROM status_deliveries d JOIN status_subscriptions s ON s.id = d.subscription_id \
             WHERE d.delivered_at IS NULL AND d.given_up_at IS NULL AND d.next_attempt_at <= $1 \
             ORDER BY d.next_attempt_at, d.event_key LIMIT {}",
            COLUMNS
                .split(", ")
                .map(|c| format!("s.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            limit.clamp(1, 1000)
        ))
        .bind(format_timestamp(now))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let payload: String = r.try_get("payload")?;
                Ok(Delivery {
                    event_key: r.try_get("event_key")?,
                    subject: r.try_get("subject")?,
                    payload: serde_json::from_str(&payload)
                        .map_err(|e| StoreError::Corrupt(format!("delivery payload: {e}")))?,
                    attempts: r.try_get("attempts")?,
                    subscription: subscription_from_row(r)?,
                })
            })
            .collect()
    }

    /// Notes an attempt: delivered, or failed with its error and the next try (`None`:
    /// given up).
    pub async fn delivery_attempted(
        &self,
        event_key: &str,
        subscription_id: &str,
        now: DateTime<Utc>,
        outcome: Result<(), (String, Option<DateTime<Utc>>)>,
    ) -> Result<(), StoreError> {
        let now = format_timestamp(now);
        // Delivered: stamped. Failed: the error, and either the next try or the end.
        let (delivered, next, given_up, error) = match outcome {
            Ok(()) => (Some(now), None, None, None),
            Err((error, Some(next))) => (None, Some(format_timestamp(next)), None, Some(error)),
            Err((error, None)) => (None, None, Some(now), Some(error)),
        };
        sqlx::query(
            "UPDATE status_deliveries SET attempts = attempts + 1, delivered_at = $1, \
             next_attempt_at = COALESCE($2, next_attempt_at), given_up_at = $3, last_error = $4 \
             WHERE event_key = $5 AND subscription_id = $6",
        )
        .bind(delivered)
        .bind(next)
        .bind(given_up)
        .bind(error.map(|e| e.chars().take(500).collect::<String>()))
        .bind(event_key)
        .bind(subscription_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
