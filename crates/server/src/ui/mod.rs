//! The web UI: server-rendered HTML (askama templates in `templates/`) with htmx for partial
//! updates. Every page works without JavaScript: forms post normally and links are links;
//! htmx only makes search-as-you-type and a few buttons swap part of the page.
//!
//! Pages live under `/{tenant}/…`, next to the API under `/{tenant}/api/v1`. Reading a page
//! needs a browser session ([`auth::UiAuth`]); changing anything needs a form with the
//! session's CSRF token ([`auth::Post`]). All writes go through the same `TenantDb` methods
//! as the API, so the change journal records them the same way.

pub(crate) mod assets;
mod audit;
pub(crate) mod auth;
mod backups;
mod dashboard;
mod error;
mod fields;
mod invite;
mod personal_details;
mod pipeline;
mod profile;
mod records;
mod role_labels;
mod roles;
mod search;
mod security;
mod signin;
mod sso;
mod sso_admin;
mod step_up;
mod teams;
mod templates;
mod tokens;
mod two_factor;
mod users;

use crate::extract::Requirement;
use crate::AppState;
use askama::Template;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get};
use axum::Router;
pub use error::{error_page, UiError};
use skjold_domain::Right;

/// What every page's frame (header, navigation, sign-out) needs.
pub struct Chrome {
    pub slug: String,
    pub tenant_name: String,
    pub user_name: String,
    pub csrf: String,
    /// Which main navigation entry is current.
    pub section: &'static str,
    pub show_admin: bool,
    /// The audit trail's page is in the Admin section too.
    pub show_audit: bool,
    /// The security settings' page (password policy, sign-in locks).
    pub show_security: bool,
    /// The backups page (status, drills, restore).
    pub show_backups: bool,
    /// Admin → Roles (holders of roles.manage) and Admin → Teams (users.read).
    pub show_roles: bool,
    pub show_teams: bool,
    /// The record sections of the main navigation, each for holders of its read right.
    pub show_companies: bool,
    pub show_persons: bool,
    pub show_activities: bool,
    pub show_sales: bool,
    /// Where the main navigation's Admin entry leads: the first admin page this user may
    /// use, or none.
    pub admin_href: Option<String>,
    pub title: String,
    /// A short confirmation ("Company saved."), shown once after a redirect.
    pub flash: Option<&'static str>,
    pub asset_v: &'static str,
    /// Maintenance and incident announcements, as a dismissible banner.
    pub notices: Vec<skjold_app::status_view::Notice>,
}

/// The admin pages in the order of the admin navigation, each with the right it needs.
const ADMIN_PAGES: [(Right, &str); 5] = [
    (Right::UsersRead, "users"),
    (Right::RolesManage, "roles"),
    (Right::SettingsManage, "security"),
    (Right::BackupRestore, "backups"),
    (Right::AuditRead, "audit"),
];

/// The first admin page this user may use: where "Admin" leads.
pub fn first_admin_page<R: Requirement>(auth: &auth::UiAuth<R>) -> Option<String> {
    ADMIN_PAGES
        .iter()
        .find(|(right, _)| auth.can(*right))
        .map(|(_, page)| format!("/{}/admin/{page}", auth.slug()))
}

impl Chrome {
    pub fn new<R: Requirement>(
        auth: &auth::UiAuth<R>,
        section: &'static str,
        title: impl Into<String>,
    ) -> Self {
        let user = auth.user();
        let admin_href = first_admin_page(auth);
        Chrome {
            slug: auth.slug().to_string(),
            tenant_name: auth.tenant.record.display_name.clone(),
            user_name: user
                .display_name
                .clone()
                .unwrap_or_else(|| user.username.clone()),
            csrf: auth.csrf(),
            section,
            show_admin: auth.can(Right::UsersRead),
            show_audit: auth.can(Right::AuditRead),
            show_security: auth.can(Right::SettingsManage),
            show_backups: auth.can(Right::BackupRestore),
            show_roles: auth.can(Right::RolesManage),
            show_teams: auth.can(Right::UsersRead),
            show_companies: auth.can(Right::CompaniesRead),
            show_persons: auth.can(Right::PersonsRead),
            show_activities: auth.can(Right::ActivitiesRead),
            show_sales: auth.can(Right::SalesRead),
            admin_href,
            title: title.into(),
            flash: None,
            asset_v: assets::version(),
            notices: auth.state().notices.shown(auth.state().clock.now()),
        }
    }

    /// Sets the confirmation named by a `?msg=` parameter. Only known names show anything,
    /// so a link cannot put words of its own on the page.
    pub fn with_flash(mut self, msg: Option<&str>) -> Self {
        self.flash = msg.and_then(flash_text);
        self
    }
}

fn flash_text(key: &str) -> Option<&'static str> {
    Some(match key {
        "created" => "Created.",
        "saved" => "Saved.",
        "deleted" => "Deleted.",
        "moved" => "Sale moved.",
        "logged" => "Activity logged.",
        "done" => "Marked as done.",
        "signed-out" => "You are signed out.",
        "profile" => "Your details are saved.",
        "password" => "Your password is changed.",
        "unlocked" => "The lock is lifted.",
        "restore-started" => "The restore is started; this page shows how it went.",
        "session-ended" => "The session is signed out.",
        "token-revoked" => "The API token is revoked.",
        "password-expired" => {
            "Your password is older than your organisation allows. Please choose a new one."
        }
        _ => return None,
    })
}

/// Renders a page as an HTML response.
pub fn render(status: StatusCode, page: &impl Template) -> Result<Response, UiError> {
    let html = page.render()?;
    let mut res = (status, html).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Ok(res)
}

pub fn ok(page: &impl Template) -> Result<Response, UiError> {
    render(StatusCode::OK, page)
}

/// `/{tenant}` without the slash.
async fn tenant_root(req: Request) -> Response {
    let path = req.uri().path().trim_matches('/').to_string();
    if req.method() == axum::http::Method::GET && wants_html(req.headers()) {
        if let Ok(slug) = skjold_domain::TenantSlug::parse(&path) {
            return Redirect::permanent(&format!("/{slug}/")).into_response();
        }
    }
    crate::ApiError::NotFound("no such resource").into_response()
}

fn wants_html(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// Unknown paths under a tenant: an HTML "not found" page for a browser, the API's problem
/// document for everyone else (and always under `/{tenant}/api/`).
async fn not_found(req: Request) -> Response {
    let under_api = req
        .uri()
        .path()
        .trim_start_matches('/')
        .split('/')
        .nth(1)
        .is_some_and(|s| s == "api");
    if under_api || !wants_html(req.headers()) {
        return crate::ApiError::NotFound("no such resource").into_response();
    }
    UiError::NotFound.into_response()
}

/// Every page of the web UI and its static assets.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/static/{file}", get(assets::serve))
        .route("/{tenant}", any(tenant_root))
        .route("/{tenant}/{*rest}", any(not_found))
        .merge(signin::router())
        .merge(sso::router())
        .merge(sso_admin::router())
        .merge(dashboard::router())
        .merge(search::router())
        .merge(records::router())
        .merge(pipeline::router())
        .merge(users::router())
        .merge(roles::router())
        .merge(teams::router())
        .merge(audit::router())
        .merge(profile::router())
        .merge(security::router())
        .merge(backups::router())
        .merge(two_factor::router())
        .merge(step_up::router())
        .merge(invite::router())
}
