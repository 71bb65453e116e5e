//! My profile: my name, e-mail and phone (the API's `PATCH /me` rules), and my password.

use super::auth::{FormData, Post, UiAuth};
use super::fields::show_time;
use super::personal_details::personal_details;
use super::role_labels::{right_label, role_title, visibility_label};
use super::templates::{FormField, ProfilePage, SessionRow};
use super::{render, Chrome, UiError};
use crate::extract::SignedIn;
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use skjold_domain::FieldErrors;
use skjold_store::UserPatch;

async fn page(
    state: &AppState,
    auth: &UiAuth<SignedIn>,
    details: Option<&FormData>,
    errs: &FieldErrors,
    msg: Option<&str>,
    status: StatusCode,
) -> Result<Response, UiError> {
    page_with_token(state, auth, details, errs, msg, status, None).await
}

/// The profile page; `new_token` is an API token just made (name, token), shown this once.
async fn page_with_token(
    state: &AppState,
    auth: &UiAuth<SignedIn>,
    details: Option<&FormData>,
    errs: &FieldErrors,
    msg: Option<&str>,
    status: StatusCode,
    new_token: Option<(String, String)>,
) -> Result<Response, UiError> {
    let user = auth.user();
    let policy = crate::password::policy(auth.db()).await?;
    let hint = policy_hint(&policy);
    let (name, email, phone) = match details {
        Some(f) => (f.text("display_name"), f.text("email"), f.text("phone")),
        None => (
            user.display_name.clone().unwrap_or_default(),
            user.email.clone().unwrap_or_default(),
            user.phone.clone().unwrap_or_default(),
        ),
    };
    let fields = vec![
        FormField::simple(
            "display_name",
            "Display name",
            "text",
            name,
            false,
            "",
            errs,
        ),
        FormField::simple("email", "E-mail", "email", email, false, "", errs),
        FormField::simple("phone", "Phone", "tel", phone, false, "", errs),
    ];
    let mut current = FormField::simple(
        "current_password",
        "Current password",
        "password",
        "",
        true,
        "",
        errs,
    );
    current.kind = "password";
    let password_fields = vec![
        current,
        FormField::simple(
            "new_password",
            "New password",
            "password",
            "",
            true,
            hint,
            errs,
        ),
        FormField::simple(
            "repeat_password",
            "Repeat new password",
            "password",
            "",
            true,
            "",
            errs,
        ),
    ];
    let known = [
        "display_name",
        "email",
        "phone",
        "current_password",
        "new_password",
        "repeat_password",
    ];
    let errors = errs
        .0
        .iter()
        .filter(|e| !known.contains(&e.field.as_str()))
        .map(|e| e.message.clone())
        .collect();
    let sessions =
        crate::sessions::live_sessions(state, auth.db(), &user.id, &auth.session.token_hash)
            .await?
            .into_iter()
            .map(|s| SessionRow {
                device: s.user_agent.unwrap_or_else(|| "Unknown device".into()),
                ip: s.ip.unwrap_or_default(),
                created: show_time(&s.created_at),
                last_seen: show_time(&s.last_seen_at),
                current: s.current,
                id: s.id,
            })
            .collect();
    let tokens = super::tokens::rows(state, auth.db(), &user.id).await?;
    let scope_options = super::tokens::scope_options();
    render(
        status,
        &ProfilePage {
            chrome: Chrome::new(auth, "me", "My profile").with_flash(msg),
            username: user.username.clone(),
            role: role_title(&auth.grant.role, &auth.grant.role_name),
            rights: auth
                .grant
                .rights
                .iter()
                .map(|r| right_label(*r))
                .chain([visibility_label(auth.grant.visibility)])
                .collect(),
            fields,
            password_fields,
            errors,
            sessions,
            tokens,
            tokens_base: format!("/{}/me/tokens", auth.slug()),
            scope_options,
            new_token,
        },
    )
}

async fn show(
    State(state): State<AppState>,
    auth: UiAuth<SignedIn>,
    RawQuery(raw): RawQuery,
) -> Result<Response, UiError> {
    let params = FormData::parse(raw.unwrap_or_default().as_bytes());
    page(
        &state,
        &auth,
        None,
        &FieldErrors::new(),
        params.get("msg"),
        StatusCode::OK,
    )
    .await
}

