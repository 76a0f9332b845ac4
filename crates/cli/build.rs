//! Links the `outpost` binary as a position-dependent executable: a PIE of
//! this size carries ~38,000 relative relocations, which the loader applies
//! at every start by writing (so copying) hundreds of pages, a millisecond
//! or more of a start budget of ten.
fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
    println!("cargo:rerun-if-changed=build.rs");
}
