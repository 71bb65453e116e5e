//! Why an action was refused or failed, in the application's terms (the adapters turn it
//! into a problem document, an error page or a CLI message).

use crate::access::AccessError;
use crate::password::{PasswordRefusal, ResetRefusal};
use skjold_domain::{FieldErrors, PolicyViolation};
use skjold_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The actor may not do this (a right, or a user above their own role).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// The change would leave the tenant without an active administrator.
    #[error(
        "this is the tenant's last active administrator: they cannot be demoted or disabled; \
         make another administrator first"
    )]
    LastAdministrator,
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error("password refused: {0}")]
    PasswordRefused(PolicyViolation),
    /// The action needs a password or second-factor check within the last minutes.
    #[error(
        "confirm it is you first: this needs your password (or a second-factor code) within \
         the last {minutes} minutes"
    )]
    StepUpRequired { minutes: i64 },
    /// The action's audit event could not be recorded, so the change was not made.
    #[error("the audit trail cannot record this action now, so it was not done")]
    Unaudited(String),
    /// The server is checking as many passwords as its memory allows; try again shortly.
    #[error("too many passwords are being checked at once; try again in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    #[error(transparent)]
    Store(StoreError),
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound("no such record"),
            StoreError::Conflict(m) => AppError::Conflict(m),
            StoreError::Invalid(f) => AppError::Invalid(f),
            StoreError::Unaudited(m) => AppError::Unaudited(m),
            other => AppError::Store(other),
        }
    }
}

impl From<crate::credentials::PasswordError> for AppError {
    fn from(e: crate::credentials::PasswordError) -> Self {
        match e {
            crate::credentials::PasswordError::Busy { retry_after_secs } => {
                AppError::Busy { retry_after_secs }
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<FieldErrors> for AppError {
    fn from(e: FieldErrors) -> Self {
        AppError::Invalid(e)
    }
}

impl From<AccessError> for AppError {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::Escalation(m) => AppError::Forbidden(m),
            AccessError::LastAdministrator => AppError::LastAdministrator,
            AccessError::UnknownRole(_) => FieldErrors::single("role", e.to_string()).into(),
            AccessError::Store(s) => s.into(),
        }
    }
}

impl From<PasswordRefusal> for AppError {
    fn from(e: PasswordRefusal) -> Self {
        match e {
            PasswordRefusal::Policy(v) => AppError::PasswordRefused(v),
            PasswordRefusal::Store(s) => s.into(),
        }
    }
}

impl From<ResetRefusal> for AppError {
    fn from(e: ResetRefusal) -> Self {
        match e {
            ResetRefusal::ServiceUser => AppError::Conflict(e.to_string()),
            ResetRefusal::Refused(r) => r.into(),
            ResetRefusal::Hash(m) => AppError::Internal(m),
            ResetRefusal::Busy { retry_after_secs } => AppError::Busy { retry_after_secs },
        }
    }
}
