//! Creating a tenant with its first administrator, and adding users on an operator's
//! behalf: shared by `serve` (the demo tenant) and the CLI. Each step is an audited event.

use skjold_app::users::{Created, FirstAccess, NewAccount};
use skjold_app::{AppError, Ctx};
use skjold_audit::AuditTrail;
use skjold_domain::audit::AuditKind;
use skjold_domain::audit::{Draft, SYSTEM_CHAIN};
use skjold_domain::clock::format_timestamp;
use skjold_domain::{Role, TenantSlug, UserKind, Username};
use skjold_store::{
    Actor, Catalog, NewTenant, NewUser, StoreError, TenantRecord, TenantRouter, User,
};

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
    /// The password breaks the tenant's policy; the message names the rule.
    #[error("{0}")]
    Password(String),
    #[error(transparent)]
    Audit(#[from] skjold_audit::AuditError),
}

/// An operator's event: `what` says which tool acted (`cli`, `serve`).
pub async fn operator_event(
    router: &TenantRouter,
    audit: &AuditTrail,
    chain: &str,
    kind: AuditKind,
    detail: serde_json::Value,
) -> Result<(), skjold_audit::AuditError> {
    let draft = Draft {
        at: format_timestamp(router.catalog().clock().now()),
        kind: kind.into(),
        username: Some("operator".to_string()),
        detail: Some(detail),
        ..Draft::default()
    };
    audit.record(chain, draft).await
}

/// Creates the tenant and its administrator. With no password given, one is generated and
/// returned (to be shown once).
pub async fn create_tenant_with_admin(
    router: &TenantRouter,
    audit: &AuditTrail,
    slug: TenantSlug,
    display_name: &str,
    admin: &str,
    password: Option<String>,
) -> Result<(TenantRecord, User, Option<String>), ProvisionError> {
    let username = Username::parse(admin)
        .map_err(|e| ProvisionError::Invalid(format!("admin username: {e}")))?;
    // A new tenant starts with the default policy: check against it before anything exists.
    let policy = skjold_domain::PasswordPolicy::default();
    let names = [slug.as_str(), display_name];
    if let Some(p) = &password {
        policy
            .check(
                p,
                username.as_str(),
                &names,
                skjold_app::credentials::is_common_password,
            )
            .map_err(|v| ProvisionError::Password(v.to_string()))?;
    }
    let catalog: &Catalog = router.catalog();
    let tenant = catalog
        .create(NewTenant {
            slug: slug.clone(),
            display_name: display_name.to_string(),
        })
        .await?;
    operator_event(
        router,
        audit,
        SYSTEM_CHAIN,
        AuditKind::TenantCreated,
        serde_json::json!({ "tenant": slug.as_str(), "name": display_name }),
    )
    .await?;
    let (password, one_time) = match password {
        Some(p) => (p, None),
        None => {
            let p = crate::password::generate_password(&policy, username.as_str(), &tenant)
                .map_err(|v| ProvisionError::Password(v.to_string()))?;
            (p.clone(), Some(p))
        }
    };
    let user = first_administrator(router, audit, &tenant, username, password).await?;
    Ok((tenant, user, one_time))
}

/// The new tenant's first administrator: made by the system as part of creating the
/// tenant (no actor exists yet to hold a role), recorded as `user.created` with
/// `by: "provision"`.
async fn first_administrator(
    router: &TenantRouter,
    audit: &AuditTrail,
    tenant: &TenantRecord,
    username: Username,
    password: String,
) -> Result<User, ProvisionError> {
    let (_, db) = router
        .open(&tenant.slug)
        .await?
        .ok_or_else(|| ProvisionError::Invalid(format!("no tenant '{}'", tenant.slug)))?;
    let password_hash = skjold_app::credentials::hash_password(password)
        .await
        .map_err(|e| ProvisionError::Invalid(e.to_string()))?;
    let user = db
        .create_user(
            &Actor::System { what: "provision" },
            NewUser {
                id: db.new_record_id(),
                username,
                display_name: None,
                email: None,
                phone: None,
                role: Role::Administrator.id(),
                kind: UserKind::Person,
                password_hash: Some(password_hash),
            },
        )
        .await?;
    operator_event(
        router,
        audit,
        tenant.slug.as_str(),
        AuditKind::UserCreated,
        serde_json::json!({ "user_id": user.id, "username": user.username, "role": user.role.as_str(), "kind": user.kind, "by": "provision" }),
    )
    .await?;
    Ok(user)
}

/// Adds a person with a password to an existing tenant on behalf of an operator. `role` is
/// a role's id or name, built in or the tenant's own.
pub async fn add_user(
    router: &TenantRouter,
    audit: &AuditTrail,
    slug: &TenantSlug,
    username: Username,
    role: &str,
    password: String,
) -> Result<User, ProvisionError> {
    add_user_of_kind(
        router,
        audit,
        slug,
        username,
        role,
        FirstAccess::Password(password),
    )
    .await
    .map(|c| c.user)
}

/// Adds a user on behalf of an operator, as the application layer's action
/// ([`skjold_app::users::create`]): how they get in is `access` (a password, a one-time
/// password made here, an invitation to issue next, or none for a service user).
pub async fn add_user_of_kind(
    router: &TenantRouter,
    audit: &AuditTrail,
    slug: &TenantSlug,
    username: Username,
    role: &str,
    access: FirstAccess,
) -> Result<Created, ProvisionError> {
    let (record, db) = router
        .open(slug)
        .await?
        .ok_or_else(|| ProvisionError::Invalid(format!("no tenant '{slug}'")))?;
    let ctx = Ctx {
        tenant: &record,
        db: &db,
        audit,
        clock: router.catalog().clock(),
        ip: None,
        request_id: None,
    };
    let new = NewAccount {
        username,
        display_name: None,
        email: None,
        phone: None,
        role: role.to_string(),
        access,
    };
    skjold_app::users::create(&ctx, &skjold_app::Actor::Operator, new)
        .await
        .map_err(|e| match e {
            AppError::Invalid(f) if f.0.iter().any(|e| e.field == "role") => {
                ProvisionError::Invalid(format!(
                    "there is no role '{role}'; `skjold role list --tenant {slug}` lists the roles"
                ))
            }
            AppError::PasswordRefused(v) => ProvisionError::Password(v.to_string()),
            AppError::Store(s) => ProvisionError::Store(s),
            other => ProvisionError::Invalid(other.to_string()),
        })
}
