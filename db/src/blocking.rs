//! Long CPU or file work inside async code, without holding up the tasks around it.

/// Runs `work` (CPU or file work of more than a few milliseconds: writing a county's report
/// files, comparing a chunk of rows) where it does not stall the runtime's other tasks.
///
/// On the multi-threaded runtime the worker thread hands its queue to another thread first
/// (`tokio::task::block_in_place`). Called plainly, the work held the worker's queue with it,
/// and one task in it cannot be taken by the other worker at all: the task this worker
/// spawned or woke last (tokio's "LIFO slot"). That task was the next county's read, which
/// was meant to run while this county's files were written, or a connection on its way back
/// to its pool, which another reader was waiting for (sqlx: "acquired connection, but time to
/// acquire exceeded slow threshold", waits of 2 to 6 s at the province preset, where the
/// pool gives up after 10 s).
///
/// On a current-thread runtime, or outside a runtime, `work` simply runs here.
pub fn blocking<R>(work: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::blocking;

    /// ykt's own runtime: two workers (as in `main`).
    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    /// The task spawned just before the work (it waits in the spawning worker's LIFO slot,
    /// which the other worker cannot take) runs while the work does. The work waits for it,
    /// up to 20 s: with the work run plainly on the worker, it never came.
    #[test]
    fn a_task_spawned_just_before_runs_during_the_work() {
        let came = runtime().block_on(async {
            tokio::spawn(async {
                let (tx, rx) = mpsc::channel();
                tokio::spawn(async move { tx.send(()).unwrap() });
                blocking(|| rx.recv_timeout(Duration::from_secs(20)).is_ok())
            })
            .await
            .unwrap()
        });
        assert!(came, "the spawned task did not run while the work ran");
    }

    /// A task woken from this worker just before the work (a connection's return to its pool
    /// is spawned on drop, a reader is woken by it) is as free to run.
    #[test]
    fn a_task_woken_just_before_runs_during_the_work() {
        let came = runtime().block_on(async {
            let (wake, woken) = tokio::sync::oneshot::channel::<()>();
            let (tx, rx) = mpsc::channel();
            let waiter = tokio::spawn(async move {
                woken.await.unwrap();
                tx.send(()).unwrap();
            });
            tokio::spawn(async move {
                // Let the waiter park on its channel first.
                tokio::time::sleep(Duration::from_millis(50)).await;
                wake.send(()).unwrap();
                blocking(|| rx.recv_timeout(Duration::from_secs(20)).is_ok())
            })
            .await
            .map(|came| (came, waiter))
            .unwrap()
        });
        assert!(came.0, "the woken task did not run while the work ran");
    }

    /// Outside a runtime and on a current-thread runtime (the tests' `#[tokio::test]`), the
    /// work runs where it is called, with its result.
    #[test]
    fn runs_in_place_without_a_multi_threaded_runtime() {
        assert_eq!(blocking(|| 6 * 7), 42);
        let current = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(current.block_on(async { blocking(|| 6 * 7) }), 42);
    }
}
