//! The run's metric logger, with the epoch numbers of a resumed run corrected, and the
//! session's clock: `sessions.json` updated at each epoch's end.

use std::path::PathBuf;
use std::time::Instant;

use burn::train::logger::MetricLogger;
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, NumericEntry};
use study::run_dir::Sessions;

use super::epoch_logs::EpochLogs;
use crate::console;

/// This session's entry in `sessions.json`, written at each validated epoch's end so that the
/// time of a process killed later still counts in the run's total.
pub struct SessionClock {
    /// The run directory.
    pub dir: PathBuf,
    /// Every session so far, this one last.
    pub sessions: Sessions,
    /// When this session started.
    pub start: Instant,
    /// Epochs this session validated.
    pub epochs: usize,
}

impl SessionClock {
    /// Starts a session of the run in `dir` from epoch `resumed_from` (the file read, the new
    /// entry written).
    pub fn start(dir: PathBuf, resumed_from: usize) -> anyhow::Result<Self> {
        let mut sessions = Sessions::read(&dir)?;
        sessions.start(resumed_from);
        sessions.write(&dir)?;
        Ok(Self {
            dir,
            sessions,
            start: Instant::now(),
            epochs: 0,
        })
    }

    /// Records this session's time up to now; the total over every session.
    pub fn tick(&mut self) -> f64 {
        let elapsed = self.start.elapsed().as_secs_f64();
        self.sessions.update(self.epochs, elapsed);
        if let Err(e) = self.sessions.write(&self.dir) {
            console::line(format!("warning: {}", console::error_text(&e)));
        }
        self.sessions.total_s()
    }
}

/// The run's metric logs ([`EpochLogs`]), with the epoch numbers of a resumed run corrected:
/// burn-train 0.21's event store numbers the first epoch of every session 1 (later ones
/// correctly), so a run resumed after epoch N would overwrite epoch 1's logs with epoch N + 1's.
pub struct ResumedMetricLogger {
    /// The logs.
    pub inner: EpochLogs,
    /// The first epoch of this session (1-based).
    pub first_epoch: usize,
    /// The session's clock (the process that writes the run directory only).
    pub clock: Option<SessionClock>,
}

impl MetricLogger for ResumedMetricLogger {
    fn log(&mut self, update: MetricsUpdate, epoch: usize, split: &Split) {
        self.inner.log(update, epoch.max(self.first_epoch), split);
    }

    fn read_numeric(
        &mut self,
        name: &str,
        epoch: usize,
        split: &Split,
    ) -> Result<Vec<NumericEntry>, String> {
        self.inner.read_numeric(name, epoch, split)
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.inner.log_metric_definition(definition);
    }

    fn log_epoch_summary(&mut self, summary: EpochSummary) {
        if summary.split == Split::Valid
            && let Some(clock) = &mut self.clock
        {
            clock.epochs += 1;
            clock.tick();
        }
        self.inner.log_epoch_summary(summary);
    }
}
