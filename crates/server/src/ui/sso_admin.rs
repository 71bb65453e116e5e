//! Administration: Admin → Security → Single sign-on. The tenant's identity providers
//! (the API's `/identity-providers`): list, add, turn on and off, replace the client
//! secret, remove. Each change is the application layer's action.

use super::auth::{FormData, Post, UiAuth};
use super::templates::{AdminSsoPage, FormField, Opt};
use super::{render, Chrome, UiError};
use crate::extract::SettingsManage;
use crate::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use skjold_app::identity_providers::{self as idp, NewProvider, ProviderPatch, ProviderView};
use skjold_app::two_factor::Required;
use skjold_app::AppError;
use skjold_domain::FieldErrors;

fn select(
    name: &'static str,
    label: &'static str,
    choices: &[(&str, &str)],
    chosen: &str,
    hint: &'static str,
    errs: &FieldErrors,
) -> FormField {
    FormField::simple(name, label, "select", chosen, false, hint, errs).with_options(
        choices
            .iter()
            .map(|(value, label)| Opt {
                value: value.to_string(),
                label: label.to_string(),
                selected: *value == chosen,
            })
            .collect(),
    )
}

fn checkbox(
    name: &'static str,
    label: &'static str,
    on: bool,
    hint: &'static str,
    errs: &FieldErrors,
) -> FormField {
    let mut f = FormField::simple(name, label, "checkbox", "1", false, hint, errs);
    f.checked = on;
    f
}

/// The add form's fields, empty or as typed.
async fn fields(
    auth: &UiAuth<SettingsManage>,
    typed: Option<&FormData>,
    errs: &FieldErrors,
) -> Result<Vec<FormField>, UiError> {
    let val = |name: &str| typed.map(|f| f.text(name)).unwrap_or_default();
    let on = |name: &str, default: bool| typed.map(|f| f.get(name).is_some()).unwrap_or(default);
    let kind = typed
        .and_then(|f| f.get("kind").map(str::to_string))
        .unwrap_or_else(|| "entra".into());
    let mut roles = vec![(
        "".to_string(),
        "Nobody is made: only existing users".to_string(),
    )];
    for r in auth.db().list_roles().await? {
        if !r.id.is_administrator() {
            roles.push((
                r.id.as_str().to_string(),
                format!("Make them with the role {}", r.name),
            ));
        }
    }
    let role_choices: Vec<(&str, &str)> = roles
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    Ok(vec![
        select(
            "kind",
            "Kind",
            &[
                ("entra", "Microsoft Entra ID (Office 365)"),
                ("google", "Google Workspace"),
                ("oidc", "Another OpenID Connect provider"),
            ],
            &kind,
            "",
            errs,
        ),
        FormField::simple("name", "Name", "text", val("name"), true, "Shown on the sign-in button of another provider, and in the audit trail.", errs),
        FormField::simple("client_id", "Client id (application id)", "text", val("client_id"), true, "", errs),
        FormField::simple("client_secret", "Client secret", "password", String::new(), true, "Stored encrypted; never shown again.", errs),
        FormField::simple("directory_id", "Directory (tenant) id — Entra ID", "text", val("directory_id"), false, "The GUID on the Entra admin centre's overview page.", errs),
        FormField::simple("hosted_domains", "Workspace domains — Google", "text", val("hosted_domains"), false, "Separated by spaces or commas, e.g. example.com", errs),
        FormField::simple("issuer", "Issuer URL — other providers", "url", val("issuer"), false, "Its discovery document is read from <issuer>/.well-known/openid-configuration.", errs),
        checkbox("require_mfa", "Require the provider's second factor", on("require_mfa", true), "A sign-in whose token does not prove a second factor (amr mfa, otp, hwk, swk or fido) is refused.", errs),
        select(
            "jit_role",
            "People the provider knows but Skjold does not",
            &role_choices,
            &val("jit_role"),
            "Existing users are linked at their first sign-in by their verified e-mail address.",
            errs,
        ),
        checkbox("sso_only", "Linked users may not use a password", on("sso_only", false), "After their first single sign-on, their password is refused.", errs),
    ])
}

async fn page(
    state: &AppState,
    auth: &UiAuth<SettingsManage>,
    typed: Option<&FormData>,
    errs: &FieldErrors,
    flash: Option<&'static str>,
    status: StatusCode,
) -> Result<Response, UiError> {
    let slug = auth.slug().to_string();
    let redirect_uri = crate::sso::redirect_uri(&state.config, &slug);
    let providers = idp::list(&auth.ctx(), &auth.acting())
        .await?
        .iter()
        .map(|p| ProviderView::of(p, redirect_uri.clone()))
        .collect();
    let fields = fields(auth, typed, errs).await?;
    let policy = idp::sso_only_policy(auth.db()).await?;
    let sso_only_roles = auth
        .db()
        .list_roles()
        .await?
        .into_iter()
        .map(|r| {
            let id = r.id.as_str().to_string();
            let on = policy.roles.contains(&id);
            (id, r.name, on)
        })
        .collect();
    let known: Vec<&str> = fields.iter().map(|f| f.name).collect();
    let errors = errs
        .0
        .iter()
        .filter(|e| !known.contains(&e.field.as_str()))
        .map(|e| e.message.clone())
        .collect();
    render(
        status,
        &AdminSsoPage {
            chrome: Chrome::new(auth, "admin", "Security"),
            providers,
            redirect_uri,
            fields,
            errors,
            flash,
            sso_only_required: match policy.required {
                Required::None => "none",
                Required::All => "all",
                Required::Roles => "roles",
            },
            sso_only_roles,
        },
    )
}

