//! The identifier parsers: tenant slugs, usernames, e-mail addresses, roles. Properties:
//! nothing panics; whatever a parser accepts it accepts again in its stored form, unchanged
//! (parsing is idempotent), so a stored value always reads back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skjold_domain::{Email, Role, TenantSlug, Username};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(slug) = TenantSlug::parse(s) {
        let again = TenantSlug::parse(slug.as_str()).expect("a parsed slug parses again");
        assert_eq!(again.as_str(), slug.as_str());
        // The database identifier is made of the slug: only [a-z0-9_].
        assert!(slug
            .db_ident()
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
    }
    if let Ok(user) = Username::parse(s) {
        let again = Username::parse(user.as_str()).expect("a parsed username parses again");
        assert_eq!(again.as_str(), user.as_str());
    }
    if let Ok(email) = Email::parse(s) {
        let again = Email::parse(email.as_str()).expect("a parsed e-mail parses again");
        assert_eq!(again.as_str(), email.as_str());
    }
    if let Ok(role) = Role::parse(s) {
        assert_eq!(Role::parse(role.as_str()).ok(), Some(role));
    }
});
