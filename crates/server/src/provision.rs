//! Creating a tenant with its first administrator: shared by `serve` (the demo tenant) and
//! `skjold tenant create`.

use skjold_domain::{Role, TenantSlug, Username};
use skjold_store::{
    Actor, Catalog, NewTenant, NewUser, StoreError, TenantRecord, TenantRouter, User,
};

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
}

/// Creates the tenant and its administrator. With no password given, one is generated and
/// returned (to be shown once).
pub async fn create_tenant_with_admin(
    router: &TenantRouter,
    slug: TenantSlug,
    display_name: &str,
    admin: &str,
    password: Option<String>,
) -> Result<(TenantRecord, User, Option<String>), ProvisionError> {
    let username = Username::parse(admin)
        .map_err(|e| ProvisionError::Invalid(format!("admin username: {e}")))?;
    if let Some(p) = &password {
        crate::api::check_password(p)
            .map_err(|e| ProvisionError::Invalid(format!("password {}", e.0[0].message)))?;
    }
    let catalog: &Catalog = router.catalog();
    let tenant = catalog
        .create(NewTenant {
            slug: slug.clone(),
            display_name: display_name.to_string(),
        })
        .await?;
    let (password, one_time) = match password {
        Some(p) => (p, None),
        None => {
            let p = skjold_auth::generate_password();
            (p.clone(), Some(p))
        }
    };
    let user = add_user(
        router,
        &slug,
        username,
        Role::Administrator,
        password,
        "provision",
    )
    .await?;
    Ok((tenant, user, one_time))
}

/// Adds a user to an existing tenant on behalf of an operator.
pub async fn add_user(
    router: &TenantRouter,
    slug: &TenantSlug,
    username: Username,
    role: Role,
    password: String,
    what: &'static str,
) -> Result<User, ProvisionError> {
    crate::api::check_password(&password)
        .map_err(|e| ProvisionError::Invalid(format!("password {}", e.0[0].message)))?;
    let (_, db) = router
        .open(slug)
        .await?
        .ok_or_else(|| ProvisionError::Invalid(format!("no tenant '{slug}'")))?;
    let password_hash = skjold_auth::hash_password(password)
        .await
        .map_err(|e| ProvisionError::Invalid(e.to_string()))?;
    Ok(db
        .create_user(
            &Actor::System { what },
            NewUser {
                username,
                display_name: None,
                email: None,
                phone: None,
                role,
                password_hash,
            },
        )
        .await?)
}
