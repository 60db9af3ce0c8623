//! The server's test suite, compiled as one binary. Every test runs against a real database:
//! SQLite by default, PostgreSQL when `FIELDSYNC_TEST_DATABASE_URL=postgres://…` names a server
//! on which the tests may create (and drop) one database each.

// Test code may panic on anything unexpected; that is how a test fails.
#![allow(clippy::unwrap_used)]

mod attendance;
mod auth;
mod authz;
mod blob_access;
mod blob_recovery;
mod blobs;
mod cases;
mod checks;
mod concurrency;
mod conflicts;
mod console;
mod devices;
mod export;
mod faults;
mod group_commit;
mod helpers;
mod input;
mod jobs;
mod metrics;
mod openapi;
mod openrosa;
mod pull;
mod push;
mod push_sessions;
mod readme;
mod replica;
mod reports;
mod roster;
mod scenarios;
mod scope;
mod security;
mod tokens;
mod travel;
mod weak_link;
