//! A tenant's password policy and the rules a new password must pass.
//!
//! The defaults follow NIST SP 800-63B §3.1.1.2: at least 12 characters (NIST's floor is 8,
//! which is also ours), long passwords accepted, no composition rules, a blocklist of
//! common passwords, no forced rotation. Each refusal names its rule by a stable id, so a
//! client can explain it and a test can assert it.

use crate::field::FieldErrors;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The floor under every tenant's minimum length.
pub const MIN_LENGTH_FLOOR: u32 = 8;
/// A tenant's maximum may not be set below this (NIST: accept at least 64; we accept 128).
pub const MAX_LENGTH_FLOOR: u32 = 128;
/// The hard ceiling: beyond this a password is a denial-of-service on the hasher.
pub const MAX_LENGTH_CEILING: u32 = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordPolicy {
    /// Fewest characters (Unicode code points), 8–128. Default 12.
    pub min_length: u32,
    /// Most characters, 128–1024. Default 256.
    pub max_length: u32,
    /// Require a lowercase letter. Default off (NIST advises against composition rules).
    pub require_lowercase: bool,
    /// Require an uppercase letter. Default off.
    pub require_uppercase: bool,
    /// Require a digit. Default off.
    pub require_digit: bool,
    /// Require a character that is neither letter nor digit. Default off.
    pub require_symbol: bool,
    /// A new password may not be any of the user's last this many, 0–24. Default 0.
    pub history: u32,
    /// Days after which a password must be changed at next sign-in; `null` (the default,
    /// as NIST advises) for never. 1–3650.
    pub max_age_days: Option<u32>,
    /// What repeated failed sign-ins do.
    pub lockout: LockoutPolicy,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 12,
            max_length: 256,
            require_lowercase: false,
            require_uppercase: false,
            require_digit: false,
            require_symbol: false,
            history: 0,
            max_age_days: None,
            lockout: LockoutPolicy::default(),
        }
    }
}

/// Account lockout: after `max_failures` consecutive failed sign-ins an account (or a
/// username that does not exist — the answer must not tell them apart) is locked for
/// `lock_minutes`, doubling with each further lock up to `max_lock_minutes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LockoutPolicy {
    /// 3–100. Default 5.
    pub max_failures: u32,
    /// 1–1440. Default 15.
    pub lock_minutes: u32,
    /// lock_minutes–10080 (a week). Default 1440.
    pub max_lock_minutes: u32,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            lock_minutes: 15,
            max_lock_minutes: 1440,
        }
    }
}

impl LockoutPolicy {
    /// How long the `nth` lock in a row lasts (the first is `n = 1`).
    pub fn lock_duration_minutes(&self, nth: u32) -> u32 {
        let factor = 1u64 << nth.saturating_sub(1).min(20);
        (u64::from(self.lock_minutes) * factor).min(u64::from(self.max_lock_minutes)) as u32
    }
}

impl PasswordPolicy {
    /// Checks the policy itself; every problem names its field.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errs = FieldErrors::new();
        if !(MIN_LENGTH_FLOOR..=128).contains(&self.min_length) {
            errs.add(
                "min_length",
                format!("must be between {MIN_LENGTH_FLOOR} and 128"),
            );
        }
        if !(MAX_LENGTH_FLOOR..=MAX_LENGTH_CEILING).contains(&self.max_length) {
            errs.add(
                "max_length",
                format!("must be between {MAX_LENGTH_FLOOR} and {MAX_LENGTH_CEILING}"),
            );
        }
        if self.history > 24 {
            errs.add("history", "must be between 0 and 24");
        }
        if let Some(d) = self.max_age_days {
            if !(1..=3650).contains(&d) {
                errs.add("max_age_days", "must be between 1 and 3650, or null");
            }
        }
        let l = &self.lockout;
        if !(3..=100).contains(&l.max_failures) {
            errs.add("lockout.max_failures", "must be between 3 and 100");
        }
        if !(1..=1440).contains(&l.lock_minutes) {
            errs.add("lockout.lock_minutes", "must be between 1 and 1440");
        }
        if l.max_lock_minutes < l.lock_minutes || l.max_lock_minutes > 10080 {
            errs.add(
                "lockout.max_lock_minutes",
                "must be between lock_minutes and 10080",
            );
        }
        errs.into_result()
    }

    /// Checks a new password against every rule that needs no history: length, character
    /// classes, the common-password list (`is_common`), the username and the tenant's names.
    pub fn check(
        &self,
        password: &str,
        username: &str,
        tenant_names: &[&str],
        is_common: impl Fn(&str) -> bool,
    ) -> Result<(), PolicyViolation> {
        let n = password.chars().count() as u32;
        if n < self.min_length {
            return Err(PolicyViolation::new(
                PasswordRule::MinLength,
                format!("must have at least {} characters", self.min_length),
            ));
        }
        if n > self.max_length || password.len() > MAX_LENGTH_CEILING as usize * 4 {
            return Err(PolicyViolation::new(
                PasswordRule::MaxLength,
                format!("must have at most {} characters", self.max_length),
            ));
        }
        let classes = [
            (
                self.require_lowercase,
                PasswordRule::Lowercase,
                "a lowercase letter",
                char::is_lowercase as fn(char) -> bool,
            ),
            (
                self.require_uppercase,
                PasswordRule::Uppercase,
                "an uppercase letter",
                char::is_uppercase,
            ),
            (
                self.require_digit,
                PasswordRule::Digit,
                "a digit",
                |c: char| c.is_numeric(),
            ),
            (
                self.require_symbol,
                PasswordRule::Symbol,
                "a character that is neither a letter nor a digit",
                |c: char| !c.is_alphanumeric(),
            ),
        ];
        for (required, rule, what, test) in classes {
            if required && !password.chars().any(test) {
                return Err(PolicyViolation::new(rule, format!("must contain {what}")));
            }
        }
        if is_common(password) {
            return Err(PolicyViolation::new(
                PasswordRule::Common,
                "is one of the most common passwords; choose a less predictable one",
            ));
        }
        let lower = password.to_lowercase();
        let username = username.to_lowercase();
        let mut names = vec![username.as_str()];
        if let Some((local, _)) = username.split_once('@') {
            names.push(local);
        }
        if names
            .iter()
            .any(|n| n.chars().count() >= 3 && lower.contains(n))
        {
            return Err(PolicyViolation::new(
                PasswordRule::ContainsUsername,
                "must not contain the username",
            ));
        }
        for name in tenant_names {
            let name = name.trim().to_lowercase();
            if name.chars().count() >= 3 && lower.contains(&name) {
                return Err(PolicyViolation::new(
                    PasswordRule::ContainsTenant,
                    "must not contain the organisation's name",
                ));
            }
        }
        Ok(())
    }
}

