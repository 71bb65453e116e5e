//! Administration: the tenant's security settings — its password policy (the API's
//! `/settings/password-policy`) and the sign-in locks in force (the API's
//! `/sign-in-locks`), which an administrator can lift.

use super::auth::{FormData, Post, UiAuth};
use super::fields::show_time;
use super::templates::{AdminSecurityPage, FormField, LockRow};
use super::{render, Chrome, UiError};
use crate::extract::{Requirement, SettingsManage, UsersManage};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use skjold_domain::{FieldErrors, LockoutPolicy, PasswordPolicy, Username};

fn number_field(
    name: &'static str,
    label: &'static str,
    value: String,
    hint: &'static str,
    errs: &FieldErrors,
) -> FormField {
    FormField::simple(name, label, "text", value, true, hint, errs)
}

fn checkbox(name: &'static str, label: &'static str, on: bool, errs: &FieldErrors) -> FormField {
    let mut f = FormField::simple(name, label, "checkbox", "1", false, "", errs);
    f.checked = on;
    f
}

/// The form's fields, from the policy in force or from what was typed.
fn policy_fields(
    p: &PasswordPolicy,
    typed: Option<&FormData>,
    errs: &FieldErrors,
) -> (Vec<FormField>, Vec<FormField>) {
    let val = |name: &str, v: String| typed.map(|f| f.text(name)).unwrap_or(v);
    let on = |name: &str, v: bool| typed.map(|f| f.get(name).is_some()).unwrap_or(v);
    let fields = vec![
        number_field(
            "min_length",
            "Minimum length",
            val("min_length", p.min_length.to_string()),
            "8 to 128 characters. NIST SP 800-63B: at least 8; 12 or more is recommended.",
            errs,
        ),
        number_field(
            "max_length",
            "Maximum length",
            val("max_length", p.max_length.to_string()),
            "128 to 1024 characters.",
            errs,
        ),
        checkbox(
            "require_lowercase",
            "Require a lowercase letter",
            on("require_lowercase", p.require_lowercase),
            errs,
        ),
        checkbox(
            "require_uppercase",
            "Require an uppercase letter",
            on("require_uppercase", p.require_uppercase),
            errs,
        ),
        checkbox(
            "require_digit",
            "Require a digit",
            on("require_digit", p.require_digit),
            errs,
        ),
        checkbox(
            "require_symbol",
            "Require a symbol",
            on("require_symbol", p.require_symbol),
            errs,
        ),
        number_field(
            "history",
            "Remembered passwords",
            val("history", p.history.to_string()),
            "A new password may not be one of this many last ones (0 to 24).",
            errs,
        ),
        FormField::simple(
            "max_age_days",
            "Maximum age in days",
            "text",
            val(
                "max_age_days",
                p.max_age_days.map(|d| d.to_string()).unwrap_or_default(),
            ),
            false,
            "Empty: passwords do not expire (as NIST advises).",
            errs,
        ),
    ];
    let l = &p.lockout;
    let lockout = vec![
        number_field(
            "lockout.max_failures",
            "Failed sign-ins before a lock",
            val("lockout.max_failures", l.max_failures.to_string()),
            "3 to 100, in a row.",
            errs,
        ),
        number_field(
            "lockout.lock_minutes",
            "First lock, minutes",
            val("lockout.lock_minutes", l.lock_minutes.to_string()),
            "Each further lock in a row lasts twice as long.",
            errs,
        ),
        number_field(
            "lockout.max_lock_minutes",
            "Longest lock, minutes",
            val("lockout.max_lock_minutes", l.max_lock_minutes.to_string()),
            "Up to 10080 (a week).",
            errs,
        ),
    ];
    (fields, lockout)
}

