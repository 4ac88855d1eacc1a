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
//! Performance; +5–6 MB without them). mimalloc is built without that advice (its `no_thp`
//! feature): with the advice, the first allocations, made before `main` can turn huge pages
//! off, faulted in a 2 MiB page that stayed resident (`run` idled at 8.3 MiB anonymous
//! instead of 5.1; issue 14 §2). [`small_pages`] also turns them off for the process, as
//! `MIMALLOC_ALLOW_THP=0` would before mimalloc starts, for kernels that give huge pages
//! without advice (THP `always`).
//!
//! `unsafe` code lives here and in `resident` only (`unsafe_code` is `deny`, allowed in these
//! modules): mimalloc has no safe way to set an option after start, and its
//! environment variable (`MIMALLOC_PURGE_DELAY`) is read before `main` runs.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_long, c_void};

use rusqlite::ffi;

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
    /// `void* mi_malloc(size_t size)`.
    fn mi_malloc(size: usize) -> *mut c_void;
    /// `void* mi_realloc(void* p, size_t newsize)`.
    fn mi_realloc(p: *mut c_void, newsize: usize) -> *mut c_void;
    /// `void mi_free(void* p)`.
    fn mi_free(p: *mut c_void);
    /// `size_t mi_usable_size(const void* p)`.
    fn mi_usable_size(p: *const c_void) -> usize;
    /// `void mi_collect(bool force)`: the calling thread's heap only.
    fn mi_collect(force: bool);
}

/// Has each thread that works for a watcher give back what it freed once it runs out of work:
/// the runtime's workers as they park, the store's threads (the SQLite writer, a reader) when
/// no work is queued (see `kubetrail_store::set_thread_idle_hook`), unless the environment
/// sets `KUBETRAIL_ALLOC_COLLECT=off` (to compare in `bench live --memory`).
///
/// mimalloc keeps pages per thread: a thread's emptied pages, its retired ones and those of
/// each size class it used stay with it until it allocates again, and the writer and the
/// readers go idle between batches. `run` held ~7 MiB of mimalloc's pages above its live
/// heap (5.5 of 13.8 MiB anonymous after 30,000 events); collected when idle, ~2 MiB less
/// (issue 14 §2, docs/BENCHMARKS.md).
pub fn collect_when_idle(runtime: &mut tokio::runtime::Builder) {
    if std::env::var_os("KUBETRAIL_ALLOC_COLLECT").is_some_and(|v| v == "off") {
        return;
    }
    kubetrail_store::set_thread_idle_hook(collect_thread);
    runtime.on_thread_park(collect_thread);
}

/// Gives back what the calling thread's heap holds and no longer uses (`mi_collect(true)`).
fn collect_thread() {
    // SAFETY: mimalloc's exported C function, no pointers; it collects the calling thread's
    // own heap (and purges the process's arenas), which is safe at any point the thread is
    // not inside the allocator, as here.
    unsafe { mi_collect(true) }
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

/// Has SQLite allocate through mimalloc instead of the C library's `malloc`, so that what its
/// connections free goes back to the system as the rest of the process's memory does
/// ([`purge_at_once`]): glibc's `malloc` gives each thread that allocates an arena of its own
/// and keeps what was freed in it (the writer's thread, each reader's blocking thread). Must
/// run before the process opens its first SQLite connection; `false` when SQLite refused (it
/// had started: its own `malloc` then stays, and the memory is only larger).
pub fn sqlite_in_mimalloc() -> bool {
    let methods = ffi::sqlite3_mem_methods {
        xMalloc: Some(sqlite_malloc),
        xFree: Some(sqlite_free),
        xRealloc: Some(sqlite_realloc),
        xSize: Some(sqlite_size),
        xRoundup: Some(sqlite_roundup),
        xInit: Some(sqlite_init),
        xShutdown: Some(sqlite_shutdown),
        pAppData: std::ptr::null_mut(),
    };
    // SAFETY: `SQLITE_CONFIG_MALLOC` takes one pointer to a `sqlite3_mem_methods`, which
    // SQLite copies before returning; SQLite answers `SQLITE_MISUSE` instead of changing anything once it has
    // initialized, so a late call is harmless. The functions below uphold SQLite's contract
    // for them (see each).
    let rc = unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_MALLOC, &raw const methods) };
    rc == ffi::SQLITE_OK
}

/// What SQLite holds allocated now and at the most since the last reset, in bytes (its own
/// count, whichever allocator it uses); `reset` starts the highest again from now.
pub fn sqlite_heap_bytes(reset: bool) -> (i64, i64) {
    // SAFETY: both are SQLite's thread-safe status functions, taking and returning integers.
    unsafe {
        (
            ffi::sqlite3_memory_used(),
            ffi::sqlite3_memory_highwater(c_int::from(reset)),
        )
    }
}

