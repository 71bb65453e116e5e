//! What a browser sees when something goes wrong: an HTML page that says what happened in
//! plain words and names the request id, or a redirect to the sign-in page. The cause of an
//! internal error goes to the log under the same id, never to the page.

use super::templates::ErrorPage;
use crate::ApiError;
use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use skjold_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// Not signed in (or the session ended): go to the sign-in page, then come back.
    #[error("sign-in required")]
    SignIn {
        login: String,
        /// An htmx request gets `HX-Redirect` so the whole page goes to the sign-in form.
        htmx: bool,
    },
    #[error("not found")]
    NotFound,
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A state-changing request without a valid CSRF token, or from another site.
    #[error("request forgery check failed")]
    Csrf,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// The action needs a recent password check: go to this "Confirm it is you" page.
    #[error("step-up required")]
    StepUp(String),
    /// Refused for now: too many attempts (429) or too many passwords being checked (503);
    /// try again after this many seconds.
    #[error("try again later")]
    TryLater {
        status: StatusCode,
        retry_after_secs: u64,
    },
}

impl From<StoreError> for UiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => UiError::NotFound,
            StoreError::Conflict(m) => UiError::Conflict(m),
            StoreError::Invalid(f) => UiError::BadRequest(
                f.0.iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            other => UiError::Internal(other.to_string()),
        }
    }
}

impl From<skjold_app::AppError> for UiError {
    fn from(e: skjold_app::AppError) -> Self {
        ApiError::from(e).into()
    }
}

/// An action's refusal as the page that asked for it shows it — a right or role the actor
/// does not hold, a conflict, invalid fields — with the status to answer; anything else
/// fails the request.
pub(crate) fn shown_refusal(e: skjold_app::AppError) -> Result<(String, StatusCode), UiError> {
    use skjold_app::AppError;
    match e {
        AppError::Forbidden(m) => Ok((m, StatusCode::FORBIDDEN)),
        AppError::Conflict(m) => Ok((m, StatusCode::CONFLICT)),
        AppError::LastAdministrator => Ok((e.to_string(), StatusCode::CONFLICT)),
        AppError::Invalid(f) => Ok((
            f.0.iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
            StatusCode::UNPROCESSABLE_ENTITY,
        )),
        AppError::NotFound(_) => Err(UiError::NotFound),
        other => Err(other.into()),
    }
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::NotFound(_) => UiError::NotFound,
            ApiError::Forbidden(m) => UiError::Forbidden(m),
            ApiError::Conflict(m) => UiError::Conflict(m),
            ApiError::Invalid(f) => UiError::BadRequest(
                f.0.iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            ApiError::BadRequest(m) => UiError::BadRequest(m),
            ApiError::Unavailable => UiError::Internal("service unavailable".into()),
            ApiError::Busy { retry_after_secs } => UiError::TryLater {
                status: StatusCode::SERVICE_UNAVAILABLE,
                retry_after_secs,
            },
            ApiError::TooManyAttempts { retry_after_secs } => UiError::TryLater {
                status: StatusCode::TOO_MANY_REQUESTS,
                retry_after_secs,
            },
            other => UiError::Internal(other.to_string()),
        }
    }
}

impl From<askama::Error> for UiError {
    fn from(e: askama::Error) -> Self {
        UiError::Internal(format!("template: {e}"))
    }
}

impl UiError {
    fn page(&self) -> (StatusCode, &'static str, String) {
        match self {
            UiError::SignIn { .. } => (StatusCode::UNAUTHORIZED, "Sign-in required", String::new()),
            UiError::StepUp(_) => (StatusCode::FORBIDDEN, "Confirm it is you", String::new()),
            UiError::NotFound => (
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is nothing at this address. It may have been deleted, or the link is wrong."
                    .into(),
            ),
            UiError::Forbidden(m) => (
                StatusCode::FORBIDDEN,
                "Not allowed",
                format!("You are not allowed to do this: {m}."),
            ),
            UiError::Csrf => (
                StatusCode::FORBIDDEN,
                "Request refused",
                "This form could not be accepted: it was not sent from a page of this site, or \
                 it is out of date. Go back, reload the page and try again."
                    .into(),
            ),
            UiError::BadRequest(m) => (
                StatusCode::BAD_REQUEST,
                "Something is wrong with the request",
                m.clone(),
            ),
            UiError::Conflict(m) => (StatusCode::CONFLICT, "This cannot be done now", m.clone()),
            UiError::TryLater {
                status,
                retry_after_secs,
            } => (
                *status,
                "Try again later",
                if *status == StatusCode::TOO_MANY_REQUESTS {
                    format!("Too many attempts. Try again in {retry_after_secs} seconds.")
                } else {
                    format!(
                        "The server is busy checking other passwords. Try again in {retry_after_secs} seconds."
                    )
                },
            ),
            UiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Something went wrong on our side. If it happens again, tell your \
                 administrator and quote the request id below."
                    .into(),
            ),
        }
    }
}

/// Renders an error page; used for UI errors and for the UI's "not found" fallback.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let request_id = crate::middleware::current_request_id();
    let page = ErrorPage {
        title,
        message,
        request_id: &request_id,
        status: status.as_u16(),
        asset_v: super::assets::version(),
    };
    match page.render() {
        Ok(html) => {
            let mut res = (status, html).into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            res
        }
        Err(e) => {
            tracing::error!(request_id = %request_id, cause = %e, "error page template");
            (status, format!("{title} (request id {request_id})")).into_response()
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        if let UiError::SignIn { login, htmx } = &self {
            if *htmx {
                let mut res = StatusCode::NO_CONTENT.into_response();
                if let Ok(v) = HeaderValue::from_str(login) {
                    res.headers_mut().insert("hx-redirect", v);
                }
                return res;
            }
            return Redirect::to(login).into_response();
        }
        if let UiError::StepUp(to) = &self {
            return Redirect::to(to).into_response();
        }
        if let UiError::Internal(cause) = &self {
            tracing::error!(
                request_id = %crate::middleware::current_request_id(),
                cause = %cause,
                "internal error"
            );
        }
        let (status, title, message) = self.page();
        let mut res = error_page(status, title, &message);
        if let UiError::TryLater {
            retry_after_secs, ..
        } = &self
        {
            res.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from((*retry_after_secs).max(1)),
            );
        }
        res
    }
}
