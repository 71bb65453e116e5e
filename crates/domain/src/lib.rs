//! Skjold's domain: the types every other crate agrees on.
//!
//! Values that arrive from outside (slugs, usernames, e-mail addresses, record ids) are
//! parsed into newtypes at the edge, so code past the edge never sees an unchecked string.
//! This crate does no I/O.

pub mod audit;
mod audit_kind;
pub mod capacity;
pub mod clock;
pub mod crm;
pub mod field;
pub mod password_policy;
pub mod rights;
pub mod session_settings;
pub mod slug;
pub mod sso;
pub mod status;
pub mod user;

pub use audit::{AuditKind, Severity};
pub use clock::{Clock, SharedClock, SystemClock, TestClock};
pub use field::{double_option, parse_json, parse_json_bytes, FieldError, FieldErrors};
pub use password_policy::{LockoutPolicy, PasswordPolicy, PasswordRule, PolicyViolation};
pub use rights::{Access, Grant, Right, Role, RoleId, Visibility};
pub use session_settings::SessionSettings;
pub use slug::TenantSlug;
pub use user::{Email, UserKind, UserStatus, Username};
