//! A deadline on every collective call: burn-collective 0.21 waits without limit for a peer
//! that died (and retries an unreachable orchestrator forever), so each call runs under a
//! [`Watchdog`] that ends the process with a clear message once the deadline passes. The call
//! sits inside an optimizer step or before training, never inside a file write, so nothing
//! already written is cut short; completed epochs stay checkpointed for `--resume`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The exit status of a node stopped by its watchdog.
pub const EXIT_TIMEOUT: i32 = 3;

/// What is being waited for, and until when.
#[derive(Debug, Clone)]
struct Wait {
    what: String,
    deadline: Instant,
}

/// Ends the process when a watched call outlives its deadline (checked every 100 ms by one
/// thread).
#[derive(Clone)]
pub struct Watchdog {
    wait: Arc<Mutex<Option<Wait>>>,
}

/// The deadline of one call: cleared when dropped.
pub struct Watched<'a> {
    dog: &'a Watchdog,
}

impl Drop for Watched<'_> {
    fn drop(&mut self) {
        *self.dog.lock() = None;
    }
}

impl Watchdog {
    /// Starts the watchdog thread; `on_timeout` (given what was waited for) prints the message
    /// and the process then exits with [`EXIT_TIMEOUT`].
    pub fn start(on_timeout: impl Fn(&str) + Send + 'static) -> Self {
        let dog = Self {
            wait: Arc::new(Mutex::new(None)),
        };
        let watched = dog.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(100));
                if let Some(what) = watched.expired(Instant::now()) {
                    on_timeout(&what);
                    std::process::exit(EXIT_TIMEOUT);
                }
            }
        });
        dog
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Wait>> {
        self.wait.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Watches a call (`what`, for the message) for `limit`, until the returned guard drops.
    pub fn watch(&self, what: impl Into<String>, limit: Duration) -> Watched<'_> {
        *self.lock() = Some(Wait {
            what: what.into(),
            deadline: Instant::now() + limit,
        });
        Watched { dog: self }
    }

    /// What is being waited for, if its deadline is before `now`.
    fn expired(&self, now: Instant) -> Option<String> {
        self.lock()
            .as_ref()
            .filter(|wait| wait.deadline <= now)
            .map(|wait| wait.what.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_expires_only_while_watched() {
        // Not started: `expired` is the whole logic, checked without ending the test process.
        let dog = Watchdog {
            wait: Arc::new(Mutex::new(None)),
        };
        let later = Instant::now() + Duration::from_secs(3600);
        assert_eq!(dog.expired(later), None);
        {
            let _call = dog.watch("all-reduce", Duration::from_secs(10));
            assert_eq!(dog.expired(Instant::now()), None);
            assert_eq!(dog.expired(later).as_deref(), Some("all-reduce"));
        }
        assert_eq!(dog.expired(later), None, "cleared when the call returns");
    }
}
