//! The pure core: options validation and the session policy. No browser, no clock.

pub mod config;
pub mod outbox;
pub mod policy;
pub mod text;

#[cfg(test)]
mod tests;
