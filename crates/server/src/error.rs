//! Errors as the client sees them: RFC 9457 problem+json with the request id. The cause of
//! an internal error goes to the log under the same id, never to the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use skjold_app::access::AccessError;
use skjold_app::password::{PasswordRefusal, ResetRefusal};
use skjold_app::AppError;
use skjold_domain::{FieldError, FieldErrors};
use skjold_store::StoreError;
use utoipa::ToSchema;

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The id of the request, also in the `x-request-id` header and the server's log.
    pub request_id: String,
    /// For a refused password: the id of the policy rule it broke (e.g. `min_length`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// For validation problems: each field at fault.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not found")]
    NotFound(&'static str),
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error("malformed request: {0}")]
    BadRequest(String),
    #[error("sign-in required")]
    Unauthenticated,
    #[error("sign-in failed")]
    SignInFailed,
    #[error("second factor required")]
    SecondFactorRequired,
    /// The session may only enrol a second factor until the user has one.
    #[error("two-factor enrolment required")]
    EnrolmentRequired,
    #[error("passkeys unavailable: {0}")]
    PasskeysUnavailable(String),
    #[error("password refused: {0}")]
    PasswordRefused(skjold_domain::PolicyViolation),
    #[error("too many attempts")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("payload too large")]
    PayloadTooLarge(usize),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("service unavailable")]
    Unavailable,
    /// Too many passwords are being checked at once (the bounded hashing queue's wait
    /// limit passed): try again after this many seconds.
    #[error("busy checking passwords")]
    Busy { retry_after_secs: u64 },
    #[error("internal error: {0}")]
    Internal(String),
    /// A refusal with its own problem type, e.g. `backup-identity-missing`.
    #[error("{kind}: {detail}")]
    Named {
        status: StatusCode,
        kind: &'static str,
        detail: String,
    },
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("no such record"),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Invalid(f) => ApiError::Invalid(f),
            // The change was rolled back because its audit record could not be written.
            StoreError::Unaudited(_) => ApiError::Unavailable,
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<crate::passkeys::PasskeyError> for ApiError {
    fn from(e: crate::passkeys::PasskeyError) -> Self {
        use crate::passkeys::PasskeyError;
        match e {
            PasskeyError::Unavailable(m) => ApiError::PasskeysUnavailable(m),
            PasskeyError::TooManyPending => ApiError::TooManyAttempts {
                retry_after_secs: 60,
            },
            PasskeyError::Store(s) => s.into(),
            PasskeyError::State(m) => ApiError::Internal(format!("passkey state: {m}")),
        }
    }
}

impl From<FieldErrors> for ApiError {
    fn from(e: FieldErrors) -> Self {
        ApiError::Invalid(e)
    }
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, String) {
        use ApiError::*;
        match self {
            NotFound(what) => (StatusCode::NOT_FOUND, "not-found", (*what).to_string()),
            Invalid(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "some fields are not valid; see errors".into(),
            ),
            BadRequest(m) => (StatusCode::BAD_REQUEST, "bad-request", m.clone()),
            Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "sign in and send the token as 'Authorization: Bearer <token>'".into(),
            ),
            SignInFailed => (
                StatusCode::UNAUTHORIZED,
                "sign-in-failed",
                "sign-in failed".into(),
            ),
            PasswordRefused(v) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "password-policy",
                format!("the password {} (rule '{}')", v.message, v.rule.id()),
            ),
            TooManyAttempts { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-attempts",
                "too many attempts; try again later".into(),
            ),
            SecondFactorRequired => (
                StatusCode::UNAUTHORIZED,
                "second-factor-required",
                "a second factor is required: send the code from your authenticator app (or a recovery code) as 'totp', or sign in with a passkey (POST /session/passkey/options with username and password)".into(),
            ),
            EnrolmentRequired => (
                StatusCode::FORBIDDEN,
                "two-factor-enrolment-required",
                "your organisation requires a second factor: enrol one (POST /me/totp or POST /me/passkeys/options) before anything else".into(),
            ),
            PasskeysUnavailable(m) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "passkeys-unavailable",
                format!("passkeys are not available on this server: {m}"),
            ),
            Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m.clone()),
            Conflict(m) => (StatusCode::CONFLICT, "conflict", m.clone()),
            PayloadTooLarge(max) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                format!("the request body is larger than {max} bytes"),
            ),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "send the body as application/json".into(),
            ),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "this method is not allowed on this resource".into(),
            ),
            Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the service is not ready".into(),
            ),
            Busy { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "the server is checking too many passwords at once; try again after Retry-After seconds".into(),
            ),
            Named {
                status,
                kind,
                detail,
            } => (*status, kind, detail.clone()),
            Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "something went wrong on our side; quote the request id when reporting it".into(),
            ),
        }
    }
}

