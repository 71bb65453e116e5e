//! Skjold's application layer: each user action once.
//!
//! An action is one function here. It takes the [`Ctx`] it acts in (the tenant, the audit
//! trail, the clock, where the request came from) and the [`Actor`] doing it, checks every
//! right — including that nobody acts on a user whose role they do not hold — makes the
//! change through the journaling store, and records its audit event before the change
//! commits ([`audited`]): a change that cannot be audited is not made. It answers a typed
//! outcome or an [`AppError`], never an HTTP type.
//!
//! The JSON API, the web UI and the CLI are adapters over these functions; none of them
//! holds a rule of its own.
//!
//! | module | owns |
//! |---|---|
//! | [`access`] | who may grant which role, and act on which user |
//! | [`account`] | one's own account: personal details, password, sessions |
//! | [`credentials`] | password hashing behind its queue, bearer tokens, the common-password list |
//! | [`password`] | the tenant's password policy and the one password-reset path |
//! | [`audited`] | the audit event recorded inside the action's transaction |
//! | [`users`] | the actions on another user: creating them, details, role, status, password, access, two-factor requirement, sign-in locks |
//! | [`roles`] | making, changing and deleting roles |
//! | [`settings`] | the password policy, session timeouts and token lifetime |
//! | [`invites`] | issuing and withdrawing invitation links |
//! | [`records`] | reading, writing, deleting and exporting CRM records within the actor's sight |
//! | [`search`] | one search over every record type the actor may read |
//! | [`teams`] | teams and their membership |
//! | [`tokens`] | minting and revoking API tokens, one's own or a service user's |
//! | [`two_factor`] | the tenant's two-factor requirement: whom it covers, setting it |
//! | [`step_up`] | the recent password or second-factor check that sensitive actions need |
//! | [`operator`] | who acts for the installation, and an operator's event inside the change's transaction |
//! | [`operations`] | the operators' actions: maintenance, incidents, status overrides, operator API tokens |
//! | [`subscriptions`] | e-mail and webhook subscriptions to the status page's announcements |
//! | [`identity_providers`] | single sign-on: registering providers, and which user a checked sign-in is |
//! | [`sealed`] | secrets the installation keeps for tenants, sealed with its key |
//! | [`status_view`] | what the status page, the sign-in screen and the in-app banner show |

pub mod access;
pub mod account;
mod actor;
pub mod audited;
pub mod credentials;
mod ctx;
mod error;
pub mod identity_providers;
pub mod invites;
pub mod operations;
pub mod operator;
pub mod password;
pub mod records;
pub mod roles;
pub mod sealed;
pub mod search;
pub mod settings;
pub mod status_view;
pub mod step_up;
pub mod subscriptions;
pub mod teams;
pub mod tokens;
pub mod two_factor;
pub mod users;

pub use actor::{Actor, Via};
pub use ctx::Ctx;
pub use error::AppError;
