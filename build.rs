//! The shipped wasm's stack: 128 KB instead of the toolchain's 1 MB. The SDK's deepest call
//! (option validation inside `start`) uses a few KB; the rest of a 1 MB stack was linear
//! memory every tab kept and never touched. The stack is placed first (below the data), so
//! an overflow traps (and the page fails closed) instead of overwriting anything.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-cdylib-link-arg=-zstack-size=131072");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
