//! The sessions of the reference deployment: the crate's, on the store `--store` named.

use autologoff_server::store::AnyStore;
use autologoff_server::Sessions;

pub type Deployment = Sessions<AnyStore>;
