//! API tokens on web pages: the table of a user's tokens and the "New API token" form, for
//! my own tokens (My profile) and for a service user's (Admin → Users). The rules are the
//! application layer's ([`skjold_app::tokens::mint`]).

use super::auth::FormData;
use super::fields::show_time;
use super::templates::TokenRow;
use super::UiError;
use crate::tokens::{CreatedToken, NewTokenBody, TokenView};
use crate::AppState;
use skjold_domain::FieldErrors;
use skjold_store::TenantDb;

/// A user's tokens as table rows, newest first.
pub async fn rows(
    state: &AppState,
    db: &TenantDb,
    user_id: &str,
) -> Result<Vec<TokenRow>, UiError> {
    let now = state.clock.now();
    Ok(db
        .api_tokens_of(user_id)
        .await?
        .into_iter()
        .map(|t| {
            let v = TokenView::new(t, now);
            TokenRow {
                id: v.id,
                name: v.name,
                scopes: v.scopes.join(", "),
                expires: show_time(&v.expires_at),
                expired: v.expired,
                last_used: match (v.last_used_at, v.last_used_ip) {
                    (Some(at), Some(ip)) => format!("{} from {ip}", show_time(&at)),
                    (Some(at), None) => show_time(&at),
                    _ => "never".into(),
                },
            }
        })
        .collect())
}

/// The scopes the form offers: read and write of everything and of each resource.
pub fn scope_options() -> Vec<String> {
    std::iter::once("all")
        .chain(crate::scopes::RESOURCES.iter().copied())
        .flat_map(|r| [format!("{r}:read"), format!("{r}:write")])
        .collect()
}

/// Makes a token (`whose`: mine or a service user's) from the form (name, scope checkboxes, days). A refusal is
/// `Ok(Err(_))` with one message per problem, under the field `token`.
pub async fn create_from_form(
    state: &AppState,
    ctx: &skjold_app::Ctx<'_>,
    actor: &skjold_app::Actor,
    whose: skjold_app::tokens::Whose<'_>,
    form: &FormData,
) -> Result<Result<CreatedToken, FieldErrors>, UiError> {
    let scopes: Vec<String> = form
        .0
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.clone())
        .collect();
    let mut errs = FieldErrors::new();
    let expires_at = match form.text("days").parse::<i64>() {
        Ok(d) if (1..=3650).contains(&d) => Some(skjold_domain::clock::format_timestamp(
            state.clock.now() + chrono::Duration::days(d),
        )),
        _ => {
            errs.add("token", "Valid for: a whole number of days, 1 to 3650");
            None
        }
    };
    let Some(expires_at) = expires_at else {
        return Ok(Err(errs));
    };
    let body = NewTokenBody {
        name: form.text("name"),
        scopes,
        expires_at: Some(expires_at),
    };
    match skjold_app::tokens::mint(ctx, actor, whose, body).await {
        Ok(created) => Ok(Ok(created)),
        Err(skjold_app::AppError::Invalid(e)) => {
            for fe in e.0 {
                let what = if fe.field.starts_with("scopes") {
                    "Scopes"
                } else if fe.field == "name" {
                    "Token name"
                } else {
                    "Valid for"
                };
                errs.add("token", format!("{what}: {}", fe.message));
            }
            Ok(Err(errs))
        }
        Err(e) => Err(e.into()),
    }
}
