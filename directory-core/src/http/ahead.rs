//! Page streams driven on their own task, a page ahead of their consumer.

use futures::stream::{self, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::error::{Error, ErrorKind, Result};
use crate::provider::Pages;

/// Runs `pages` on its own tokio task, at most `ahead` pages ahead of the
/// consumer.
///
/// [`crate::Snapshot::collect`] polls every stream from one task, so
/// without this one stream's decoding holds up every other stream's
/// requests, and a cursor chain waits while the consumer stores the page
/// before. On its own task the stream's requests and decoding use the
/// runtime's other threads, and the next page is fetched while the consumer
/// works on this one. Memory grows by at most `ahead` pages.
///
/// The task starts on the first poll, so the stream stays lazy, and runs in
/// the `tracing` span current at that poll; polled outside a tokio runtime,
/// the stream is driven inline instead. Dropping the returned stream stops
/// the task. A task that panics or is cancelled
/// ends the stream with an error, never early without one: a listing cut
/// short must not look complete.
pub fn run_ahead<T: Send + 'static>(pages: Pages<T>, ahead: usize) -> Pages<T> {
    enum State<T> {
        Idle(Pages<T>, usize),
        Spawned(Driver<T>),
        Inline(Pages<T>),
        Done,
    }
    stream::unfold(State::Idle(pages, ahead), |state| async move {
        let mut state = match state {
            State::Idle(pages, ahead) => match tokio::runtime::Handle::try_current() {
                Ok(handle) => State::Spawned(Driver::spawn(&handle, pages, ahead)),
                Err(_) => State::Inline(pages),
            },
            other => other,
        };
        let item = match &mut state {
            State::Spawned(driver) => driver.next().await,
            State::Inline(pages) => pages.next().await,
            State::Idle(..) | State::Done => None,
        }?;
        if item.is_err() {
            state = State::Done;
        }
        Some((item, state))
    })
    .boxed()
}

/// The consumer's end: pages from the channel, then the task's outcome.
struct Driver<T> {
    rx: mpsc::Receiver<Result<Vec<T>>>,
    task: Option<JoinHandle<()>>,
}

impl<T: Send + 'static> Driver<T> {
    fn spawn(handle: &tokio::runtime::Handle, mut pages: Pages<T>, ahead: usize) -> Self {
        let (tx, rx) = mpsc::channel(ahead.max(1));
        // The task logs (retries, waits) inside the span of whoever polls
        // the stream, as it would have without its own task.
        let span = tracing::Span::current();
        let task = handle.spawn(
            async move {
                while let Some(item) = pages.next().await {
                    let last = item.is_err();
                    if tx.send(item).await.is_err() || last {
                        return;
                    }
                }
            }
            .instrument(span),
        );
        Self {
            rx,
            task: Some(task),
        }
    }

    async fn next(&mut self) -> Option<Result<Vec<T>>> {
        if let Some(item) = self.rx.recv().await {
            return Some(item);
        }
        // The channel closed: the stream ended, or its task died.
        let task = self.task.take()?;
        match task.await {
            Ok(()) => None,
            Err(e) => Some(Err(Error::new(
                ErrorKind::Transient,
                if e.is_panic() {
                    "the task reading a page stream panicked before the listing ended"
                } else {
                    "the task reading a page stream was cancelled before the listing ended"
                },
            ))),
        }
    }
}

impl<T> Drop for Driver<T> {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn numbered(n: usize, polled: Arc<AtomicUsize>) -> Pages<usize> {
        stream::iter(0..n)
            .map(move |i| {
                polled.fetch_add(1, Ordering::SeqCst);
                Ok(vec![i])
            })
            .boxed()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn yields_every_page_in_order_and_stays_lazy() {
        let polled = Arc::new(AtomicUsize::new(0));
        let pages = run_ahead(numbered(50, polled.clone()), 2);
        tokio::task::yield_now().await;
        assert_eq!(
            polled.load(Ordering::SeqCst),
            0,
            "nothing read before the first poll"
        );
        let all: Vec<Vec<usize>> = pages.map(|p| p.unwrap()).collect().await;
        assert_eq!(all, (0..50).map(|i| vec![i]).collect::<Vec<_>>());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_error_ends_the_stream() {
        let inner = stream::iter(vec![
            Ok(vec![1]),
            Err(Error::invalid_response("bad page")),
            Ok(vec![3]),
        ])
        .boxed();
        let got: Vec<Result<Vec<i32>>> = run_ahead(inner, 1).collect().await;
        assert_eq!(got.len(), 2);
        assert!(got[1]
            .as_ref()
            .is_err_and(|e| e.message().contains("bad page")));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_stream_ends_with_an_error_not_early() {
        let inner = stream::iter(0..3)
            .map(|i| {
                assert!(i < 2, "page {i} blew up");
                Ok(vec![i])
            })
            .boxed();
        let got: Vec<Result<Vec<i32>>> = run_ahead(inner, 1).collect().await;
        assert_eq!(got.len(), 3, "two pages, then the error");
        assert!(got[2]
            .as_ref()
            .is_err_and(|e| e.message().contains("panicked")));
    }

    /// On a paused clock, which moves only when every task waits, so no
    /// scheduling delay decides the outcome: each page takes an hour to
    /// read, and the page being read when the stream is dropped is
    /// abandoned, not read to its end.
    #[tokio::test(start_paused = true)]
    async fn dropping_the_stream_stops_the_task() {
        let started = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let endless = stream::repeat(())
            .then({
                let (started, finished) = (started.clone(), finished.clone());
                move |()| {
                    let (started, finished) = (started.clone(), finished.clone());
                    async move {
                        started.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                        finished.fetch_add(1, Ordering::SeqCst);
                        Ok(vec![0u8])
                    }
                }
            })
            .boxed();
        let mut pages = run_ahead(endless, 1);
        assert!(pages.next().await.is_some());
        tokio::task::yield_now().await;
        assert_eq!(
            started.load(Ordering::SeqCst),
            2,
            "the next page is on its way"
        );
        drop(pages);
        tokio::time::sleep(std::time::Duration::from_secs(3 * 3600)).await;
        assert_eq!(started.load(Ordering::SeqCst), 2);
        assert_eq!(
            finished.load(Ordering::SeqCst),
            1,
            "the page in flight was dropped"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_task_logs_in_the_span_of_its_consumer() {
        // The task runs on the runtime's worker threads: only a global
        // subscriber sees its events. No other test here sets one.
        let out = crate::testing::CapturedLogs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(out.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        let logging = stream::iter(0..2)
            .map(|i| {
                tracing::info!(page = i, "page fetched");
                Ok(vec![i])
            })
            .boxed();
        let span = tracing::info_span!("sync", customer = "acme");
        let got: Vec<_> = run_ahead(logging, 1).collect().instrument(span).await;
        assert_eq!(got.len(), 2);
        let text = out.text();
        let fetched: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("page fetched"))
            .collect();
        assert_eq!(fetched.len(), 2, "{text}");
        assert!(
            fetched
                .iter()
                .all(|l| l.contains("sync{customer=\"acme\"}")),
            "{text}"
        );
    }

    #[test]
    fn outside_a_runtime_the_stream_is_driven_inline() {
        let polled = Arc::new(AtomicUsize::new(0));
        let all: Vec<Vec<usize>> = futures::executor::block_on(
            run_ahead(numbered(5, polled), 1)
                .map(|p| p.unwrap())
                .collect(),
        );
        assert_eq!(all.len(), 5);
    }
}
