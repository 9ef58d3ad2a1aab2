//! What the std prelude gives, taken from `alloc` so the crate also builds as `no_std`.

pub use alloc::borrow::ToOwned;
#[allow(unused_imports)] // used by the wasm-only modules
pub use alloc::boxed::Box;
#[allow(unused_imports)]
pub use alloc::string::{String, ToString};
#[allow(unused_imports)]
pub use alloc::vec;
pub use alloc::vec::Vec;
