//! A hook run on each of the store's own threads (the SQLite writer's, a reader's) when it
//! runs out of work: the binary sets it to have its allocator give back what that thread
//! freed (mimalloc keeps pages per thread until the thread allocates again; issue 14 §2).

use std::sync::OnceLock;

static HOOK: OnceLock<fn()> = OnceLock::new();

/// Sets the hook run on a store thread once no work is queued for it: the writer's thread
/// after the last job queued, a reader's after each read. The first call wins (`false` when
/// one was set already).
pub fn set_thread_idle_hook(hook: fn()) -> bool {
    HOOK.set(hook).is_ok()
}

/// Runs the hook, if one is set, on the calling thread.
pub(crate) fn thread_idle() {
    if let Some(hook) = HOOK.get() {
        hook();
    }
}
