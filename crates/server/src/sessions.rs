//! A user's sessions as they see them: which are live, and ending one by its public id
//! (never its token). The API's `/me/sessions` and the web UI's profile show and end them
//! here.

use crate::{ApiError, AppState};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    /// The session's id (not its token).
    pub id: String,
    /// The browser or client that signed in, as it named itself.
    pub user_agent: Option<String>,
    /// The address it signed in from.
    pub ip: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Last use, to the minute.
    #[schema(format = DateTime)]
    pub last_seen_at: String,
    /// The absolute end; it ends earlier when idle for the tenant's idle timeout.
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// The session of this request.
    pub current: bool,
}

/// The signed-in user's sessions that are still live, newest first.
pub async fn live_sessions(
    state: &AppState,
    db: &skjold_store::TenantDb,
    user_id: &str,
    current_hash: &str,
) -> Result<Vec<SessionView>, ApiError> {
    let timeouts = state.tenant_session_timeouts(db).await?;
    let now = state.clock.now();
    let mut out = Vec::new();
    for s in db.sessions_of(user_id).await? {
        let parse = skjold_domain::clock::parse_timestamp;
        let live = matches!(
            (parse(&s.expires_at), parse(&s.last_seen_at)),
            (Some(exp), Some(seen)) if now < exp && now - seen < timeouts.idle
        );
        if !live {
            continue;
        }
        out.push(SessionView {
            id: skjold_app::credentials::session_id(&s.token_hash),
            current: s.token_hash == current_hash,
            user_agent: s.user_agent,
            ip: s.ip,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
        });
    }
    Ok(out)
}
