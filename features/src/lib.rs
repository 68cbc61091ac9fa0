//! The Gherkin features of `features/`, run by the `cucumber` crate.
//!
//! `cargo test -p angzarr-features` runs `player.feature` twice: against the
//! Rust player handler in-process (`tests/direct.rs`), and through a running
//! coordinator on the embedded log (`tests/coordinator.rs`). The coordinator
//! run takes its handler from `ANGZARR_PLAYER_HANDLER` when set — that is how
//! `scripts/conformance` plugs in every language's player service.
