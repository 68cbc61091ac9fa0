//! `include_dir!` does not tell cargo which files it read: rebuild when the
//! console's built pages change.
fn main() {
    println!("cargo:rerun-if-changed=../console/dist");
}