async fn show(
    State(state): State<AppState>,
    auth: UiAuth<SettingsManage>,
    RawQuery(raw): RawQuery,
) -> Result<Response, UiError> {
    let params = FormData::parse(raw.unwrap_or_default().as_bytes());
    let flash = match params.get("msg") {
        Some("added") => Some("The provider is added: its button is on the sign-in screen."),
        Some("saved") => Some("Saved."),
        Some("removed") => Some("The provider is removed, with its links to users."),
        _ => None,
    };
    page(
        &state,
        &auth,
        None,
        &FieldErrors::new(),
        flash,
        StatusCode::OK,
    )
    .await
}

fn done(auth: &UiAuth<SettingsManage>, msg: &str) -> Response {
    Redirect::to(&format!("/{}/admin/security/sso?msg={msg}", auth.slug())).into_response()
}

async fn add(
    State(state): State<AppState>,
    post: Post<SettingsManage>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let kind = form.text("kind");
    let opt = |name: &str| Some(form.text(name)).filter(|v| !v.trim().is_empty());
    let new = NewProvider {
        name: form.text("name"),
        client_id: form.text("client_id").trim().to_string(),
        client_secret: form.text("client_secret").trim().to_string(),
        directory_id: opt("directory_id").filter(|_| kind == "entra"),
        hosted_domains: opt("hosted_domains").filter(|_| kind == "google").map(|d| {
            d.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        }),
        issuer: opt("issuer").filter(|_| kind == "oidc"),
        scopes: None,
        require_mfa: form.get("require_mfa").is_some(),
        mfa_amr: None,
        mfa_acr: None,
        jit_role: opt("jit_role"),
        sso_only: form.get("sso_only").is_some(),
        enabled: true,
        kind,
    };
    match idp::create(
        &auth.ctx(),
        &auth.acting(),
        &state.secrets,
        &state.sso.presets,
        new,
    )
    .await
    {
        Ok(_) => Ok(done(&auth, "added")),
        Err(AppError::Invalid(errs)) => {
            page(
                &state,
                &auth,
                Some(&form),
                &errs,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(AppError::Conflict(m)) => {
            let errs = FieldErrors::single("name", m);
            page(
                &state,
                &auth,
                Some(&form),
                &errs,
                None,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn change(
    state: &AppState,
    auth: &UiAuth<SettingsManage>,
    id: &str,
    patch: ProviderPatch,
) -> Result<Response, UiError> {
    match idp::update(
        &auth.ctx(),
        &auth.acting(),
        &state.secrets,
        &state.sso.presets,
        id,
        patch,
    )
    .await
    {
        Ok(_) => Ok(done(auth, "saved")),
        Err(AppError::Invalid(errs)) => {
            page(
                state,
                auth,
                None,
                &errs,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn toggle(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    post: Post<SettingsManage>,
) -> Result<Response, UiError> {
    let Post { auth, .. } = post;
    let now = idp::get(&auth.ctx(), &auth.acting(), &id).await?;
    let patch = ProviderPatch {
        enabled: Some(!now.enabled),
        ..ProviderPatch::default()
    };
    change(&state, &auth, &id, patch).await
}

async fn replace_secret(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    post: Post<SettingsManage>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let patch = ProviderPatch {
        client_secret: Some(form.text("client_secret").trim().to_string()),
        ..ProviderPatch::default()
    };
    change(&state, &auth, &id, patch).await
}

async fn save_policy(
    State(state): State<AppState>,
    post: Post<SettingsManage>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let required = match form.get("required") {
        Some("all") => Required::All,
        Some("roles") => Required::Roles,
        _ => Required::None,
    };
    let roles = form
        .0
        .iter()
        .filter(|(k, _)| k == "roles")
        .map(|(_, v)| v.clone())
        .collect();
    let wanted = idp::SsoOnlyPolicy { required, roles };
    match idp::set_sso_only_policy(&auth.ctx(), &auth.acting(), wanted).await {
        Ok(_) => Ok(done(&auth, "saved")),
        Err(AppError::Invalid(errs)) => {
            page(
                &state,
                &auth,
                None,
                &errs,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn remove(
    Path((_, id)): Path<(String, String)>,
    post: Post<SettingsManage>,
) -> Result<Response, UiError> {
    let Post { auth, .. } = post;
    match idp::delete(&auth.ctx(), &auth.acting(), &id).await {
        // Removed meanwhile: nothing to show.
        Ok(()) | Err(AppError::NotFound(_)) => Ok(done(&auth, "removed")),
        Err(e) => Err(e.into()),
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{tenant}/admin/security/sso", get(show).post(add))
        .route("/{tenant}/admin/security/sso/policy", post(save_policy))
        .route("/{tenant}/admin/security/sso/{id}/toggle", post(toggle))
        .route(
            "/{tenant}/admin/security/sso/{id}/secret",
            post(replace_secret),
        )
        .route("/{tenant}/admin/security/sso/{id}/delete", post(remove))
}