impl From<skjold_app::credentials::PasswordError> for ApiError {
    fn from(e: skjold_app::credentials::PasswordError) -> Self {
        match e {
            skjold_app::credentials::PasswordError::Busy { retry_after_secs } => {
                ApiError::Busy { retry_after_secs }
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl ApiError {
    /// The refusal in one line, for the command line: the problem's detail, or each field's
    /// problem.
    pub fn explain(&self) -> String {
        match self {
            ApiError::Invalid(f) => {
                f.0.iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            }
            ApiError::PasswordRefused(v) => format!("password: {}", v.message),
            ApiError::Internal(cause) => cause.clone(),
            other => other.parts().2,
        }
    }
}

impl ApiError {
    /// The problem document with a `Retry-After` of `secs` (at least 1).
    pub fn into_response_with_retry_after(self, secs: u64) -> Response {
        let mut res = self.into_response();
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        res
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = crate::middleware::current_request_id();
        let (status, kind, detail) = self.parts();
        if let ApiError::Internal(cause) = &self {
            tracing::error!(request_id = %request_id, cause = %cause, "internal error");
        }
        let retry_after = match &self {
            ApiError::TooManyAttempts { retry_after_secs } => Some(*retry_after_secs),
            ApiError::Busy { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        let (errors, rule) = match self {
            ApiError::Invalid(f) => (f.0, None),
            ApiError::PasswordRefused(v) => (
                vec![FieldError {
                    field: "password".into(),
                    message: v.message.clone(),
                }],
                Some(v.rule.id().to_string()),
            ),
            _ => (Vec::new(), None),
        };
        let problem = Problem {
            kind: format!("urn:skjold:problem:{kind}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail,
            request_id,
            rule,
            errors,
        };
        let mut res = (status, axum::Json(problem)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"skjold\""),
            );
        }
        res
    }
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::Escalation(m) => ApiError::Forbidden(m),
            AccessError::LastAdministrator => ApiError::Conflict(e.to_string()),
            AccessError::UnknownRole(_) => {
                skjold_domain::FieldErrors::single("role", e.to_string()).into()
            }
            AccessError::Store(s) => s.into(),
        }
    }
}

impl From<PasswordRefusal> for ApiError {
    fn from(e: PasswordRefusal) -> Self {
        match e {
            PasswordRefusal::Policy(v) => ApiError::PasswordRefused(v),
            PasswordRefusal::Store(s) => s.into(),
        }
    }
}

impl From<ResetRefusal> for ApiError {
    fn from(e: ResetRefusal) -> Self {
        match e {
            ResetRefusal::ServiceUser => ApiError::Conflict(e.to_string()),
            ResetRefusal::Refused(r) => r.into(),
            ResetRefusal::Hash(m) => ApiError::Internal(m),
            ResetRefusal::Busy { retry_after_secs } => ApiError::Busy { retry_after_secs },
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Forbidden(m) => ApiError::Forbidden(m),
            AppError::NotFound(m) => ApiError::NotFound(m),
            AppError::Conflict(m) => ApiError::Conflict(m),
            AppError::LastAdministrator => ApiError::Conflict(e.to_string()),
            AppError::Invalid(f) => ApiError::Invalid(f),
            AppError::PasswordRefused(v) => ApiError::PasswordRefused(v),
            AppError::StepUpRequired { .. } => ApiError::Named {
                status: StatusCode::FORBIDDEN,
                kind: "step-up-required",
                detail: format!(
                    "{e}: send it to POST /{{tenant}}/api/v1/session/verify \
                     ({{\"password\": …}} or {{\"totp\": …}}), then repeat this request"
                ),
            },
            AppError::Unaudited(cause) => {
                tracing::error!(%cause, "an action was refused because it could not be audited");
                ApiError::Unavailable
            }
            AppError::Busy { retry_after_secs } => ApiError::Busy { retry_after_secs },
            AppError::Store(s) => s.into(),
            AppError::Internal(m) => ApiError::Internal(m),
        }
    }
}
