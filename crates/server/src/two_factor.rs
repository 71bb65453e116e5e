//! The tenant's two-factor requirement lives in the application layer
//! ([`skjold_app::two_factor`]); the server's handlers and sign-in read it from there.

pub use skjold_app::two_factor::*;
