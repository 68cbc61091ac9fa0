//! Generates the contract's Rust code from the `.proto` files at build time.
//!
//! `protoc` comes from `protoc-bin-vendored`, so a fresh machine needs no
//! system package; `PROTOC` in the environment still wins when set.
use std::path::{Path, PathBuf};

fn proto_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
}

fn main() {
    if std::env::var_os("PROTOC").is_none() {
        let protoc = protoc_bin_vendored::protoc_bin_path().expect("vendored protoc");
        // SAFETY: build scripts are single-threaded.
        unsafe { std::env::set_var("PROTOC", protoc) };
    }
    // Read at run time, not baked in with `env!`: cargo may reuse this
    // compiled script for another checkout of the same sources (a worktree,
    // a CI clone sharing the target dir), which must read its own protos.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest_dir);
    let mut files = Vec::new();
    proto_files(&root.join("angzarr"), &mut files);
    proto_files(&root.join("examples"), &mut files);
    proto_files(&root.join("angzarr_kafka"), &mut files);
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    println!("cargo:rerun-if-changed={}", root.join("google").display());

    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    config.type_name_domain(["."], "type.googleapis.com");
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("descriptor.bin"))
        .compile_with_config(config, &files, &[root.to_path_buf()])
        .expect("compiling the .proto contract");
}
