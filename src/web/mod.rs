//! The browser edge: everything that touches `window`, `document`, storage or the network.

pub mod audit;
pub(crate) mod codes;
mod crosstab;
mod detach;
mod lifecycle;
pub mod lock;
pub mod net;
mod requests;
pub mod session;
mod signin;
pub mod storage;
pub mod util;
pub mod warning;
