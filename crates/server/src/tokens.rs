//! API tokens are minted and revoked in the application layer ([`skjold_app::tokens`]);
//! the handlers use its request and answer types from here.

pub use skjold_app::tokens::*;
