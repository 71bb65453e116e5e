//! The web UI's "Confirm it is you" page: the step-up check that minting a token, adding a
//! second factor, new recovery codes and a new e-mail address need (see
//! [`skjold_app::step_up`]). An action refused for want of it sends the browser here, and
//! a right answer sends it back to the page it came from.

use super::auth::{safe_next, FormData, Post, UiAuth};
use super::{render, Chrome, UiError};
use crate::extract::{Enrolling, Requirement};
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

#[derive(Template)]
#[template(path = "step_up.html")]
pub struct StepUpPage {
    pub chrome: Chrome,
    pub next: String,
    pub minutes: i64,
    pub error: Option<String>,
}

/// Where to send the browser when an action needs a step-up: this page, coming back to
/// `back` (a page of the tenant) afterwards.
pub fn url(slug: &str, back: &str) -> String {
    let next = safe_next(slug, Some(back)).unwrap_or_else(|| format!("/{slug}/me"));
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", &next)
        .finish();
    format!("/{slug}/me/verify?{q}")
}

impl<R: Requirement> UiAuth<R> {
    /// Refuses an action that needs a recent check, sending the browser to confirm and then
    /// back to `back`.
    pub fn require_step_up(&self, back: &str) -> Result<(), UiError> {
        match skjold_app::step_up::require_recent(&self.acting(), self.state().clock.now()) {
            Ok(()) => Ok(()),
            Err(_) => Err(UiError::StepUp(url(self.slug(), back))),
        }
    }
}

#[derive(serde::Deserialize)]
struct Next {
    next: Option<String>,
}

fn next_of<R: Requirement>(auth: &UiAuth<R>, next: Option<&str>) -> String {
    safe_next(auth.slug(), next).unwrap_or_else(|| format!("/{}/me", auth.slug()))
}

async fn page<R: Requirement>(
    auth: &UiAuth<R>,
    next: String,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, UiError> {
    render(
        status,
        &StepUpPage {
            chrome: Chrome::new(auth, "me", "Confirm it is you"),
            next,
            minutes: skjold_app::step_up::WINDOW_MINUTES,
            error,
        },
    )
}

async fn show(auth: UiAuth<Enrolling>, Query(q): Query<Next>) -> Result<Response, UiError> {
    let next = next_of(&auth, q.next.as_deref());
    page(&auth, next, None, StatusCode::OK).await
}

async fn confirm(
    State(state): State<AppState>,
    post: Post<Enrolling>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let next = next_of(&auth, form.get("next"));
    let proof = proof_of(&form);
    match crate::step_up::verify(
        &state,
        &auth.tenant.record,
        auth.db(),
        &auth.session,
        proof,
        auth.ip(),
        "web",
    )
    .await
    {
        Ok(()) => Ok(Redirect::to(&next).into_response()),
        Err(crate::ApiError::TooManyAttempts { .. }) => {
            let message = "Too many wrong attempts: your account is locked for a while. \
                           Try again later."
                .to_string();
            page(&auth, next, Some(message), StatusCode::TOO_MANY_REQUESTS).await
        }
        Err(crate::ApiError::Named { .. }) | Err(crate::ApiError::Invalid(_)) => {
            let message = "That is not right. Enter your password, or the code your \
                           authenticator app shows now."
                .to_string();
            page(&auth, next, Some(message), StatusCode::FORBIDDEN).await
        }
        Err(e) => Err(e.into()),
    }
}

fn proof_of(form: &FormData) -> crate::step_up::Proof {
    let field = |name: &str| form.get(name).filter(|v| !v.is_empty()).map(str::to_string);
    crate::step_up::Proof {
        password: field("password"),
        code: field("totp"),
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/{tenant}/me/verify", get(show).post(confirm))
}
