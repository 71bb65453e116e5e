//! What an API token may reach. A token carries scopes such as `companies:read`,
//! `persons:write` or `all:read`; every API route belongs to one resource, and a request
//! with a token passes only if a scope covers that resource for reading (GET, HEAD) or
//! writing (anything else; `write` includes `read`). On top, the route's right is checked
//! against the token's user as for a session: a token never exceeds its scopes nor its
//! user's rights. A token cannot manage tokens, sessions or the password (`/me/…` other
//! than `GET /me`), nor sign out.

pub use skjold_app::tokens::{check_scope, RESOURCES};

/// What a route needs of a token: `Ok(Some((resource, write)))`, `Ok(None)` for a route
/// any token may use (`GET /me`), `Err(message)` for one no token may use.
fn needs(
    path: &str,
    method: &axum::http::Method,
) -> Result<Option<(&'static str, bool)>, &'static str> {
    let rest = path
        .trim_start_matches('/')
        .split_once("/api/v1/")
        .map(|(_, r)| r)
        .unwrap_or("");
    let first = rest.split('/').next().unwrap_or("");
    let write = !(method == axum::http::Method::GET || method == axum::http::Method::HEAD);
    let resource = match first {
        "me" if rest == "me" && !write => return Ok(None),
        "me" | "session" => {
            return Err(
                "an API token cannot manage tokens, sessions or passwords; sign in for that",
            )
        }
        "sign-in-locks" => "users",
        other => match RESOURCES.iter().find(|r| **r == other) {
            Some(r) => r,
            None => return Err("API tokens cannot use this route"),
        },
    };
    Ok(Some((resource, write)))
}

/// Whether the scopes let a token make this request; the refusal says why.
pub fn permits(scopes: &[String], path: &str, method: &axum::http::Method) -> Result<(), String> {
    let Some((resource, write)) = needs(path, method).map_err(str::to_string)? else {
        return Ok(());
    };
    let covers = |s: &String| {
        let Some((r, a)) = s.split_once(':') else {
            return false;
        };
        (r == "all" || r == resource) && (a == "write" || !write)
    };
    if scopes.iter().any(covers) {
        Ok(())
    } else {
        Err(format!(
            "this API token's scopes do not include '{resource}:{}'",
            if write { "write" } else { "read" }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn scopes_cover_resources_and_write_includes_read() {
        let p = "/acme/api/v1/companies/123";
        assert!(permits(&s(&["companies:read"]), p, &Method::GET).is_ok());
        assert!(permits(&s(&["companies:read"]), p, &Method::PATCH).is_err());
        assert!(permits(&s(&["companies:write"]), p, &Method::GET).is_ok());
        assert!(permits(&s(&["persons:write"]), p, &Method::GET).is_err());
        assert!(permits(&s(&["all:read"]), p, &Method::GET).is_ok());
        assert!(permits(&s(&["all:read"]), p, &Method::DELETE).is_err());
        assert!(permits(
            &s(&["all:write"]),
            "/acme/api/v1/sign-in-locks",
            &Method::GET
        )
        .is_ok());
        assert!(permits(&s(&["companies:read"]), "/acme/api/v1/me", &Method::GET).is_ok());
        for (path, m) in [
            ("/acme/api/v1/me", Method::PATCH),
            ("/acme/api/v1/me/tokens", Method::GET),
            ("/acme/api/v1/me/tokens", Method::POST),
            ("/acme/api/v1/me/password", Method::PUT),
            ("/acme/api/v1/session", Method::DELETE),
        ] {
            assert!(permits(&s(&["all:write"]), path, &m).is_err(), "{m} {path}");
        }
        assert!(check_scope("companies:read").is_ok());
        assert!(check_scope("all:write").is_ok());
        assert!(check_scope("companies").is_err());
        assert!(check_scope("companies:delete").is_err());
        assert!(check_scope("tokens:write").is_err());
    }
}
