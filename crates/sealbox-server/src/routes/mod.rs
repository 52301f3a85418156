//! One module per resource; each exports its own `Router`, merged in [`crate::router`].

pub mod actions;
pub mod audit;
pub mod auth;
pub mod identities;
pub mod members;
pub mod secrets;
pub mod sys;
pub mod tokens;
