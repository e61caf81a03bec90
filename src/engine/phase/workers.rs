//! The threads that run tasks: as many as the workflow's concurrency allows (never more
//! than there are units), each with its own handle on the repository. A retried task
//! waits as the workflow's `retryPolicy` says before it runs again.

use super::execute::execute;
use super::PhaseRun;
use crate::agents::{AgentOutput, FileChange};
use crate::gitops::Repo;
use crate::workflow::Task;
use git2::Oid;
use serde_json::{Map, Value};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

/// One step to run.
pub(super) struct Job {
    pub task: Task,
    /// The commit it starts from.
    pub start: Oid,
    /// 0 for the first run, n for the n-th retry.
    pub attempt: u32,
    /// 1-based iteration of a looped task; 0 otherwise.
    pub iteration: u32,
    /// The unit (index into the scheduler's active units) the step belongs to.
    pub unit: usize,
    /// Run-time placeholders of this step (for hooks).
    pub runtime: Map<String, Value>,
}

/// A step that ran: the files it changed and what it said, or why it failed.
pub(super) struct JobDone {
    pub job: Job,
    pub result: Result<(Vec<FileChange>, AgentOutput), String>,
}

/// The scheduler's side of the workers.
pub(super) struct Pool {
    jobs: mpsc::Sender<Job>,
    done: mpsc::Receiver<JobDone>,
    /// Steps sent and not yet received back.
    pub running: usize,
}

/// What waiting for a worker gave.
pub(super) enum Received {
    Done(Box<JobDone>),
    /// Nothing finished in time (a batch may be due).
    Timeout,
    /// Every worker is gone.
    Closed,
}

impl Pool {
    pub fn send(&mut self, job: Job) {
        // A send fails only when every worker is gone; `receive` then says `Closed`.
        let _ = self.jobs.send(job);
        self.running += 1;
    }

    pub fn receive(&mut self, patience: Duration) -> Received {
        match self.done.recv_timeout(patience) {
            Ok(done) => {
                self.running -= 1;
                Received::Done(Box::new(done))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => Received::Timeout,
            Err(mpsc::RecvTimeoutError::Disconnected) => Received::Closed,
        }
    }
}

/// Starts `count` workers, hands `schedule` the pool, and stops the workers when it
/// returns.
pub(super) fn with_workers<R>(
    ctx: &PhaseRun<'_>,
    count: usize,
    schedule: impl FnOnce(&mut Pool) -> R,
) -> R {
    let (job_tx, job_rx) = mpsc::channel::<Job>();
    let job_rx = Mutex::new(job_rx);
    let (done_tx, done_rx) = mpsc::channel::<JobDone>();
    std::thread::scope(|scope| {
        for _ in 0..count {
            let done_tx = done_tx.clone();
            let job_rx = &job_rx;
            scope.spawn(move || {
                let Ok(repo) = Repo::open(&ctx.repo_path) else {
                    return;
                };
                loop {
                    let job = match job_rx.lock().unwrap().recv() {
                        Ok(job) => job,
                        Err(_) => return,
                    };
                    if job.attempt > 0 {
                        // Retries back off as the workflow's retryPolicy says.
                        let policy = ctx.workflow.settings.retry_policy;
                        std::thread::sleep(policy.delay(job.attempt));
                    }
                    let result = execute(ctx, &repo, &job);
                    let _ = done_tx.send(JobDone { job, result });
                }
            });
        }
        drop(done_tx);
        let mut pool = Pool {
            jobs: job_tx,
            done: done_rx,
            running: 0,
        };
        let result = schedule(&mut pool);
        // Closing the queue ends the workers; the scope waits for them.
        drop(pool);
        result
    })
}
