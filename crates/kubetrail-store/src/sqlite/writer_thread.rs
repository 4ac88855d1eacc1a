//! The one thread that runs all of the writer connection's work.
//!
//! SQLite allocates with the C allocator, and glibc gives each thread that allocates its own
//! arena, which keeps what was freed in it. On tokio's blocking pool every write could run on
//! another thread, so the writer's page cache and journals were spread over several arenas,
//! each keeping its freed pages: a bulk import of 200,000 events peaked 15–20 MiB higher than
//! with one arena (`MALLOC_ARENA_MAX=1`), by how many pool threads it happened to use
//! (issue 12's import regression). One long-lived thread keeps them in one arena.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;

use crate::{Error, Result};

/// The name of the writer's thread.
pub(crate) const NAME: &str = "kubetrail-sqlite-writer";

type Job = Box<dyn FnOnce() + Send>;

/// A handle on the writer's thread; the thread ends when its last handle is dropped (after the
/// work already sent).
#[derive(Clone)]
pub(crate) struct WriterThread {
    jobs: mpsc::Sender<Job>,
}

impl WriterThread {
    /// Starts the thread.
    pub(crate) fn start() -> Result<WriterThread> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(NAME.into())
            .spawn(move || {
                loop {
                    let job = match queue.try_recv() {
                        Ok(job) => job,
                        // Nothing queued: the thread gives back what it freed (see `idle`),
                        // then waits.
                        Err(mpsc::TryRecvError::Empty) => {
                            super::idle::thread_idle();
                            match queue.recv() {
                                Ok(job) => job,
                                Err(mpsc::RecvError) => break,
                            }
                        }
                        Err(mpsc::TryRecvError::Disconnected) => break,
                    };
                    // A panicking job drops its answer: the caller gets `WorkerGone`, and the
                    // thread goes on with the next one.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                }
            })
            .map_err(Error::StartWriter)?;
        Ok(WriterThread { jobs })
    }

    /// Runs `f` on the writer's thread and waits for its answer. Work that was sent runs to
    /// its end even if the caller goes away (as on the blocking pool).
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = answer.send(f());
            }))
            .map_err(|_| Error::WorkerGone)?;
        answered.await.map_err(|_| Error::WorkerGone)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_the_named_thread_and_a_panic_answers_worker_gone() {
        let thread = WriterThread::start().unwrap();
        let name = thread
            .run(|| Ok(std::thread::current().name().map(str::to_owned)))
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some(NAME));
        let panicked = thread.run(|| -> Result<()> { panic!("boom") }).await;
        assert!(matches!(panicked, Err(Error::WorkerGone)), "{panicked:?}");
        assert_eq!(thread.run(|| Ok(7)).await.unwrap(), 7, "the thread goes on");
    }

    /// Idle hooks run on the writer's thread, counted here (the hook is process-wide; this
    /// test binary sets it only here).
    static IDLE_ON_WRITER: (std::sync::Mutex<usize>, std::sync::Condvar) =
        (std::sync::Mutex::new(0), std::sync::Condvar::new());

    fn count_idle_on_writer() {
        if std::thread::current().name() == Some(NAME) {
            *IDLE_ON_WRITER.0.lock().unwrap() += 1;
            IDLE_ON_WRITER.1.notify_all();
        }
    }

    /// Waits (at most 10 s) until the idle hook has run on a writer's thread more than
    /// `seen` times; returns the count.
    fn idle_count_above(seen: usize) -> usize {
        let (count, changed) = &IDLE_ON_WRITER;
        let (count, timeout) = changed
            .wait_timeout_while(
                count.lock().unwrap(),
                std::time::Duration::from_secs(10),
                |n| *n <= seen,
            )
            .unwrap();
        assert!(
            !timeout.timed_out(),
            "idle runs: {} (more than {seen} awaited)",
            *count
        );
        *count
    }

    /// The thread is idle when it starts (nothing queued) and again after each job. The job
    /// is sent once the first idle has run: sent at once, it could be queued before the
    /// thread first looked (it then saw work, and was idle only after it: the test waited for
    /// a second idle that never came, on a loaded machine).
    #[tokio::test]
    async fn the_writer_runs_the_idle_hook_on_its_thread_when_no_work_is_queued() {
        assert!(crate::set_thread_idle_hook(count_idle_on_writer));
        let thread = WriterThread::start().unwrap();
        let started = idle_count_above(0);
        thread.run(|| Ok(())).await.unwrap();
        idle_count_above(started);
    }
}