/// A rule of the policy, with the id that refusals carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PasswordRule {
    MinLength,
    MaxLength,
    Lowercase,
    Uppercase,
    Digit,
    Symbol,
    Common,
    ContainsUsername,
    ContainsTenant,
    History,
}

impl PasswordRule {
    pub fn id(self) -> &'static str {
        match self {
            PasswordRule::MinLength => "min_length",
            PasswordRule::MaxLength => "max_length",
            PasswordRule::Lowercase => "lowercase",
            PasswordRule::Uppercase => "uppercase",
            PasswordRule::Digit => "digit",
            PasswordRule::Symbol => "symbol",
            PasswordRule::Common => "common",
            PasswordRule::ContainsUsername => "contains_username",
            PasswordRule::ContainsTenant => "contains_tenant",
            PasswordRule::History => "history",
        }
    }
}

/// Why a password was refused: the rule and a sentence about the password ("must …").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the password {message} (rule '{}')", rule.id())]
pub struct PolicyViolation {
    pub rule: PasswordRule,
    pub message: String,
}

impl PolicyViolation {
    pub fn new(rule: PasswordRule, message: impl Into<String>) -> Self {
        Self {
            rule,
            message: message.into(),
        }
    }

    pub fn history(n: u32) -> Self {
        Self::new(
            PasswordRule::History,
            format!("must differ from your last {n} passwords"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never(_: &str) -> bool {
        false
    }

    fn rule(p: &PasswordPolicy, pw: &str) -> Option<&'static str> {
        p.check(pw, "ada.l@example.com", &["acme", "Acme Shipping"], |s| {
            s.eq_ignore_ascii_case("password1234")
        })
        .err()
        .map(|v| v.rule.id())
    }

    #[test]
    fn defaults_follow_nist() {
        let p = PasswordPolicy::default();
        assert!(p.validate().is_ok());
        assert_eq!(p.min_length, 12);
        assert_eq!(p.max_age_days, None);
        assert_eq!(rule(&p, "eleven-char"), Some("min_length"));
        assert_eq!(rule(&p, "twelve-chars"), None);
        assert_eq!(rule(&p, &"x".repeat(256)), None);
        assert_eq!(rule(&p, &"x".repeat(257)), Some("max_length"));
        // Twelve code points, more bytes: counted as characters.
        assert_eq!(rule(&p, "ææææææææææææ"), None);
        assert_eq!(rule(&p, "PASSWORD1234"), Some("common"));
        assert_eq!(
            rule(&p, "my-ada.l@example.com-pw"),
            Some("contains_username")
        );
        assert_eq!(rule(&p, "xx-ADA.L-xxxxxx"), Some("contains_username"));
        assert_eq!(rule(&p, "zz-acme-zzzzzz"), Some("contains_tenant"));
        assert_eq!(rule(&p, "acme shipping rocks"), Some("contains_tenant"));
    }

    #[test]
    fn character_classes_when_asked() {
        let p = PasswordPolicy {
            require_lowercase: true,
            require_uppercase: true,
            require_digit: true,
            require_symbol: true,
            ..PasswordPolicy::default()
        };
        assert_eq!(rule(&p, "NOLOWERCASE1!"), Some("lowercase"));
        assert_eq!(rule(&p, "nouppercase1!"), Some("uppercase"));
        assert_eq!(rule(&p, "NoDigitsHere!"), Some("digit"));
        assert_eq!(rule(&p, "NoSymbolsHere1"), Some("symbol"));
        assert_eq!(rule(&p, "Has all 4 classes"), None);
    }

    #[test]
    fn the_policy_itself_is_checked() {
        let mut p = PasswordPolicy {
            min_length: 7,
            max_length: 127,
            history: 25,
            max_age_days: Some(0),
            ..PasswordPolicy::default()
        };
        p.lockout.max_failures = 2;
        let errs = p.validate().unwrap_err();
        let fields: Vec<_> = errs.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "min_length",
                "max_length",
                "history",
                "max_age_days",
                "lockout.max_failures"
            ]
        );
        assert!(PasswordPolicy::default()
            .check("short", "u", &[], never)
            .is_err());
    }

    #[test]
    fn locks_grow_and_are_capped() {
        let l = LockoutPolicy::default();
        assert_eq!(l.lock_duration_minutes(1), 15);
        assert_eq!(l.lock_duration_minutes(2), 30);
        assert_eq!(l.lock_duration_minutes(3), 60);
        assert_eq!(l.lock_duration_minutes(10), 1440);
        assert_eq!(l.lock_duration_minutes(1000), 1440);
    }
}
