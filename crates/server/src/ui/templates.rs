//! The pages' data, one struct per template in `crates/server/templates/`. Askama checks
//! the templates against these at compile time and escapes every value for HTML.

use super::fields::Cell;
use super::users::{Created, ShownOnce};
use super::Chrome;
use askama::Template;

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub request_id: &'a str,
    pub status: u16,
    pub asset_v: &'a str,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub slug: String,
    pub tenant_name: String,
    pub asset_v: &'static str,
    pub username: String,
    pub next: Option<String>,
    pub signin_token: String,
    pub error: Option<String>,
    pub info: Option<&'static str>,
    /// Announced maintenance and open incidents, shown to everyone who signs in.
    pub notices: Vec<skjold_app::status_view::Notice>,
    /// "Sign in with …": the tenant's enabled identity providers.
    pub sso_buttons: Vec<SsoButton>,
}

/// A sign-in button of an identity provider.
#[derive(Debug, Clone)]
pub struct SsoButton {
    pub href: String,
    pub label: String,
    /// `entra`, `google` or `oidc`: the button's look.
    pub kind: String,
}

/// The page behind an invitation link: choose a password (`username` set), or why the
/// link does not work (`username` empty).
#[derive(Template)]
#[template(path = "invite.html")]
pub struct InvitePage {
    pub slug: String,
    pub tenant_name: String,
    pub asset_v: &'static str,
    pub token: String,
    pub username: Option<String>,
    /// The tenant's password rules in a sentence.
    pub hint: String,
    pub signin_token: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage {
    pub chrome: Chrome,
}

/// A button-like link on a page.
pub struct Action {
    pub label: String,
    pub href: String,
    pub primary: bool,
}

#[derive(Template)]
#[template(path = "list.html")]
pub struct ListPage {
    pub chrome: Chrome,
    pub path: &'static str,
    pub plural: &'static str,
    pub new_label: &'static str,
    pub new_href: Option<String>,
    pub search_label: String,
    pub q: String,
    pub mine: bool,
    /// Hidden inputs that keep a link filter while searching.
    pub keep: Vec<(String, String)>,
    /// "Persons of Acme" with a link that drops the filter.
    pub filter_note: Option<(String, String)>,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
    pub empty_text: String,
    pub next_href: Option<String>,
    pub first_href: Option<String>,
    /// The CSV and JSON-lines downloads of the whole list, for holders of `export`.
    pub export_hrefs: Option<(String, String)>,
    /// The "Sort by" choices, the current one selected.
    pub sort_options: Vec<Opt>,
}

pub struct Section {
    pub id: String,
    pub title: String,
    pub new_label: String,
    pub new_href: Option<String>,
    pub more_href: Option<String>,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
    pub empty: String,
}

pub struct HistoryRow {
    pub at: String,
    pub who: String,
    pub what: &'static str,
    /// (field, from, to); `from` is empty for a creation.
    pub changes: Vec<(String, String, String)>,
}

/// The stage-moving form of a sale (pipeline card and sale page).
pub struct MoveForm {
    pub action: String,
    pub id: String,
    pub options: Vec<Opt>,
    pub return_to: Option<String>,
}

#[derive(Template)]
#[template(path = "detail.html")]
pub struct DetailPage {
    pub chrome: Chrome,
    pub kind_label: &'static str,
    pub title: String,
    pub facts: Vec<(&'static str, Cell)>,
    pub notes: Option<String>,
    pub actions: Vec<Action>,
    pub move_form: Option<MoveForm>,
    pub sections: Vec<Section>,
    pub history: Vec<HistoryRow>,
    pub created: String,
    pub updated: String,
}

pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct FormField {
    pub name: &'static str,
    pub id: String,
    pub label: &'static str,
    /// `text`, `email`, `tel`, `url`, `number`, `date`, `datetime-local`, `textarea`,
    /// `select` or `checkbox`.
    pub kind: &'static str,
    pub value: String,
    pub checked: bool,
    pub required: bool,
    pub hint: String,
    pub error: Option<String>,
    pub options: Vec<Opt>,
    /// `aria-describedby`: the hint's and the error's ids.
    pub described_by: String,
    /// Shown when a list of choices was cut short.
    pub more_note: Option<String>,
    /// The id of a `<datalist>` of suggestions.
    pub list: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "form.html")]
pub struct FormPage {
    pub chrome: Chrome,
    pub heading: String,
    pub action: String,
    pub cancel_href: String,
    pub fields: Vec<FormField>,
    /// Errors that belong to no field of the form, and conflicts.
    pub errors: Vec<String>,
    /// Some field has an error of its own.
    pub field_errors: bool,
    pub return_to: Option<String>,
}

#[derive(Template)]
#[template(path = "delete.html")]
pub struct DeletePage {
    pub chrome: Chrome,
    pub one: &'static str,
    pub title: String,
    pub action: String,
    pub cancel_href: String,
    /// Why the plain delete was refused (linked records), offering the cascade.
    pub conflict: Option<String>,
}

pub struct DashActivity {
    pub id: String,
    pub when: String,
    pub overdue: bool,
    pub kind: String,
    pub subject: Cell,
    pub about: Option<Cell>,
}

pub struct RecentRow {
    pub kind: &'static str,
    pub record: Cell,
    pub what: &'static str,
    pub who: String,
    pub at: String,
}

#[derive(Template)]
#[template(path = "search.html")]
pub struct SearchPage {
    pub chrome: Chrome,
    pub q: String,
    /// Whether a search ran (a query was given and it had words).
    pub searched: bool,
    /// Why the query found nothing to search for.
    pub problem: Option<String>,
    pub groups: Vec<SearchGroupView>,
}

/// One record type's hits on the search page.
pub struct SearchGroupView {
    pub title: &'static str,
    pub path: &'static str,
    pub hits: Vec<SearchHitView>,
    /// More hits than shown: `all_href` is the type's own list with the query.
    pub more: bool,
    pub all_href: String,
}

pub struct SearchHitView {
    pub href: String,
    pub name: String,
    pub context: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub chrome: Chrome,
    /// What the user may do and read, each by its own right.
    pub can: DashRights,
    pub activities: Vec<DashActivity>,
    pub sales_headers: Vec<&'static str>,
    pub sales: Vec<Vec<Cell>>,
    pub recent: Vec<RecentRow>,
}

/// The dashboard's buttons and panels, each shown only to holders of its right.
pub struct DashRights {
    pub new_company: bool,
    pub new_person: bool,
    pub new_activity: bool,
    pub new_sale: bool,
    pub read_activities: bool,
    pub read_sales: bool,
}

impl DashRights {
    pub fn any_new(&self) -> bool {
        self.new_company || self.new_person || self.new_activity || self.new_sale
    }
}

pub struct Card {
    pub title: Cell,
    pub company: Option<Cell>,
    pub amount: String,
    pub probability: i64,
    pub move_form: Option<MoveForm>,
}

pub struct Column {
    pub stage: &'static str,
    pub label: &'static str,
    pub cards: Vec<Card>,
}

#[derive(Template)]
#[template(path = "pipeline.html")]
pub struct PipelinePage {
    pub chrome: Chrome,
    pub mine: bool,
    pub columns: Vec<Column>,
    pub won: usize,
    pub lost: usize,
    pub truncated: bool,
}

impl FormField {
    /// A field that is not a record's: a user's, a profile's.
    pub fn simple(
        name: &'static str,
        label: &'static str,
        kind: &'static str,
        value: impl Into<String>,
        required: bool,
        hint: impl Into<String>,
        errors: &skjold_domain::FieldErrors,
    ) -> Self {
        let hint: String = hint.into();
        let id = format!("f-{name}");
        let msgs: Vec<&str> = errors
            .0
            .iter()
            .filter(|e| e.field == name)
            .map(|e| e.message.as_str())
            .collect();
        let error = (!msgs.is_empty()).then(|| msgs.join("; "));
        let mut described_by = Vec::new();
        if !hint.is_empty() {
            described_by.push(format!("{id}-hint"));
        }
        if error.is_some() {
            described_by.push(format!("{id}-error"));
        }
        FormField {
            name,
            id,
            label,
            kind,
            value: value.into(),
            checked: false,
            required,
            hint,
            error,
            options: Vec::new(),
            described_by: described_by.join(" "),
            more_note: None,
            list: None,
        }
    }

