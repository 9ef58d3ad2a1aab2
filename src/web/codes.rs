//! The numbers the wasm and its JS glue exchange, named once in the JS module that produces
//! them (`const NAME = <integer>;` in a `// codes {` … `// }` block of `src/web/glue/*.js`)
//! and given the same names here by `build.rs`.
#![allow(dead_code)] // every code is generated; some are only ever produced by JS.

include!(concat!(env!("OUT_DIR"), "/codes.rs"));
