//! Credentials: password hashing with argon2id (behind a bounded queue), bearer tokens and
//! their hashes, and the common-password list — the primitives the actions check and make
//! credentials with. (Formerly the `skjold-auth` crate, folded into the application layer:
//! the rules that use them — sign-in, sessions, factors — are actions, and belong here.)
//!
//! Hashing is deliberately slow, so it runs on the blocking pool, never on the async
//! runtime's workers. Bearer tokens are random and only their SHA-256 is stored.

mod common;
mod password;
mod token;

pub use common::{common_password_count, is_common_password, preload_common_passwords};
pub use password::{
    configure_hashing, generate_password, generate_password_of, hash_password, hashing_limits,
    hashing_load, verify_password, verify_password_patiently, HashingLimits, PasswordError,
};
pub use token::{hash_token, new_api_token, new_token, session_id, tokens_equal, API_TOKEN_PREFIX};
