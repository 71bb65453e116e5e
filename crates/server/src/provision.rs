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
    Actor, Catalog, NewUser, StoreError, TenantDb, TenantRecord, TenantRouter, User,
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
///
/// The tenant's database is made and its administrator written while the tenant is not
/// yet listed; it is listed last, in the catalog transaction that records
/// `tenant.created`. Whatever fails on the way (the administrator's write or its event, the
/// listing or its event) leaves no tenant behind: the unlisted database is removed.
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
    let (password, one_time) = match password {
        Some(p) => (p, None),
        None => {
            let p = crate::password::generate_password(&policy, username.as_str(), &names)
                .map_err(|v| ProvisionError::Password(v.to_string()))?;
            (p.clone(), Some(p))
        }
    };
    let catalog: &Catalog = router.catalog();
    let db = catalog.prepare_tenant(&slug).await?;
    let made = async {
        let user = first_administrator(&db, audit, catalog, username, password).await?;
        let created = OperatorEvents::new(
            audit,
            catalog,
            &[SYSTEM_CHAIN],
            AuditKind::TenantCreated,
            serde_json::json!({ "tenant": slug.as_str(), "name": display_name }),
        );
        let tenant = catalog
            .register_prepared_recorded(db.clone(), display_name, Some(&created))
            .await?;
        Ok::<_, ProvisionError>((tenant, user))
    }
    .await;
    match made {
        Ok((tenant, user)) => Ok((tenant, user, one_time)),
        // Another creation of the same slug listed it first: its database is not ours to remove.
        Err(e @ ProvisionError::Store(StoreError::Conflict(_))) => Err(e),
        Err(e) => {
            if let Err(discard) = catalog.discard_unlisted(&slug).await {
                tracing::error!(tenant = %slug, error = %discard, "could not remove the database of a tenant whose creation failed");
            }
            Err(e)
        }
    }
}

/// The new tenant's first administrator, written into its still unlisted database: made by
/// the system as part of creating the tenant (no actor exists yet to hold a role), recorded
/// as `user.created` with `by: "provision"` in the write's transaction.
async fn first_administrator(
    db: &TenantDb,
    audit: &AuditTrail,
    catalog: &Catalog,
    username: Username,
    password: String,
) -> Result<User, ProvisionError> {
    let password_hash = skjold_app::credentials::hash_password(password)
        .await
        .map_err(|e| ProvisionError::Invalid(e.to_string()))?;
    let id = db.new_record_id();
    let created = OperatorEvents::new(
        audit,
        catalog,
        &[db.slug().as_str()],
        AuditKind::UserCreated,
        serde_json::json!({ "user_id": id, "username": username.as_str(), "role": Role::Administrator.id().as_str(), "kind": UserKind::Person, "by": "provision" }),
    );
    let user = db
        .with_before_commit(std::sync::Arc::new(created))
        .create_user(
            &Actor::System { what: "provision" },
            NewUser {
                id,
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
    Ok(user)
}

pub use skjold_app::operator::OperatorEvents;

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