/// Reads the policy form; a number that is not one is named.
fn parse_policy(form: &FormData, errs: &mut FieldErrors) -> PasswordPolicy {
    let mut num = |name: &str, default: u32| -> u32 {
        match form.text(name).parse::<u32>() {
            Ok(n) => n,
            Err(_) => {
                errs.add(name, "must be a whole number");
                default
            }
        }
    };
    let d = PasswordPolicy::default();
    let min_length = num("min_length", d.min_length);
    let max_length = num("max_length", d.max_length);
    let history = num("history", d.history);
    let lockout = LockoutPolicy {
        max_failures: num("lockout.max_failures", d.lockout.max_failures),
        lock_minutes: num("lockout.lock_minutes", d.lockout.lock_minutes),
        max_lock_minutes: num("lockout.max_lock_minutes", d.lockout.max_lock_minutes),
    };
    let age = form.text("max_age_days");
    let max_age_days = if age.is_empty() {
        None
    } else {
        match age.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                errs.add("max_age_days", "must be a whole number, or empty");
                None
            }
        }
    };
    PasswordPolicy {
        min_length,
        max_length,
        require_lowercase: form.get("require_lowercase").is_some(),
        require_uppercase: form.get("require_uppercase").is_some(),
        require_digit: form.get("require_digit").is_some(),
        require_symbol: form.get("require_symbol").is_some(),
        history,
        max_age_days,
        lockout,
    }
}

/// The session settings' fields: empty means the server's default.
fn session_fields(
    current: &crate::state::SessionSettings,
    typed: Option<&FormData>,
    errs: &FieldErrors,
) -> Vec<FormField> {
    let val = |name: &str, v: Option<i64>| {
        typed
            .map(|f| f.text(name))
            .unwrap_or_else(|| v.map(|n| n.to_string()).unwrap_or_default())
    };
    vec![
        FormField::simple(
            "idle_minutes",
            "Idle timeout, minutes",
            "text",
            val("idle_minutes", current.idle_minutes),
            false,
            "1 to 1440. A session unused this long ends.",
            errs,
        ),
        FormField::simple(
            "absolute_hours",
            "Absolute timeout, hours",
            "text",
            val("absolute_hours", current.absolute_hours),
            false,
            "1 to 720. A session ends this long after sign-in, however busy.",
            errs,
        ),
        FormField::simple(
            "token_max_days",
            "Longest API token lifetime, days",
            "text",
            val("token_max_days", current.token_max_days),
            false,
            "1 to 3650.",
            errs,
        ),
    ]
}

async fn page<R: Requirement>(
    state: &AppState,
    auth: &UiAuth<R>,
    typed: Option<&FormData>,
    errs: &FieldErrors,
    msg: Option<&str>,
    status: StatusCode,
) -> Result<Response, UiError> {
    page_with(
        state,
        auth,
        typed,
        errs,
        msg,
        status,
        SubscriptionOutcome::default(),
    )
    .await
}

/// What the status notifications form just did: a refusal to show beside it, or a new
/// webhook's signing secret (shown this once).
#[derive(Default)]
struct SubscriptionOutcome {
    error: Option<String>,
    new_secret: Option<(String, String)>,
}