    pub fn with_options(mut self, options: Vec<Opt>) -> Self {
        self.options = options;
        self
    }
}

pub struct UserRow {
    pub id: String,
    pub username: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub role: String,
    pub active: bool,
    /// A service user (API tokens only).
    pub service: bool,
    pub created: String,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
pub struct AdminUsersPage {
    pub chrome: Chrome,
    pub can_manage: bool,
    pub users: Vec<UserRow>,
    pub fields: Vec<FormField>,
    pub errors: Vec<String>,
    /// A user just created, with the secret to pass on (shown this once).
    pub created: Option<Created>,
    /// Each role and its rights, in plain words.
    pub roles: Vec<(String, Vec<&'static str>)>,
}

#[derive(Template)]
#[template(path = "admin_user.html")]
pub struct AdminUserPage {
    pub chrome: Chrome,
    pub can_manage: bool,
    pub user: UserRow,
    pub is_self: bool,
    pub fields: Vec<FormField>,
    pub errors: Vec<String>,
    /// A secret just made (reset password, invitation link, API token), shown this once.
    pub shown: Option<ShownOnce>,
    /// The user's open invitation: (expires, expired).
    pub invite: Option<(String, bool)>,
    /// A service user's API tokens.
    pub tokens: Vec<TokenRow>,
    /// Where the token forms post.
    pub tokens_base: String,
    pub scope_options: Vec<String>,
    pub two_factor_required: bool,
    pub two_factor_in_effect: bool,
    pub two_factor_enrolled: bool,
}

#[derive(Template)]
#[template(path = "profile.html")]
pub struct ProfilePage {
    pub chrome: Chrome,
    pub username: String,
    pub role: String,
    pub rights: Vec<&'static str>,
    pub fields: Vec<FormField>,
    pub password_fields: Vec<FormField>,
    pub errors: Vec<String>,
    pub sessions: Vec<SessionRow>,
    pub tokens: Vec<TokenRow>,
    /// Where the token forms post.
    pub tokens_base: String,
    /// Every scope a token can have, for the new-token form.
    pub scope_options: Vec<String>,
    /// A token just made: its name and the token, shown this once.
    pub new_token: Option<(String, String)>,
}

/// One of my API tokens on the profile page.
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub scopes: String,
    pub expires: String,
    pub expired: bool,
    pub last_used: String,
}

/// One of my sessions on the profile page.
pub struct SessionRow {
    pub id: String,
    pub device: String,
    pub ip: String,
    pub created: String,
    pub last_seen: String,
    pub current: bool,
}

pub struct AuditRow {
    pub at: String,
    pub kind: String,
    pub outcome: &'static str,
    pub user: String,
    pub ip: String,
    pub request: String,
    pub status: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
pub struct AuditPage {
    pub chrome: Chrome,
    pub fields: Vec<FormField>,
    pub errors: Vec<String>,
    pub rows: Vec<AuditRow>,
    pub searched: bool,
    pub next_href: Option<String>,
    pub first_href: Option<String>,
    /// Downloads of everything the filters match.
    pub csv_href: String,
    pub jsonl_href: String,
    /// The kinds the event filter offers: every kind the code writes.
    pub kinds: &'static [skjold_domain::AuditKind],
}

/// A sign-in lock as the security page lists it.
pub struct LockRow {
    pub username: String,
    pub known_user: bool,
    pub until: String,
    pub lock_count: i64,
}

#[derive(Template)]
#[template(path = "admin_security.html")]
pub struct AdminSecurityPage {
    pub chrome: Chrome,
    pub fields: Vec<FormField>,
    pub lockout_fields: Vec<FormField>,
    pub errors: Vec<String>,
    pub locks: Vec<LockRow>,
    pub common_count: usize,
    pub session_fields: Vec<FormField>,
    pub default_idle: i64,
    pub default_absolute: i64,
    /// The two-factor requirement: `none`, `all` or `roles`…
    pub two_factor_required: &'static str,
    /// … and each role's name with whether the policy names it.
    /// (role id, role name, required by the policy).
    pub two_factor_roles: Vec<(String, String, bool)>,
    /// Subscriptions to the status page's announcements.
    pub subscriptions: Vec<skjold_store::Subscription>,
    /// Whether an SMTP relay is configured (e-mail subscriptions possible).
    pub email_available: bool,
    pub subscription_error: Option<String>,
    /// A new webhook's URL and signing secret, shown once.
    pub new_secret: Option<(String, String)>,
    /// The names of the tenant's identity providers (single sign-on).
    pub sso_providers: Vec<String>,
}

#[derive(Template)]
#[template(path = "two_factor.html")]
pub struct TwoFactorPage {
    pub chrome: Chrome,
    /// The session may only enrol a second factor.
    pub enrolment_required: bool,
    pub error: Option<String>,
    pub totp_on: bool,
    pub codes_left: i64,
    /// A TOTP enrolment just started: its key, shown until confirmed.
    pub enrolment: Option<TotpEnrolmentView>,
    /// Recovery codes just made, shown this once.
    pub recovery_codes: Vec<String>,
    pub passkeys: Vec<PasskeyRow>,
}

pub struct TotpEnrolmentView {
    pub secret: String,
    pub uri: String,
    /// The QR code, an SVG element made by the server from `uri`.
    pub qr_svg: String,
}

pub struct PasskeyRow {
    pub id: String,
    pub name: String,
    pub created: String,
    pub last_used: String,
}

/// One destination on the backups page.
pub struct BackupDestRow {
    pub name: String,
    pub reachable: bool,
    pub missing_objects: u64,
}

/// One snapshot, drill or restore on the backups page.
pub struct BackupLine {
    pub at: String,
    pub what: String,
    pub outcome: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "admin_backups.html")]
pub struct AdminBackupsPage {
    pub chrome: Chrome,
    pub enabled: bool,
    pub can_restore: bool,
    pub oldest: String,
    pub newest: String,
    pub lag_seconds: String,
    pub destinations: Vec<BackupDestRow>,
    pub snapshots: Vec<BackupLine>,
    pub drills: Vec<BackupLine>,
    pub restores: Vec<BackupLine>,
    /// The newest restore's progress panel (while it runs, or just after it was started).
    pub running: Option<super::backups::RestorePanel>,
    /// Set on the confirmation step: the restore about to start.
    pub confirm_at: Option<String>,
    pub confirm_into: String,
    pub errors: Vec<String>,
}

/// Admin → Security → Single sign-on: the tenant's identity providers and the form to add
/// one.
#[derive(Template)]
#[template(path = "admin_sso.html")]
pub struct AdminSsoPage {
    pub chrome: Chrome,
    pub providers: Vec<skjold_app::identity_providers::ProviderView>,
    /// The redirect URI every provider is registered with.
    pub redirect_uri: String,
    pub fields: Vec<FormField>,
    pub errors: Vec<String>,
    pub flash: Option<&'static str>,
    /// The SSO-only policy: `none`, `all` or `roles`…
    pub sso_only_required: &'static str,
    /// … and (role id, role name, named by the policy).
    pub sso_only_roles: Vec<(String, String, bool)>,
}
