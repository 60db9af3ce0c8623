//! Passwords, access tokens and refresh tokens.

pub mod password;
pub mod token;

pub use token::{Claims, TokenError, TokenKeys};