async fn page_with<R: Requirement>(
    state: &AppState,
    auth: &UiAuth<R>,
    typed: Option<&FormData>,
    errs: &FieldErrors,
    msg: Option<&str>,
    status: StatusCode,
    outcome: SubscriptionOutcome,
) -> Result<Response, UiError> {
    let policy = crate::password::policy(auth.db()).await?;
    let (fields, lockout_fields) = policy_fields(&policy, typed, errs);
    let mut locks = Vec::new();
    for lock in auth.db().active_sign_in_locks().await? {
        let known_user = match Username::parse(&lock.username) {
            Ok(u) => auth.db().user_for_sign_in(&u).await?.is_some(),
            Err(_) => false,
        };
        locks.push(LockRow {
            until: lock
                .locked_until
                .as_deref()
                .map(show_time)
                .unwrap_or_default(),
            username: lock.username,
            known_user,
            lock_count: lock.lock_count,
        });
    }
    let session_settings = state.session_settings(auth.db()).await?;
    let session_fields = session_fields(&session_settings, typed, errs);
    let known: Vec<&str> = fields
        .iter()
        .chain(lockout_fields.iter())
        .chain(session_fields.iter())
        .map(|f| f.name)
        .collect();
    let errors = errs
        .0
        .iter()
        .filter(|e| !known.contains(&e.field.as_str()))
        .map(|e| e.message.clone())
        .collect();
    let two_factor = crate::two_factor::policy(auth.db()).await?;
    let two_factor_required = match two_factor.required {
        crate::two_factor::Required::None => "none",
        crate::two_factor::Required::All => "all",
        crate::two_factor::Required::Roles => "roles",
    };
    let two_factor_roles = crate::two_factor::role_choices(auth.db(), &two_factor).await?;
    render(
        status,
        &AdminSecurityPage {
            chrome: Chrome::new(auth, "admin", "Security").with_flash(msg),
            fields,
            lockout_fields,
            errors,
            locks,
            common_count: skjold_app::credentials::common_password_count(),
            session_fields,
            default_idle: state.config.session_idle_minutes,
            default_absolute: state.config.session_absolute_hours,
            two_factor_required,
            two_factor_roles,
            subscriptions: state
                .tenants
                .catalog()
                .subscriptions(Some(auth.slug()))
                .await?,
            email_available: state.config.notify.smtp.is_some(),
            subscription_error: outcome.error,
            new_secret: outcome.new_secret,
            sso_providers: auth
                .db()
                .identity_providers()
                .await?
                .into_iter()
                .map(|p| p.name)
                .collect(),
        },
    )
}

