//! End-to-end tests: the real `fieldsync` binary, started as a child process and driven over
//! HTTP with the reference client and through `fieldsync admin`, as a new user following the
//! README would. Each test gets its own data directory and port; with
//! `FIELDSYNC_TEST_DATABASE_URL=postgres://…` each also gets its own PostgreSQL database.
//!
//! Compiled as one binary (with modules) to keep link time down.

mod admin;
mod audit;
mod backup;
mod cases;
mod console;
mod devices;
mod group_commit;
mod harness;
mod keys;
mod photos;
mod privacy;
mod quickstart;
mod receipts;
mod roster;
mod scaleout;
mod seed;
mod settings;
mod shutdown;
mod simulator;
mod staffing;
