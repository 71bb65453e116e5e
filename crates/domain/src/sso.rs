//! Single sign-on's rules that need no network: the provider presets, what a provider's
//! settings must look like, and what in an ID token proves a second factor.

use crate::FieldErrors;

/// The kind of an identity provider: a preset for Microsoft Entra ID or Google Workspace,
/// or any OpenID Connect provider found by its issuer's discovery document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdpKind {
    Entra,
    Google,
    Oidc,
}

impl IdpKind {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "entra" => Ok(Self::Entra),
            "google" => Ok(Self::Google),
            "oidc" => Ok(Self::Oidc),
            other => Err(format!(
                "'{}' is not a kind of provider: use entra, google or oidc",
                other.chars().take(40).collect::<String>()
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Entra => "entra",
            Self::Google => "google",
            Self::Oidc => "oidc",
        }
    }

    /// The button on the sign-in screen: the vendor's name for the presets, the
    /// administrator's name for the provider otherwise.
    pub fn button_label(self, name: &str) -> String {
        match self {
            Self::Entra => "Sign in with Microsoft".into(),
            Self::Google => "Sign in with Google".into(),
            Self::Oidc => format!("Sign in with {name}"),
        }
    }
}

/// The `amr` values that prove a second factor unless the administrator names others
/// (RFC 8176: `mfa` multiple factors, `otp` one-time code, `hwk`/`swk` hardware or software
/// key, `fido` a FIDO authenticator).
pub const DEFAULT_MFA_AMR: &[&str] = &["mfa", "otp", "hwk", "swk", "fido"];

/// The scopes every provider is asked for: `openid` makes it OpenID Connect, `email` and
/// `profile` carry what links and names a user.
pub const BASE_SCOPES: &[&str] = &["openid", "email", "profile"];

/// Does a token with these `amr` and `acr` claims prove a second factor, for a provider
/// that accepts `accepted_amr` (any one of them) or the `acr` value `accepted_acr`?
pub fn proves_second_factor(
    amr: &[String],
    acr: Option<&str>,
    accepted_amr: &[String],
    accepted_acr: Option<&str>,
) -> bool {
    let by_amr = amr
        .iter()
        .any(|m| accepted_amr.iter().any(|a| a.eq_ignore_ascii_case(m)));
    let by_acr = matches!((acr, accepted_acr), (Some(have), Some(want)) if have == want);
    by_amr || by_acr
}

/// The issuer of an Entra ID directory's v2.0 tokens under `authority`
/// (`https://login.microsoftonline.com`, or a national cloud's).
pub fn entra_issuer(authority: &str, directory_id: &str) -> String {
    format!("{}/{directory_id}/v2.0", authority.trim_end_matches('/'))
}

/// An Entra ID directory id: a GUID, in lower case.
pub fn check_directory_id(raw: &str, errs: &mut FieldErrors) -> Option<String> {
    let id = raw.trim().to_ascii_lowercase();
    let groups: Vec<&str> = id.split('-').collect();
    let lengths_ok = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12]);
    if lengths_ok
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
    {
        Some(id)
    } else {
        errs.add(
            "directory_id",
            "must be the directory (tenant) id of the Entra ID tenant, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47",
        );
        None
    }
}

/// A Google Workspace domain: a lower-case DNS name with at least one dot.
pub fn check_hosted_domain(raw: &str, errs: &mut FieldErrors) -> Option<String> {
    let d = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if d.len() <= 253 && d.contains('.') && d.split('.').all(label_ok) {
        Some(d)
    } else {
        errs.add(
            "hosted_domains",
            format!(
                "'{}' is not a domain name such as example.com",
                raw.chars().take(60).collect::<String>()
            ),
        );
        None
    }
}

/// A provider's name: 1–64 characters without control characters.
pub fn check_name(raw: &str, errs: &mut FieldErrors) -> Option<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        errs.add(
            "name",
            "must be 1 to 64 characters without control characters",
        );
        return None;
    }
    Some(name.to_string())
}

/// A client id or secret: 1–`max` printable characters.
pub fn check_client_value(field: &str, raw: &str, max: usize, errs: &mut FieldErrors) -> bool {
    let ok = !raw.is_empty()
        && raw.len() <= max
        && raw.chars().all(|c| !c.is_control() && !c.is_whitespace());
    if !ok {
        errs.add(
            field,
            format!("must be 1 to {max} characters without spaces or control characters"),
        );
    }
    ok
}

/// An OAuth scope or `amr` value: 1–64 visible ASCII characters without quotes or
/// backslashes (RFC 6749 §3.3).
pub fn check_token(field: &str, raw: &str, errs: &mut FieldErrors) -> Option<String> {
    let t = raw.trim();
    if !t.is_empty()
        && t.len() <= 64
        && t.chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
    {
        Some(t.to_string())
    } else {
        errs.add(
            field,
            format!(
                "'{}' must be 1 to 64 visible characters without quotes",
                raw.chars().take(40).collect::<String>()
            ),
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn a_second_factor_is_proven_by_an_accepted_amr_or_the_acr() {
        let accepted = s(DEFAULT_MFA_AMR);
        assert!(proves_second_factor(
            &s(&["pwd", "mfa"]),
            None,
            &accepted,
            None
        ));
        assert!(proves_second_factor(&s(&["OTP"]), None, &accepted, None));
        assert!(!proves_second_factor(&s(&["pwd"]), None, &accepted, None));
        assert!(!proves_second_factor(&[], None, &accepted, None));
        let acr = Some("urn:example:mfa");
        assert!(proves_second_factor(&s(&["pwd"]), acr, &accepted, acr));
        assert!(!proves_second_factor(
            &s(&["pwd"]),
            Some("urn:example:pwd"),
            &accepted,
            acr
        ));
        assert!(!proves_second_factor(&s(&["pwd"]), acr, &accepted, None));
    }

    #[test]
    fn directory_ids_are_guids() {
        let mut errs = FieldErrors::new();
        assert_eq!(
            check_directory_id(" 72F988BF-86f1-41af-91ab-2d7cd011db47 ", &mut errs).as_deref(),
            Some("72f988bf-86f1-41af-91ab-2d7cd011db47")
        );
        assert!(errs.is_empty());
        for bad in [
            "",
            "common",
            "72f988bf86f141af91ab2d7cd011db47",
            "../../x",
            "72f988bf-86f1-41af-91ab-2d7cd011db4g",
        ] {
            let mut errs = FieldErrors::new();
            assert!(check_directory_id(bad, &mut errs).is_none(), "{bad}");
            assert!(!errs.is_empty());
        }
    }

    #[test]
    fn hosted_domains_are_domain_names() {
        let mut errs = FieldErrors::new();
        assert_eq!(
            check_hosted_domain("Example.COM.", &mut errs).as_deref(),
            Some("example.com")
        );
        for bad in [
            "localhost",
            "-a.com",
            "a..com",
            "a b.com",
            "exa_mple.com",
            "",
        ] {
            let mut errs = FieldErrors::new();
            assert!(check_hosted_domain(bad, &mut errs).is_none(), "{bad}");
        }
    }

    #[test]
    fn entra_issuer_is_the_directorys_v2_issuer() {
        assert_eq!(
            entra_issuer("https://login.microsoftonline.com/", "abc"),
            "https://login.microsoftonline.com/abc/v2.0"
        );
    }
}
