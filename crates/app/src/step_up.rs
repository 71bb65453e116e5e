//! Step-up: the actions that would let a stolen session outlive itself — minting an API
//! token, adding a passkey or an authenticator, new recovery codes, a new e-mail address —
//! need the user to have proved who they are (password or second factor) within the last
//! [`WINDOW_MINUTES`] minutes in this session. A request with an API token never counts as
//! recent: those actions need a session.

use crate::{Actor, AppError};
use skjold_domain::clock::parse_timestamp;

/// How recent the check must be.
pub const WINDOW_MINUTES: i64 = 10;

/// Refuses unless `actor` proved who they are within the window before `now` (the operator
/// at the command line has the machine).
pub fn require_recent(actor: &Actor, now: chrono::DateTime<chrono::Utc>) -> Result<(), AppError> {
    let verified_at = match actor {
        Actor::User { verified_at, .. } => verified_at.as_deref(),
        Actor::Operator => return Ok(()),
    };
    let recent = verified_at
        .and_then(parse_timestamp)
        .is_some_and(|at| now - at < chrono::Duration::minutes(WINDOW_MINUTES) && at <= now);
    if recent {
        Ok(())
    } else {
        Err(AppError::StepUpRequired {
            minutes: WINDOW_MINUTES,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skjold_domain::clock::format_timestamp;

    fn session(verified_at: Option<String>) -> Actor {
        Actor::User {
            user: skjold_store::User {
                id: "u".into(),
                username: "u".into(),
                display_name: None,
                email: None,
                phone: None,
                role: skjold_domain::RoleId::new("user"),
                status: skjold_store::UserStatus::Active,
                kind: skjold_store::UserKind::Person,
                created_at: String::new(),
                updated_at: String::new(),
            },
            grant: skjold_domain::Grant {
                role: skjold_domain::RoleId::new("user"),
                role_name: "User".into(),
                rights: vec![],
                visibility: skjold_domain::Visibility::Own,
            },
            credential: "h".into(),
            verified_at,
            via: crate::Via::Api,
        }
    }

    #[test]
    fn only_a_check_within_the_window_counts() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let at = |mins: i64| Some(format_timestamp(now - chrono::Duration::minutes(mins)));
        assert!(require_recent(&session(at(0)), now).is_ok());
        assert!(require_recent(&session(at(9)), now).is_ok());
        assert!(matches!(
            require_recent(&session(at(10)), now),
            Err(AppError::StepUpRequired { minutes: 10 })
        ));
        assert!(require_recent(&session(None), now).is_err());
        assert!(require_recent(&session(Some("garbage".into())), now).is_err());
        assert!(require_recent(&Actor::Operator, now).is_ok());
    }
}
