//! Tenant slugs: the first path segment of every tenant URL and part of database names.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Top-level paths that belong to the installation, never to a tenant (`PRODUCT.md` §3).
pub const RESERVED: &[&str] = &[
    "api",
    "ops",
    "status",
    "static",
    "metrics",
    "healthz",
    "readyz",
    ".well-known",
    "admin",
    "login",
    "system",
];

pub const MAX_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TenantSlug(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    #[error("a tenant slug must not be empty")]
    Empty,
    #[error("a tenant slug has at most {MAX_LEN} characters")]
    TooLong,
    #[error(
        "a tenant slug uses only lowercase letters a-z, digits and '-', and starts with a letter"
    )]
    BadCharacters,
    #[error("a tenant slug must not start or end with '-' or contain '--'")]
    BadHyphens,
    #[error("'{0}' is reserved and cannot name a tenant")]
    Reserved(String),
}

impl TenantSlug {
    pub fn parse(s: &str) -> Result<Self, SlugError> {
        if s.is_empty() {
            return Err(SlugError::Empty);
        }
        if s.len() > MAX_LEN {
            return Err(SlugError::TooLong);
        }
        let mut chars = s.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        if !first_ok
            || !s
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(SlugError::BadCharacters);
        }
        if s.ends_with('-') || s.contains("--") {
            return Err(SlugError::BadHyphens);
        }
        if RESERVED.contains(&s) {
            return Err(SlugError::Reserved(s.to_string()));
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The slug as it appears inside a database name (`-` is not valid unquoted there).
    pub fn db_ident(&self) -> String {
        self.0.replace('-', "_")
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl<'de> Deserialize<'de> for TenantSlug {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TenantSlug::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_slugs() {
        for s in ["demo", "acme", "acme-2", "a1"] {
            assert_eq!(TenantSlug::parse(s).unwrap().as_str(), s);
        }
    }

    #[test]
    fn refuses_bad_slugs_with_a_reason() {
        assert_eq!(TenantSlug::parse(""), Err(SlugError::Empty));
        assert_eq!(TenantSlug::parse("Acme"), Err(SlugError::BadCharacters));
        assert_eq!(TenantSlug::parse("1acme"), Err(SlugError::BadCharacters));
        assert_eq!(TenantSlug::parse("ac me"), Err(SlugError::BadCharacters));
        assert_eq!(TenantSlug::parse("acme_x"), Err(SlugError::BadCharacters));
        assert_eq!(TenantSlug::parse("acme-"), Err(SlugError::BadHyphens));
        assert_eq!(TenantSlug::parse("a--b"), Err(SlugError::BadHyphens));
        assert_eq!(TenantSlug::parse(&"a".repeat(33)), Err(SlugError::TooLong));
        assert!(matches!(
            TenantSlug::parse("api"),
            Err(SlugError::Reserved(_))
        ));
        assert!(matches!(
            TenantSlug::parse("healthz"),
            Err(SlugError::Reserved(_))
        ));
        assert!(TenantSlug::parse("../etc").is_err());
    }

    #[test]
    fn db_ident_has_no_hyphen() {
        assert_eq!(TenantSlug::parse("acme-2").unwrap().db_ident(), "acme_2");
    }
}
