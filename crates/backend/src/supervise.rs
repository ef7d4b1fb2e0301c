//! Long-lived tasks under watch. The first one to end — returned, failed, panicked or was
//! cancelled — is reported with its name and cause, so `serve` and the embedded TUI stop with
//! that cause instead of running on without a hub or an adapter (docs/architecture.md,
//! "Supervision").
//!
//! Each watched task gets a small watcher task that awaits its `JoinHandle` and reports the
//! outcome. The owner keeps a `Watched` to wait for the task or abort it in an orderly
//! shutdown; only a `TaskWatch` that is still being read turns an end into a stop.

use std::fmt;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinError, JoinHandle};

/// How a watched task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// It returned although nothing asked it to stop.
    Returned,
    /// It returned an error (the error's text, causes included).
    Failed(String),
    /// It panicked (the panic message).
    Panicked(String),
    /// It was aborted.
    Cancelled,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Returned => f.write_str("ended without being asked to stop"),
            Cause::Failed(e) => write!(f, "failed: {e}"),
            Cause::Panicked(m) => write!(f, "panicked: {m}"),
            Cause::Cancelled => f.write_str("was cancelled"),
        }
    }
}

/// The end of one watched task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskEnd {
    pub task: &'static str,
    pub cause: Cause,
}

impl fmt::Display for TaskEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the {} task {}", self.task, self.cause)
    }
}

impl std::error::Error for TaskEnd {}

/// What a watched task returns: `()`, or a `Result` whose error becomes `Cause::Failed`.
pub trait TaskOutput: Send + 'static {
    fn into_failure(self) -> Option<String>;
}

impl TaskOutput for () {
    fn into_failure(self) -> Option<String> {
        None
    }
}

impl<E: fmt::Display + Send + 'static> TaskOutput for Result<(), E> {
    fn into_failure(self) -> Option<String> {
        // `{:#}` keeps the cause chain of errors that print it that way (eyre reports).
        self.err().map(|e| format!("{e:#}"))
    }
}

/// The owner's side of a watched task: wait for it or abort it.
#[derive(Debug)]
pub struct Watched {
    abort: AbortHandle,
    /// The watcher; it ends right after the task. `None` once awaited to the end.
    watcher: Option<JoinHandle<()>>,
}

impl Watched {
    pub fn abort(&self) {
        self.abort.abort();
    }

    pub fn abort_handle(&self) -> AbortHandle {
        self.abort.clone()
    }

    /// Waits until the task has ended. Cancel-safe: a timeout around it may drop it and call
    /// it again.
    pub async fn ended(&mut self) {
        if let Some(w) = self.watcher.as_mut() {
            let _ = w.await;
            self.watcher = None;
        }
    }
}

/// Named long-lived tasks; `first_end` reports the first to end.
#[derive(Debug)]
pub struct TaskWatch {
    tx: mpsc::UnboundedSender<TaskEnd>,
    rx: mpsc::UnboundedReceiver<TaskEnd>,
}

impl Default for TaskWatch {
    fn default() -> Self {
        Self::new()
    }
}

impl TaskWatch {
    pub fn new() -> TaskWatch {
        let (tx, rx) = mpsc::unbounded_channel();
        TaskWatch { tx, rx }
    }

    /// Watch `handle` under `task` (a name for logs, e.g. "hub"). Must be called inside a
    /// tokio runtime.
    pub fn watch<T: TaskOutput>(&self, task: &'static str, handle: JoinHandle<T>) -> Watched {
        self.watch_inner(task, handle, None)
    }

    /// Watch a task that returns by design once another watched task has ended: a producer
    /// that stops when its consumer drops the channel. When it returns and `leader_gone()`
    /// holds, its end is that other task's consequence, not a cause, and is not reported;
    /// the other task's end (which must then come) is. A panic or an error is always reported.
    pub fn watch_follower<T: TaskOutput>(
        &self,
        task: &'static str,
        handle: JoinHandle<T>,
        leader_gone: impl Fn() -> bool + Send + 'static,
    ) -> Watched {
        self.watch_inner(task, handle, Some(Box::new(leader_gone)))
    }

    fn watch_inner<T: TaskOutput>(
        &self,
        task: &'static str,
        handle: JoinHandle<T>,
        leader_gone: Option<Box<dyn Fn() -> bool + Send>>,
    ) -> Watched {
        let abort = handle.abort_handle();
        let tx = self.tx.clone();
        let watcher = tokio::spawn(async move {
            let cause = match handle.await {
                Ok(out) => out.into_failure().map_or(Cause::Returned, Cause::Failed),
                Err(e) => cause_of(e),
            };
            if cause == Cause::Returned && leader_gone.is_some_and(|gone| gone()) {
                tracing::info!(
                    event = "task.followed",
                    task,
                    "the {task} task ended after the task it serves"
                );
                return;
            }
            // Nobody reading (an orderly shutdown is under way, or nobody supervises this
            // watch): the end is expected and there is nothing to report.
            let _ = tx.send(TaskEnd { task, cause });
        });
        Watched {
            abort,
            watcher: Some(watcher),
        }
    }

