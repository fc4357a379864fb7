//! burn-train's per-epoch metric logs (`<split>/epoch-N/<Metric_Name>.log`, one serialized entry
//! a line: the files `finish` reads), written atomically at each split's end instead of line by
//! line: burn-train 0.21's `FileMetricLogger` panics in a background thread when a line cannot be
//! written (a full disk ends the run with "RecvError" and no word of space). Here a write error
//! is kept, named with its file and OS reason, and stops training through the interrupter; the
//! session then fails with it. A split interrupted part-way leaves no log of that epoch (its
//! checkpoint was not written either).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use burn::train::Interrupter;
use burn::train::logger::MetricLogger;
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};

/// The metric logs of a run directory.
pub struct EpochLogs {
    dir: PathBuf,
    names: HashMap<MetricId, String>,
    /// The lines of the split being logged, by file.
    pending: BTreeMap<PathBuf, String>,
    failure: Arc<Mutex<Option<String>>>,
    interrupter: Interrupter,
}

impl EpochLogs {
    /// Logs under `dir`; a write error stops `interrupter`'s training.
    pub fn new(dir: &Path, interrupter: Interrupter) -> Self {
        Self {
            dir: dir.to_path_buf(),
            names: HashMap::new(),
            pending: BTreeMap::new(),
            failure: Arc::default(),
            interrupter,
        }
    }

    /// The shared slot of the first write error (read after training).
    pub fn failure(&self) -> Arc<Mutex<Option<String>>> {
        self.failure.clone()
    }

    /// burn-train's path of a metric's log: spaces in its name become underscores.
    pub fn file(dir: &Path, name: &str, epoch: usize, split: &Split) -> PathBuf {
        dir.join(split.to_string())
            .join(format!("epoch-{epoch}"))
            .join(format!("{}.log", name.replace(' ', "_")))
    }

    /// Writes every pending file; the first error is kept and stops training.
    fn flush(&mut self) {
        for (path, text) in std::mem::take(&mut self.pending) {
            if let Err(e) = data::write_atomic(&path, text.as_bytes()) {
                let mut slot = self.failure.lock().unwrap_or_else(|e| e.into_inner());
                if slot.is_none() {
                    let why = e.to_string();
                    self.interrupter.stop(Some(&why));
                    *slot = Some(why);
                }
                return;
            }
        }
    }
}

impl MetricLogger for EpochLogs {
    fn log(&mut self, update: MetricsUpdate, epoch: usize, split: &Split) {
        let numeric = update.entries_numeric.iter().map(|u| &u.entry);
        for entry in update.entries.iter().chain(numeric) {
            let Some(name) = self.names.get(&entry.metric_id) else {
                continue;
            };
            let text = self
                .pending
                .entry(Self::file(&self.dir, name, epoch, split))
                .or_default();
            text.push_str(&entry.serialized_entry.serialized);
            text.push('\n');
        }
    }

    fn read_numeric(
        &mut self,
        name: &str,
        epoch: usize,
        split: &Split,
    ) -> Result<Vec<NumericEntry>, String> {
        let path = Self::file(&self.dir, name, epoch, split);
        let text = match self.pending.get(&path) {
            Some(text) => text.clone(),
            None if !path.exists() => String::new(),
            None => {
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?
            }
        };
        text.lines()
            .filter(|l| !l.is_empty())
            .map(|l| NumericEntry::deserialize(l).map_err(|e| format!("{}: {e}", path.display())))
            .collect()
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.names.insert(definition.metric_id, definition.name);
    }

    fn log_epoch_summary(&mut self, _summary: EpochSummary) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_cannot_be_written_is_named_and_stops_training() {
        let dir = tempfile::tempdir().unwrap();
        // `train` is a file: no epoch folder can be made under it.
        std::fs::write(dir.path().join("train"), b"").unwrap();
        let interrupter = Interrupter::new();
        let mut logs = EpochLogs::new(dir.path(), interrupter.clone());
        let path = EpochLogs::file(dir.path(), "Loss", 1, &Split::Train);
        logs.pending.insert(path, "1.5\n".into());
        logs.flush();
        let failure = logs.failure().lock().unwrap().clone().unwrap();
        assert!(failure.contains("Loss.log"), "{failure}");
        assert!(interrupter.should_stop());
        // The valid split's file is written, and read back.
        let valid = EpochLogs::file(dir.path(), "Loss", 1, &Split::Valid);
        logs.pending.insert(valid.clone(), "2.5\n".into());
        logs.flush();
        assert_eq!(std::fs::read_to_string(&valid).unwrap(), "2.5\n");
        assert_eq!(
            logs.read_numeric("Loss", 1, &Split::Valid).unwrap().len(),
            1
        );
    }
}
