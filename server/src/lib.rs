//! The fieldsync server: HTTP API, sync domain, storage on SQLite or PostgreSQL, and the
//! `fieldsync` command line. See `ARCHITECTURE.md` for the map.

pub mod access;
pub mod app;
pub mod attendance;
pub mod auth;
pub mod blobs;
pub mod cases;
pub mod cli;
pub mod clock;
pub mod collect;
pub mod config;
pub mod console;
pub mod divisions;
pub mod export;
pub mod geo;
pub mod hex;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod openrosa;
pub mod privacy;
pub mod ratelimit;
pub mod receipts;
pub mod roster;
pub mod service;
pub mod sheets;
pub mod staffing;
pub mod state;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod testing;
pub mod web;
