//! The binary's allocator: mimalloc, told to give freed pages back to the system at once, in
//! pages of 4 KiB.
//!
//! glibc's per-thread arenas kept what the watcher's threads had freed (RSS grew with the
//! events seen and never came back); mimalloc returns freed pages, but by default only after a
//! purge delay of one second, and each of `run`'s threads keeps its own pages meanwhile: with
//! change tracking on, that alone held ~7 MB more at the peak of a listing (issue 14 §2,
//! issue 15 Performance; docs/BENCHMARKS.md). [`purge_at_once`] sets the delay to 0.
//!
//! mimalloc also advises transparent huge pages on its arena (`MADV_HUGEPAGE`): on a kernel
//! that honours the advice (THP `madvise` or `always`), each 2 MiB region the heap touches is
//! then resident whole, and a change-tracking listing, which touches more regions, peaked
//! 9.5–16 MB above the same run without tracking, with 6–18 MiB of huge pages (issue 15
//! Performance; +5–6 MB without them). [`small_pages`] turns them off for the process, as `MIMALLOC_ALLOW_THP=0`
//! would before mimalloc starts.
//!
//! The only `unsafe` code of the workspace lives here (`unsafe_code` is `deny`, allowed in
//! this module alone): mimalloc has no safe way to set an option after start, and its
//! environment variable (`MIMALLOC_PURGE_DELAY`) is read before `main` runs.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_long};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_e` (`mimalloc.h`; libmimalloc-sys
/// 0.1.49 does not name it). A unit test checks it is that option.
const PURGE_DELAY: c_int = 15;

/// mimalloc v3's default purge delay, in milliseconds (what the test expects to read).
#[cfg(test)]
const DEFAULT_PURGE_DELAY_MS: c_long = 1000;

unsafe extern "C" {
    /// `long mi_option_get(mi_option_t option)`.
    #[cfg(test)]
    fn mi_option_get(option: c_int) -> c_long;
    /// `void mi_option_set(mi_option_t option, long value)`.
    fn mi_option_set(option: c_int, value: c_long);
}

/// Has freed pages purged (given back to the system) at once instead of after mimalloc's
/// delay, unless the environment sets `MIMALLOC_PURGE_DELAY` (the operator's choice wins).
pub fn purge_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    set_purge_delay(0);
}

/// Keeps the process out of transparent huge pages (`prctl(PR_SET_THP_DISABLE)`: no new huge
/// page is faulted in for any of its mappings), unless the environment sets
/// `MIMALLOC_ALLOW_THP` (the operator's choice wins; mimalloc reads it itself at start). A
/// kernel that refuses is no error: the memory is then only larger.
pub fn small_pages() {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
        return;
    }
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::debug!(error = %e, "cannot turn transparent huge pages off");
    }
}

fn set_purge_delay(ms: c_long) {
    // SAFETY: `mi_option_set` and `mi_option_get` are mimalloc's exported C functions
    // (statically linked through libmimalloc-sys), taking an option number and a long, with
    // no pointers; any value is accepted. An option is a plain word that the allocator reads
    // when it decides to purge, so setting it while other threads allocate is benign.
    unsafe { mi_option_set(PURGE_DELAY, ms) }
}

#[cfg(test)]
fn purge_delay() -> c_long {
    // SAFETY: as in `set_purge_delay`: no pointers, any option number is accepted.
    unsafe { mi_option_get(PURGE_DELAY) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins the option number: if a newer mimalloc renumbered its options, the option read
    /// here would no longer start at the purge delay's documented default.
    #[test]
    fn the_option_set_is_mimallocs_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        assert_eq!(purge_delay(), DEFAULT_PURGE_DELAY_MS);
        set_purge_delay(0);
        assert_eq!(purge_delay(), 0);
        set_purge_delay(DEFAULT_PURGE_DELAY_MS);
    }
}
