//! Items `0..len` made ahead of their use on worker threads, delivered in order.
//!
//! Worker `w` of `n` makes items `w, w + n, w + 2n, …` into its own bounded queue; the consumer
//! takes item `i` from queue `i mod n`, so the order needs no sorting and each worker stays at
//! most `depth` items ahead. An item is a pure function of its index (`make(i)`), so what comes
//! out is what a loop `for i in 0..len { make(i) }` gives, whatever the number of workers. The
//! training loader uses it to build batch `i + 1` while the device computes step `i`.

use std::any::Any;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Items a worker keeps ready beyond the one it is making.
pub const DEPTH: usize = 2;

/// Where a worker's items come from: its thread's queue, or (if the thread could not be started)
/// the consumer's own thread.
enum Worker<T> {
    Thread {
        queue: Receiver<T>,
        handle: Option<JoinHandle<()>>,
    },
    Inline,
}

/// An in-order iterator over `make(0), …, make(len − 1)`, made ahead on worker threads.
pub struct Prefetch<T> {
    make: Arc<dyn Fn(usize) -> T + Send + Sync>,
    workers: Vec<Worker<T>>,
    next: usize,
    len: usize,
}

impl<T: Send + 'static> Prefetch<T> {
    /// `len` items on `workers` threads (0: none, each item made when asked for, on the
    /// caller's thread), each at most [`DEPTH`] items ahead.
    pub fn new(
        len: usize,
        workers: usize,
        make: impl Fn(usize) -> T + Send + Sync + 'static,
    ) -> Self {
        let make: Arc<dyn Fn(usize) -> T + Send + Sync> = Arc::new(make);
        let count = workers.min(len);
        let workers = (0..count)
            .map(|w| {
                let (sender, queue) = sync_channel(DEPTH);
                let job = make.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("prefetch-{w}"))
                    .spawn(move || produce(w, count, len, job.as_ref(), sender));
                match spawned {
                    Ok(handle) => Worker::Thread {
                        queue,
                        handle: Some(handle),
                    },
                    // No thread (a process limit): this worker's items are made on demand.
                    Err(_) => Worker::Inline,
                }
            })
            .collect();
        Self {
            make,
            workers,
            next: 0,
            len,
        }
    }
}

/// Worker `w` of `count`: makes its items in order until done or the consumer is gone.
fn produce<T>(w: usize, count: usize, len: usize, make: &dyn Fn(usize) -> T, out: SyncSender<T>) {
    for i in (w..len).step_by(count) {
        if out.send(make(i)).is_err() {
            return;
        }
    }
}

impl<T> Iterator for Prefetch<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.next >= self.len {
            return None;
        }
        let i = self.next;
        self.next += 1;
        if self.workers.is_empty() {
            return Some((self.make)(i));
        }
        let n = self.workers.len();
        match &mut self.workers[i % n] {
            Worker::Inline => Some((self.make)(i)),
            Worker::Thread { queue, handle } => match queue.recv() {
                Ok(item) => Some(item),
                // The worker stopped before its item: it panicked. Its panic goes on here, on
                // the consumer's thread, as it would have without prefetching.
                Err(_) => std::panic::resume_unwind(worker_panic(handle.take())),
            },
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.len - self.next;
        (left, Some(left))
    }
}

/// The panic of a worker whose queue closed early (joined here).
fn worker_panic(handle: Option<JoinHandle<()>>) -> Box<dyn Any + Send> {
    match handle.map(JoinHandle::join) {
        Some(Err(panic)) => panic,
        _ => Box::new("a prefetch worker stopped before its batch"),
    }
}

impl<T> Drop for Prefetch<T> {
    /// Closes the queues (a worker blocked on a full one stops) and waits for the workers, so
    /// that none outlives the epoch; a worker's panic was already raised by `next` or is moot.
    fn drop(&mut self) {
        let handles: Vec<JoinHandle<()>> = self
            .workers
            .drain(..)
            .filter_map(|worker| match worker {
                Worker::Thread { handle, .. } => handle,
                Worker::Inline => None,
            })
            .collect();
        for handle in handles {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    #[test]
    fn items_come_in_order_whatever_the_workers() {
        let expected: Vec<usize> = (0..23).map(|i| i * i).collect();
        for workers in [0, 1, 2, 3, 8, 40] {
            let got: Vec<usize> = Prefetch::new(23, workers, |i| i * i).collect();
            assert_eq!(got, expected, "{workers} workers");
        }
        assert_eq!(Prefetch::new(0, 4, |i| i).count(), 0);
    }

    #[test]
    fn workers_stay_at_most_depth_ahead_and_stop_when_dropped() {
        let made = Arc::new(AtomicUsize::new(0));
        let counter = made.clone();
        let mut items = Prefetch::new(1000, 2, move |i| {
            counter.fetch_add(1, Ordering::SeqCst);
            i
        });
        assert_eq!(items.next(), Some(0));
        std::thread::sleep(Duration::from_millis(100));
        // Each worker: DEPTH queued, one made and blocked on a full queue, plus item 0 taken.
        assert!(made.load(Ordering::SeqCst) <= 2 * (DEPTH + 1) + 1);
        drop(items);
        let after = made.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            made.load(Ordering::SeqCst),
            after,
            "no worker runs after the drop"
        );
    }

    #[test]
    fn a_workers_panic_reaches_the_consumer() {
        let result = std::panic::catch_unwind(|| {
            Prefetch::new(6, 2, |i| if i == 3 { panic!("item 3") } else { i }).count()
        });
        let panic = result.expect_err("the panic of item 3");
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"item 3"));
    }

    /// The next item is made while the consumer still works on the current one (how long the
    /// overlap saves is measured by the data pipeline bench, not here).
    #[test]
    fn the_next_item_is_made_before_it_is_asked_for() {
        let made = Arc::new(AtomicUsize::new(0));
        let counter = made.clone();
        let mut items = Prefetch::new(5, 1, move |i| {
            counter.fetch_add(1, Ordering::SeqCst);
            i
        });
        assert_eq!(items.next(), Some(0));
        let deadline = Instant::now() + Duration::from_secs(10);
        while made.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            made.load(Ordering::SeqCst) >= 2,
            "item 1 was not made ahead"
        );
        assert_eq!(items.collect::<Vec<_>>(), [1, 2, 3, 4]);
    }
}
