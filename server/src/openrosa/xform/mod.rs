//! XForms: reading any form's binds ([`schema`]).

pub mod schema;
