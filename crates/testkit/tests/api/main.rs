//! The API test suite: one binary, each test against its own real server.
//! Runs on SQLite, or on PostgreSQL when SKJOLD_TEST_DATABASE_URL is set.

mod health;
