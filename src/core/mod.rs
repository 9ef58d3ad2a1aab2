//! The pure core: options validation and the session policy. No browser, no clock.

pub mod config;
pub mod policy;

#[cfg(test)]
mod tests;