/// Subscribes an address or a webhook to the status page's announcements.
async fn add_subscription(
    State(state): State<AppState>,
    post: Post<SettingsManage>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let kind = match form.get("kind") {
        Some("webhook") => skjold_app::subscriptions::Kind::Webhook,
        _ => skjold_app::subscriptions::Kind::Email,
    };
    let new = skjold_app::subscriptions::NewSubscription {
        kind,
        target: form.text("target"),
    };
    let made = skjold_app::subscriptions::subscribe(
        &auth.ctx(),
        state.tenants.catalog(),
        &auth.acting(),
        state.config.notify.channels(),
        new,
    )
    .await;
    let (outcome, status) = match made {
        Ok(m) => (
            SubscriptionOutcome {
                error: None,
                new_secret: m.signing_secret.map(|s| (m.subscription.target.clone(), s)),
            },
            StatusCode::OK,
        ),
        Err(skjold_app::AppError::Invalid(f)) => (
            SubscriptionOutcome {
                error: Some(
                    f.0.iter()
                        .map(|e| e.message.clone())
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
                new_secret: None,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(skjold_app::AppError::Conflict(m)) => (
            SubscriptionOutcome {
                error: Some(m),
                new_secret: None,
            },
            StatusCode::CONFLICT,
        ),
        Err(e) => return Err(e.into()),
    };
    let msg = (outcome.error.is_none() && outcome.new_secret.is_none()).then_some("saved");
    page_with(
        &state,
        &auth,
        None,
        &FieldErrors::new(),
        msg,
        status,
        outcome,
    )
    .await
}

async fn remove_subscription(
    State(state): State<AppState>,
    post: Post<SettingsManage>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    match skjold_app::subscriptions::unsubscribe(
        &auth.ctx(),
        state.tenants.catalog(),
        &auth.acting(),
        &form.text("id"),
    )
    .await
    {
        // Removed meanwhile: nothing to show.
        Ok(_) | Err(skjold_app::AppError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Redirect::to(&format!(
        "/{}/admin/security?msg=deleted#notifications-h",
        auth.slug()
    ))
    .into_response())
}

async fn show(
    State(state): State<AppState>,
    auth: UiAuth<SettingsManage>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
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

async fn save_policy(
    State(state): State<AppState>,
    post: Post<SettingsManage>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let mut errs = FieldErrors::new();
    let policy = parse_policy(&form, &mut errs);
    if errs.is_empty() {
        if let Err(e) = policy.validate() {
            errs = e;
        }
    }
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
    skjold_app::settings::set_password_policy(&auth.ctx(), &auth.acting(), policy).await?;
    Ok(Redirect::to(&format!("/{}/admin/security?msg=saved", auth.slug())).into_response())
}

async fn save_sessions(
    State(state): State<AppState>,
    post: Post<SettingsManage>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let mut errs = FieldErrors::new();
    let mut num = |name: &str| -> Option<i64> {
        let t = form.text(name);
        if t.is_empty() {
            return None;
        }
        match t.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errs.add(name, "must be a whole number, or empty");
                None
            }
        }
    };
    let settings = crate::state::SessionSettings {
        idle_minutes: num("idle_minutes"),
        absolute_hours: num("absolute_hours"),
        token_max_days: num("token_max_days"),
    };
    if errs.is_empty() {
        if let Err(e) = settings.validate() {
            errs = e;
        }
    }
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
    skjold_app::settings::set_sessions(&auth.ctx(), &auth.acting(), settings).await?;
    Ok(Redirect::to(&format!("/{}/admin/security?msg=saved", auth.slug())).into_response())
}

async fn unlock(post: Post<UsersManage>) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let name = form.text("username");
    match skjold_app::users::lift_lock(&auth.ctx(), &auth.acting(), &name).await {
        // A lock that ended meanwhile is no longer listed: nothing to show.
        Ok(()) | Err(skjold_app::AppError::NotFound(_)) => {}
        Err(skjold_app::AppError::Forbidden(m)) => return Err(UiError::Forbidden(m)),
        Err(e) => return Err(e.into()),
    }
    Ok(Redirect::to(&format!("/{}/admin/security?msg=unlocked", auth.slug())).into_response())
}

/// The two-factor requirement (the API's `/settings/two-factor`).
async fn save_two_factor(
    State(state): State<AppState>,
    post: Post<SettingsManage>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let required = match form.get("required") {
        Some("all") => crate::two_factor::Required::All,
        Some("roles") => crate::two_factor::Required::Roles,
        _ => crate::two_factor::Required::None,
    };
    let roles = form
        .0
        .iter()
        .filter(|(k, _)| k == "roles")
        .map(|(_, v)| v.clone())
        .collect();
    let wanted = crate::two_factor::TwoFactorPolicy { required, roles };
    let wanted = match wanted.resolved(auth.db()).await? {
        Ok(policy) => policy,
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
    crate::two_factor::set_policy(&auth.ctx(), &auth.acting(), wanted).await?;
    Ok(Redirect::to(&format!("/{}/admin/security?msg=saved", auth.slug())).into_response())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{tenant}/admin/security", get(show))
        .route(
            "/{tenant}/admin/security/password-policy",
            get(|| async { Redirect::to("../security") }).merge(post(save_policy)),
        )
        .route(
            "/{tenant}/admin/security/sessions",
            get(|| async { Redirect::to("../security") }).merge(post(save_sessions)),
        )
        .route(
            "/{tenant}/admin/security/two-factor",
            get(|| async { Redirect::to("../security") }).merge(post(save_two_factor)),
        )
        .route(
            "/{tenant}/admin/security/subscriptions",
            get(|| async { Redirect::to("../security") }).merge(post(add_subscription)),
        )
        .route(
            "/{tenant}/admin/security/subscriptions/remove",
            get(|| async { Redirect::to("../../security") }).merge(post(remove_subscription)),
        )
        .route(
            "/{tenant}/admin/security/unlock",
            get(|| async { Redirect::to("../security") }).merge(post(unlock)),
        )
}
