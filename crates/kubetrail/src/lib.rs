//! The configuration of the `kubetrail` binary, as a library: the binary reads its config file
//! through these modules, and the fuzz targets (`crates/kubetrail-fuzz`) read arbitrary config
//! files through the same code. Not an API: everything else stays in the binary.

// As in the library crates (CONTRIBUTING.md, Lints): no unwrap, no printing.
#![warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

#[doc(hidden)]
pub mod config;
#[doc(hidden)]
pub mod fanin;
