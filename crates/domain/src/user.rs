//! Usernames and e-mail addresses, parsed once at the edge.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// Usernames are case-insensitive: stored and compared in lowercase.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim().to_lowercase();
        if s.is_empty() {
            return Err("a username must not be empty".into());
        }
        if s.chars().count() > 64 {
            return Err("a username has at most 64 characters".into());
        }
        if !s
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'))
        {
            return Err("a username uses letters, digits and . - _ @ only".into());
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Username {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Username::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Whether a user may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    Active,
    Disabled,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Disabled => "disabled",
        }
    }
}

/// Who a user is: a person, who signs in with a password (and second factors), or a
/// service user, an integration with no password that reaches the API only with tokens a
/// holder of `users.manage` makes for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UserKind {
    #[default]
    Person,
    Service,
}

impl UserKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UserKind::Person => "person",
            UserKind::Service => "service",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "person" => Ok(UserKind::Person),
            "service" => Ok(UserKind::Service),
            _ => Err("is 'person' or 'service'".into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// A pragmatic check: one `@`, a non-empty local part, a domain with a dot, no spaces.
    /// Deliverability is the mail server's business, not ours.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.len() > 254 {
            return Err("an e-mail address has at most 254 characters".into());
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err("an e-mail address needs an '@'".into());
        };
        let ok = !local.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !s.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(format!("'{s}' is not a valid e-mail address"));
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a phone number may be: up to 40 characters, at least one digit, and only digits,
/// spaces and `+ - ( ) .`. The error is the message shown with the field.
pub fn check_phone(phone: &str) -> Result<(), &'static str> {
    let ok = phone.len() <= 40
        && phone.chars().any(|c| c.is_ascii_digit())
        && phone
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if ok {
        Ok(())
    } else {
        Err("a phone number uses digits, spaces and + - ( ) . only")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_digits_and_a_few_signs() {
        assert!(check_phone("+47 22 00 00 00").is_ok());
        assert!(check_phone("(0) 22-00.00").is_ok());
        assert!(check_phone("no digits").is_err());
        assert!(check_phone("+ - ( )").is_err());
        assert!(check_phone("22 00 <script>").is_err());
        assert!(check_phone(&"1".repeat(41)).is_err());
    }

    #[test]
    fn usernames_are_lowercased_and_checked() {
        assert_eq!(Username::parse(" Ada.L ").unwrap().as_str(), "ada.l");
        assert!(Username::parse("").is_err());
        assert!(Username::parse("a b").is_err());
        assert!(Username::parse("x';--").is_err());
    }

    #[test]
    fn emails_are_checked() {
        assert!(Email::parse("ada@example.com").is_ok());
        assert!(Email::parse("ada@example").is_err());
        assert!(Email::parse("ada example.com").is_err());
        assert!(Email::parse("a@b@c.d").is_err());
    }
}