// SQLite's memory methods over mimalloc. SQLite never passes a negative or zero size to
// xMalloc/xRealloc (it returns NULL itself for those) and only pointers these functions
// returned to xFree/xRealloc/xSize; mimalloc's blocks are 8-byte aligned at least, as SQLite
// requires. A size that does not fit `usize` cannot come from a non-negative `c_int`.

unsafe extern "C" fn sqlite_malloc(n: c_int) -> *mut c_void {
    // SAFETY: mimalloc's malloc accepts any size (NULL when out of memory, which SQLite handles).
    unsafe { mi_malloc(usize::try_from(n).unwrap_or(0)) }
}

unsafe extern "C" fn sqlite_free(p: *mut c_void) {
    // SAFETY: `p` came from `sqlite_malloc` or `sqlite_realloc` (SQLite's contract).
    unsafe { mi_free(p) }
}

unsafe extern "C" fn sqlite_realloc(p: *mut c_void, n: c_int) -> *mut c_void {
    // SAFETY: as in `sqlite_free`; on failure the old block stays valid, as SQLite expects.
    unsafe { mi_realloc(p, usize::try_from(n).unwrap_or(0)) }
}

unsafe extern "C" fn sqlite_size(p: *mut c_void) -> c_int {
    // SAFETY: as in `sqlite_free`; SQLite asks only for blocks it holds.
    let size = unsafe { mi_usable_size(p) };
    c_int::try_from(size).unwrap_or(c_int::MAX)
}

unsafe extern "C" fn sqlite_roundup(n: c_int) -> c_int {
    // What xMalloc(n) holds at least: mimalloc's smallest alignment is 8.
    n.saturating_add(7) & !7
}

unsafe extern "C" fn sqlite_init(_: *mut c_void) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn sqlite_shutdown(_: *mut c_void) {}

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

    /// SQLite allocating through mimalloc: a connection opened after it works, and mimalloc
    /// holds its blocks (a block SQLite reports is one mimalloc knows the size of).
    #[test]
    fn sqlite_allocates_through_mimalloc_when_configured_first() {
        const CHILD: &str = "KUBETRAIL_TEST_SQLITE_IN_MIMALLOC";
        if std::env::var_os(CHILD).is_none() {
            // In a process of its own: there SQLite has not started, and no other test
            // starts it while it is configured.
            let status = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "alloc::tests::sqlite_allocates_through_mimalloc_when_configured_first",
                    "--test-threads=1",
                ])
                .env(CHILD, "1")
                .status()
                .unwrap();
            assert!(status.success(), "the test failed in its own process");
            return;
        }
        assert!(sqlite_in_mimalloc(), "SQLite accepts it before it starts");
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t(x TEXT); INSERT INTO t VALUES (hex(randomblob(5000)));")
            .unwrap();
        let n: i64 = conn
            .query_row("SELECT length(x) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 10_000);
        // SAFETY: SQLite's own malloc, configured above: a block of mimalloc's.
        let p = unsafe { ffi::sqlite3_malloc(100) };
        assert!(!p.is_null());
        // SAFETY: `p` is a live block of mimalloc's (it came through `sqlite_malloc`).
        assert!(unsafe { mi_usable_size(p) } >= 100);
        // SAFETY: freed once, through SQLite, as it was allocated.
        unsafe { ffi::sqlite3_free(p) };
        assert!(!sqlite_in_mimalloc(), "refused once SQLite has started");
    }

    /// The heap's mappings are not advised into transparent huge pages (mimalloc built with
    /// `no_thp`). The advice made the first allocations, before `main` turns huge pages off
    /// ([`small_pages`]), fault in a whole 2 MiB page that stayed resident: ~3 MiB of `run`'s
    /// idle RSS (issue 14 §2, docs/BENCHMARKS.md).
    #[cfg(target_os = "linux")]
    #[test]
    fn the_heap_is_not_advised_into_huge_pages() {
        let block = Box::new([7u8; 64]);
        let at = block.as_ptr() as usize;
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        let mut flags = None;
        for line in smaps.lines() {
            let range = line.split_whitespace().next().unwrap_or("");
            if let Some((start, end)) = range.split_once('-')
                && let (Ok(start), Ok(end)) = (
                    usize::from_str_radix(start, 16),
                    usize::from_str_radix(end, 16),
                )
            {
                inside = (start..end).contains(&at);
            } else if inside && let Some(f) = line.strip_prefix("VmFlags:") {
                flags = Some(f.split_whitespace().map(str::to_owned).collect::<Vec<_>>());
            }
        }
        let flags = flags.expect("the block's mapping is in /proc/self/smaps");
        assert!(!flags.iter().any(|f| f == "hg"), "advised huge: {flags:?}");
        drop(block);
    }

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