    /// The first watched task to end, logged at ERROR with its cause. Pending for as long as
    /// every watched task runs (forever when none is watched). Cancel-safe.
    pub async fn first_end(&mut self) -> TaskEnd {
        // The watch holds a sender itself, so `recv` never returns `None`.
        let Some(end) = self.rx.recv().await else {
            return std::future::pending().await;
        };
        tracing::error!(
            event = "task.ended",
            task = end.task,
            cause = %end.cause,
            "a long-lived task ended: {end}; stopping"
        );
        end
    }
}

fn cause_of(e: JoinError) -> Cause {
    match e.try_into_panic() {
        Ok(payload) => Cause::Panicked(trademon_core::panics::payload_text(payload.as_ref())),
        Err(_) => Cause::Cancelled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::sync::oneshot;

    /// With paused time the clock only jumps once every task is idle, so a timeout firing
    /// proves no watched task ended while everything that could run had run.
    async fn nothing_ended(w: &mut TaskWatch) -> bool {
        tokio::time::timeout(Duration::from_secs(3600), w.first_end())
            .await
            .is_err()
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_task_is_reported_with_its_message() {
        let mut w = TaskWatch::new();
        let (go_tx, go_rx) = oneshot::channel::<u32>();
        let _hub = w.watch(
            "hub",
            tokio::spawn(async move {
                let n = go_rx.await.unwrap_or(0);
                if n > 0 {
                    panic!("hub state broken at step {n}");
                }
            }),
        );
        assert!(nothing_ended(&mut w).await);
        go_tx.send(7).unwrap();
        let end = w.first_end().await;
        assert_eq!(
            end,
            TaskEnd {
                task: "hub",
                cause: Cause::Panicked("hub state broken at step 7".into()),
            }
        );
        assert_eq!(
            end.to_string(),
            "the hub task panicked: hub state broken at step 7"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_returning_early_is_reported_and_the_others_keep_running() {
        let mut w = TaskWatch::new();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (_keep_tx, keep_rx) = oneshot::channel::<()>();
        let _adapter = w.watch(
            "mexc adapter",
            tokio::spawn(async move {
                let _ = stop_rx.await;
            }),
        );
        let _server = w.watch(
            "server",
            tokio::spawn(async move {
                let _ = keep_rx.await;
            }),
        );
        assert!(nothing_ended(&mut w).await);
        drop(stop_tx);
        assert_eq!(
            w.first_end().await,
            TaskEnd {
                task: "mexc adapter",
                cause: Cause::Returned,
            }
        );
        assert!(nothing_ended(&mut w).await, "the server still runs");
    }

    #[tokio::test(start_paused = true)]
    async fn an_error_and_an_abort_are_told_apart() {
        let mut w = TaskWatch::new();
        let _store = w.watch(
            "store",
            tokio::spawn(async { Err::<(), _>("the spool directory is gone") }),
        );
        assert_eq!(
            w.first_end().await.cause,
            Cause::Failed("the spool directory is gone".into())
        );
        let mut contracts = w.watch("contracts", tokio::spawn(std::future::pending::<()>()));
        contracts.abort();
        contracts.ended().await;
        assert_eq!(
            w.first_end().await,
            TaskEnd {
                task: "contracts",
                cause: Cause::Cancelled,
            }
        );
    }

    /// The adapter's race: the hub drops the market channel as it dies, and the adapter, seeing
    /// it closed, may return before the hub's own end is reported. The hub is the cause.
    #[tokio::test(start_paused = true)]
    async fn a_follower_ending_after_its_leader_is_not_taken_for_the_cause() {
        let mut w = TaskWatch::new();
        let (market_tx, mut market_rx) = mpsc::channel::<u32>(1);
        let (die_tx, die_rx) = oneshot::channel::<()>();
        let (hub_done_tx, hub_done_rx) = oneshot::channel::<()>();
        let hub = tokio::spawn(async move {
            let _ = die_rx.await;
            market_rx.close();
            drop(market_rx);
            // The hub's own end comes only after the adapter has returned.
            let _ = hub_done_rx.await;
            Err::<(), _>("hub broke")
        });
        let adapter_tx = market_tx.clone();
        let adapter = tokio::spawn(async move { adapter_tx.closed().await });
        let _adapter = w.watch_follower("mexc adapter", adapter, move || market_tx.is_closed());
        let _hub = w.watch("hub", hub);
        assert!(nothing_ended(&mut w).await);
        die_tx.send(()).unwrap();
        assert!(nothing_ended(&mut w).await, "the adapter's end is no cause");
        hub_done_tx.send(()).unwrap();
        assert_eq!(
            w.first_end().await,
            TaskEnd {
                task: "hub",
                cause: Cause::Failed("hub broke".into()),
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_follower_ending_on_its_own_is_reported() {
        let mut w = TaskWatch::new();
        let (market_tx, _market_rx) = mpsc::channel::<u32>(1);
        let _adapter = w.watch_follower("mexc adapter", tokio::spawn(async {}), move || {
            market_tx.is_closed()
        });
        assert_eq!(
            w.first_end().await,
            TaskEnd {
                task: "mexc adapter",
                cause: Cause::Returned,
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn ended_waits_for_the_task_and_can_be_called_again() {
        let w = TaskWatch::new();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let mut t = w.watch(
            "server",
            tokio::spawn(async move {
                let _ = stop_rx.await;
            }),
        );
        assert!(
            tokio::time::timeout(Duration::from_secs(3600), t.ended())
                .await
                .is_err()
        );
        stop_tx.send(()).unwrap();
        t.ended().await;
        t.ended().await;
    }
}
