//! The binary's own code, resident page by page as it runs rather than in 2 MiB blocks.
//!
//! The kernel keeps a file in its page cache in folios of up to 2 MiB (a file written at once,
//! as the linker or an image extraction writes the binary, lands in the largest), and a fault
//! on an executable's code maps the whole folio it falls in. Running code spread over the
//! binary's 24 MB of text then made nearly all of it resident: ~20 MiB of `run`'s RSS was its
//! own code (issue 14 §2, docs/BENCHMARKS.md), where the code it runs fits in a few MiB.
//!
//! [`code_on_demand`] unmaps the executable's read-only mappings from this process, asks the
//! kernel to read them at random (`MADV_RANDOM`: no readahead, so a page read from the file is
//! cached on its own) and drops the file's cached folios that no other process maps
//! (`POSIX_FADV_DONTNEED`). From then on a page of code is read, cached and mapped when it
//! runs, 4 KiB at a time: a few hundred small reads while the process warms up, and the RSS of
//! its code is the code it ran. Another process mapping the same file (a second kubetrail
//! started from it) keeps the folios it maps, and this one maps them whole where it touches
//! them. A writable mapping (data, relocated pointers) is never touched, and neither is a
//! read-only one holding private (anonymous) pages.
//!
//! It calls `madvise`, which is `unsafe` in rustix: this module allows `unsafe_code`, as
//! `alloc` does, and the workspace denies it everywhere else.
#![allow(unsafe_code)]

use std::fs::File;
use std::os::unix::fs::MetadataExt;

/// One read-only mapping of the executable, from `/proc/self/smaps`.
#[derive(Debug, PartialEq, Eq)]
struct CodeMapping {
    start: usize,
    end: usize,
}

/// Makes the executable's code resident page by page as it runs (see the module doc). To be
/// called at the start of a long-running command, before its work. Failing is no
/// error (the memory is then only larger); the `KUBETRAIL_CODE_PAGES=keep` environment leaves
/// everything as the kernel mapped it.
pub fn code_on_demand() {
    if std::env::var_os("KUBETRAIL_CODE_PAGES").is_some_and(|v| v == "keep") {
        return;
    }
    if let Err(e) = drop_code_pages() {
        tracing::debug!(error = %e, "cannot make the binary's code resident on demand");
    }
}

/// [`code_on_demand`] again once `after` has passed (on the runtime): what only the start-up
/// ran (configuration, migrations, the first list) is then no longer resident, and what runs
/// on comes back as it runs (`kubetrail run`: ~21 MiB of code resident after its start,
/// 12–15 MiB once dropped, storing or listing; issue 14 §2, docs/BENCHMARKS.md).
pub fn again_after(after: std::time::Duration) {
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        code_on_demand();
    });
}

fn drop_code_pages() -> std::io::Result<()> {
    let exe = File::open("/proc/self/exe")?;
    let inode = exe.metadata()?.ino();
    let smaps = std::fs::read_to_string("/proc/self/smaps")?;
    for mapping in code_mappings(&smaps, inode) {
        let len = mapping.end - mapping.start;
        let addr = mapping.start as *mut std::ffi::c_void;
        // SAFETY: the range is one whole mapping of this process's executable file, read-only
        // and without anonymous pages (checked in `code_mappings`), so every page in it is the
        // file's content: `MADV_RANDOM` only changes readahead, and `MADV_DONTNEED` on a
        // private file mapping only unmaps pages that the next access faults in again from
        // the same file, unchanged (the file is the running binary and is not written). A
        // thread running code in these pages meanwhile faults it in again, as after the
        // kernel's own reclaim.
        unsafe {
            rustix::mm::madvise(addr, len, rustix::mm::Advice::Random)?;
            rustix::mm::madvise(addr, len, rustix::mm::Advice::LinuxDontNeed)?;
        }
    }
    // Now mapped by no one (unless another process maps them): dropped from the cache, read
    // again page by page as they run.
    rustix::fs::fadvise(&exe, 0, None, rustix::fs::Advice::DontNeed)?;
    Ok(())
}

/// The mappings of file `inode` in `smaps` that are neither writable nor hold anonymous
/// (private, modified) pages.
fn code_mappings(smaps: &str, inode: u64) -> Vec<CodeMapping> {
    let mut found = Vec::new();
    let mut current: Option<CodeMapping> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or_default();
        if let Some((start, end)) = first.split_once('-') {
            // A mapping's header: `start-end perms offset dev inode path`.
            let perms = fields.next().unwrap_or_default();
            let ino = fields.nth(2).and_then(|i| i.parse::<u64>().ok());
            let range = usize::from_str_radix(start, 16)
                .ok()
                .zip(usize::from_str_radix(end, 16).ok());
            current = match (range, ino) {
                (Some((start, end)), Some(ino))
                    if ino == inode && !perms.contains('w') && end > start =>
                {
                    Some(CodeMapping { start, end })
                }
                _ => None,
            };
        } else if first == "Anonymous:" {
            // The last per-mapping field this reads: decides whether the mapping is taken.
            let anonymous_kib = fields.next().and_then(|k| k.parse::<u64>().ok());
            if let Some(mapping) = current.take()
                && anonymous_kib == Some(0)
            {
                found.push(mapping);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
5590a0000000-5590a1000000 r--p 00000000 fd:00 4242 /usr/bin/kubetrail
Size:              16384 kB
Rss:                2048 kB
Anonymous:             0 kB
5590a1000000-5590a2800000 r-xp 01000000 fd:00 4242 /usr/bin/kubetrail
Size:              24576 kB
Anonymous:             0 kB
5590a2800000-5590a2900000 r--p 02800000 fd:00 4242 /usr/bin/kubetrail
Size:               1024 kB
Anonymous:           512 kB
5590a2900000-5590a2910000 rw-p 02900000 fd:00 4242 /usr/bin/kubetrail
Size:                 64 kB
Anonymous:            64 kB
7f0000000000-7f0000100000 r-xp 00000000 fd:00 99 /usr/lib/libc.so.6
Size:               1024 kB
Anonymous:             0 kB
7f0000100000-7f0000200000 rw-p 00000000 00:00 0
Anonymous:          1024 kB
";

    #[test]
    fn only_the_executables_read_only_mappings_without_private_pages_are_taken() {
        assert_eq!(
            code_mappings(SMAPS, 4242),
            vec![
                CodeMapping {
                    start: 0x5590a0000000,
                    end: 0x5590a1000000
                },
                CodeMapping {
                    start: 0x5590a1000000,
                    end: 0x5590a2800000
                },
            ],
            "the relocated read-only part (anonymous pages) and the data are left alone"
        );
        assert!(code_mappings(SMAPS, 1).is_empty(), "another file: nothing");
    }

    #[test]
    fn dropping_the_code_pages_leaves_the_process_running_its_code() {
        drop_code_pages().unwrap();
        // The code (this test's and the standard library's) is read again as it runs.
        let words: Vec<String> = "a b c".split(' ').map(str::to_uppercase).collect();
        assert_eq!(words, ["A", "B", "C"]);
    }
}