async fn save(State(state): State<AppState>, post: Post<SignedIn>) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let mut errs = FieldErrors::new();
    let (display_name, email, phone) = personal_details(&form, &mut errs);
    if !errs.is_empty() {
        return page(
            &state,
            &auth,
            Some(&form),
            &errs,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    // A new e-mail address is where a password reset would go: it needs a recent check
    // (asked here first, so that the web UI can send the user to confirm it is them).
    if email.as_deref() != auth.user().email.as_deref() {
        auth.require_step_up(&format!("/{}/me", auth.slug()))?;
    }
    skjold_app::account::update_details(
        &auth.ctx(),
        &auth.acting(),
        UserPatch {
            display_name: Some(display_name),
            email: Some(email),
            phone: Some(phone),
            ..UserPatch::default()
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/{}/me?msg=profile", auth.slug())).into_response())
}

async fn change_password(
    State(state): State<AppState>,
    post: Post<SignedIn>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let mut errs = FieldErrors::new();
    let current = form.get("current_password").unwrap_or("").to_string();
    let new = form.get("new_password").unwrap_or("").to_string();
    let repeat = form.get("repeat_password").unwrap_or("");
    let right = crate::signin::check_current_password(
        &state,
        &auth.tenant.record,
        auth.db(),
        auth.user(),
        current,
        auth.ip(),
        "web",
    )
    .await?;
    if !right {
        errs.add("current_password", "is not your current password");
    }
    if errs.is_empty() {
        match crate::password::check_new_password(
            auth.db(),
            &auth.tenant.record,
            &auth.user().username,
            Some(&auth.user().id),
            &new,
        )
        .await
        {
            Ok(_) => {}
            Err(crate::password::PasswordRefusal::Policy(v)) => {
                errs.add("new_password", refusal_text(&v));
            }
            Err(crate::password::PasswordRefusal::Store(e)) => return Err(e.into()),
        }
    }
    if new != repeat {
        errs.add("repeat_password", "does not match the new password");
    }
    if !errs.is_empty() {
        return page(
            &state,
            &auth,
            None,
            &errs,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    // Every other session ends; this one stays.
    skjold_app::account::change_password(&auth.ctx(), &auth.acting(), new).await?;
    Ok(Redirect::to(&format!("/{}/me?msg=password", auth.slug())).into_response())
}

async fn revoke_session(post: Post<SignedIn>) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let id = form.text("id");
    skjold_app::account::end_session(&auth.ctx(), &auth.acting(), &id).await?;
    Ok(Redirect::to(&format!("/{}/me?msg=session-ended", auth.slug())).into_response())
}

async fn create_token(
    State(state): State<AppState>,
    post: Post<SignedIn>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    auth.require_step_up(&format!("/{}/me", auth.slug()))?;
    let created = match super::tokens::create_from_form(
        &state,
        &auth.ctx(),
        &auth.acting(),
        skjold_app::tokens::Whose::Own,
        &form,
    )
    .await?
    {
        Ok(c) => c,
        Err(errs) => {
            return page(
                &state,
                &auth,
                None,
                &errs,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    page_with_token(
        &state,
        &auth,
        None,
        &FieldErrors::new(),
        None,
        StatusCode::OK,
        Some((created.view.name, created.token)),
    )
    .await
}

async fn revoke_token(post: Post<SignedIn>) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let id = form.text("id");
    match skjold_app::tokens::revoke(
        &auth.ctx(),
        &auth.acting(),
        skjold_app::tokens::Whose::Own,
        &id,
    )
    .await
    {
        // A token revoked meanwhile (or a forged id) is no longer listed: nothing to show.
        Ok(()) | Err(skjold_app::AppError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Redirect::to(&format!("/{}/me?msg=token-revoked", auth.slug())).into_response())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/{tenant}/me/tokens",
            get(|| async { Redirect::to("../me") }).post(create_token),
        )
        .route(
            "/{tenant}/me/tokens/revoke",
            get(|| async { Redirect::to("../../me") }).post(revoke_token),
        )
        .route(
            "/{tenant}/me/sessions/revoke",
            get(|| async { Redirect::to("../../me") }).post(revoke_session),
        )
        .route("/{tenant}/me", get(show).post(save))
        .route(
            "/{tenant}/me/password",
            get(|| async { Redirect::to("../me") }).post(change_password),
        )
}

/// What the new-password field says about the tenant's policy.
pub(crate) fn policy_hint(policy: &skjold_domain::PasswordPolicy) -> String {
    let mut needs = Vec::new();
    if policy.require_lowercase {
        needs.push("a lowercase letter");
    }
    if policy.require_uppercase {
        needs.push("an uppercase letter");
    }
    if policy.require_digit {
        needs.push("a digit");
    }
    if policy.require_symbol {
        needs.push("a symbol");
    }
    let mut hint = format!(
        "At least {} characters; not a common password, your username or the organisation's name.",
        policy.min_length
    );
    if !needs.is_empty() {
        hint.push_str(&format!(" Needs {}.", needs.join(", ")));
    }
    hint
}

/// A refusal as a form shows it: the rule's words and its id.
pub(crate) fn refusal_text(v: &skjold_domain::PolicyViolation) -> String {
    format!("The password {} (rule: {}).", v.message, v.rule.id())
}
