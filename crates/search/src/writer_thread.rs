//! The thread every index write runs on, at a lower CPU priority than the rest of the process.
//!
//! The index is derived data kept up to date in the background; when the machine is busy,
//! requests should get the CPU first and indexing take what is left. On Linux a thread's nice
//! value is its own and passes to the threads it starts, so the writer is created here too:
//! tantivy's indexing, merging and compression threads, started by the writer, inherit it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;

use anyhow::Context;

/// Nice value of the writer thread: 0 is the default, 19 the lowest priority. At 10 a thread
/// gets about a tenth of a core that a default-priority thread also wants.
const WRITER_NICENESS: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// Runs closures one at a time on its own thread; stops when dropped.
pub(crate) struct WriterThread {
    jobs: mpsc::Sender<Job>,
}

impl WriterThread {
    pub(crate) fn start() -> std::io::Result<WriterThread> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("search-index-writer".to_owned())
            .spawn(move || {
                lower_own_priority();
                for job in queue {
                    job();
                }
            })?;
        Ok(WriterThread { jobs })
    }

    /// Runs `work` on the writer thread and waits for its result. A panic in `work` is
    /// returned as an error; the thread goes on.
    pub(crate) fn run<R: Send + 'static>(
        &self,
        work: impl FnOnce() -> R + Send + 'static,
    ) -> anyhow::Result<R> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.jobs
            .send(Box::new(move || {
                drop(reply.send(catch_unwind(AssertUnwindSafe(work))));
            }))
            .ok()
            .context("the search index writer thread has stopped")?;
        match answer
            .recv()
            .context("the search index writer thread has stopped")?
        {
            Ok(result) => Ok(result),
            Err(_) => anyhow::bail!("a search index write panicked"),
        }
    }
}

fn lower_own_priority() {
    #[cfg(target_os = "linux")]
    if let Err(error) =
        rustix::process::setpriority_process(Some(rustix::thread::gettid()), WRITER_NICENESS)
    {
        tracing::debug!(%error, "search index writer keeps the default priority");
    }
}
