//! Credentials: password hashing with argon2id and bearer tokens.
//!
//! Hashing is deliberately slow, so it runs on the blocking pool, never on the async
//! runtime's workers. Bearer tokens are random and only their SHA-256 is stored.

mod password;
mod token;

pub use password::{generate_password, hash_password, verify_password, PasswordError};
pub use token::{hash_token, new_token, tokens_equal};
