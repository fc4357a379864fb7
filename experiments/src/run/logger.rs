//! burn-train 0.21's metric logger, with the epoch numbers of a resumed run corrected.

use burn::train::logger::{FileMetricLogger, MetricLogger};
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, NumericEntry};

/// Burn's `FileMetricLogger`, with the epoch numbers of a resumed run corrected: burn-train
/// 0.21's event store numbers the first epoch of every session 1 (later ones correctly), so a
/// run resumed after epoch N would overwrite epoch 1's logs with epoch N + 1's.
pub struct ResumedMetricLogger {
    /// burn-train's logger.
    pub inner: FileMetricLogger,
    /// The first epoch of this session (1-based).
    pub first_epoch: usize,
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
        self.inner.log_epoch_summary(summary);
    }
}
