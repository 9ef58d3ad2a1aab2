//! The browser edge: everything that touches `window`, `document`, storage or the network.

pub mod audit;
pub mod lock;
pub mod net;
pub mod session;
pub mod storage;
pub mod util;
pub mod warning;
