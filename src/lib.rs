//! autologoff: HIPAA automatic logoff for clinical single-page apps.
//!
//! `core` is the pure, host-testable policy; `web` is the browser edge; `api` is the thin
//! wasm-bindgen surface.
//!
//! Without the `std` feature (the shipped build) the crate is `no_std` + `alloc`.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

mod prelude;

pub mod core;

/// The size-class allocator (installed as the global allocator on wasm32 only).
pub mod heap;

#[cfg(target_arch = "wasm32")]
mod web;

#[cfg(target_arch = "wasm32")]
pub mod api;
