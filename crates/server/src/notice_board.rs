//! The announcements every user sees — maintenance announced or under way, open incidents —
//! kept in memory so that every page of the app can show them without a database round
//! trip. The sign-in screen asks for a fresh copy ([`NoticeBoard::fresh`]); the status
//! probe refreshes it every 30 seconds, so a page inside the app shows a new announcement
//! within that time.

use crate::fresh::Fresh;
use chrono::{DateTime, Utc};
use skjold_app::status_view::Notice;
use skjold_store::Catalog;

#[derive(Default)]
pub struct NoticeBoard {
    notices: Fresh<Vec<Notice>>,
}

fn current(notices: Vec<Notice>, now: DateTime<Utc>) -> Vec<Notice> {
    notices
        .into_iter()
        .filter(|n| n.ends_at.is_none_or(|end| end > now))
        .collect()
}

impl NoticeBoard {
    /// The announcements as last read, without those that ended by `now`.
    pub fn shown(&self, now: DateTime<Utc>) -> Vec<Notice> {
        current(self.notices.last().unwrap_or_default(), now)
    }

    /// The announcements read after this call began (a burst of sign-in screens shares one
    /// read). On a database error the last copy is shown.
    pub async fn fresh(&self, catalog: &Catalog, now: DateTime<Utc>) -> Vec<Notice> {
        match self
            .notices
            .get(|| skjold_app::status_view::notices(catalog, now))
            .await
        {
            Ok(notices) => current(notices, now),
            Err(e) => {
                tracing::warn!(error = %e, "reading the announcements failed; showing the last ones");
                self.shown(now)
            }
        }
    }
}
