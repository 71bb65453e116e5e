//! End-to-end tests of the `skjold` binary: help texts, the operator commands (`tenant`,
//! `user`), configuration layering and `serve` (demo credentials, HTTPS sign-in, graceful
//! shutdown, the CLI working beside a running server).
//!
//! Every test has its own temporary directory: the data dir is `<tmp>/data` (not created
//! beforehand, so the binary must create it) and the working directory is `<tmp>`, so no
//! stray `./skjold.toml` is picked up. `SKJOLD_*` variables of the caller's environment are
//! removed. HTTPS requests go through `curl --cacert <data>/tls/cert.pem`, so the server's
//! own generated certificate is verified (no `-k`).

mod audit;
mod backups_default;
mod beside_server;
mod capacity;
mod common;
mod config;
mod doctor;
mod help;
mod idp;
mod operations;
mod robustness;
mod roles_and_teams;
mod serve;
mod tenant;
mod two_factor;
mod user;
