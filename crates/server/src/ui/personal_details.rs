//! A user's name, e-mail and phone from a form, as they may set them (the profile page and
//! user administration).

use super::auth::FormData;
use skjold_domain::{Email, FieldErrors};

/// Name, e-mail and phone as a user may set them: the API's rules
/// (`api::me::PersonalDetails`), for form fields. Empty clears a field.
pub fn personal_details(
    form: &FormData,
    errs: &mut FieldErrors,
) -> (Option<String>, Option<String>, Option<String>) {
    let get = |name: &str| Some(form.text(name)).filter(|s| !s.is_empty());
    let display_name = get("display_name");
    if let Some(n) = &display_name {
        if n.chars().count() > 100 || n.chars().any(char::is_control) {
            errs.add(
                "display_name",
                "has at most 100 characters and no control characters",
            );
        }
    }
    let email = get("email");
    if let Some(e) = &email {
        if let Err(m) = Email::parse(e) {
            errs.add("email", m);
        }
    }
    let phone = get("phone");
    if let Some(p) = &phone {
        if let Err(m) = skjold_domain::user::check_phone(p) {
            errs.add("phone", m);
        }
    }
    (display_name, email, phone)
}
