//! `metrics.csv` (one row per epoch) and `train_loss.csv` (one row per iteration): typed rows,
//! written by training and read by the report through the same types, plus the pure
//! computations on them (fastai's smoothed loss, the lowest-valid-loss epoch).

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The metrics of one epoch (means over the epoch's batches, weighted by batch size).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Mean training loss (with mixup/smoothing when used).
    pub train_loss: f64,
    /// Training accuracy, percent (against the un-mixed targets).
    pub train_accuracy: f64,
    /// Validation loss (plain cross-entropy).
    pub valid_loss: Option<f64>,
    /// Validation accuracy, percent.
    pub valid_accuracy: Option<f64>,
    /// Learning rate of the epoch's last iteration.
    pub lr: f64,
    /// fastai's smoothed training loss at the epoch's last iteration: the debiased EMA
    /// (β = 0.98) of every batch loss since the run's start (what fastai reports as
    /// `train_loss`).
    #[serde(default)]
    pub train_loss_smoothed: Option<f64>,
    /// Validation top-5 accuracy, percent.
    #[serde(default)]
    pub valid_top5_accuracy: Option<f64>,
}

/// `metrics.csv`: one row per epoch.
pub const METRICS: &str = "metrics.csv";
/// `train_loss.csv`: one row per iteration.
pub const TRAIN_LOSS: &str = "train_loss.csv";

/// One training iteration's loss: (iteration over the run, epoch, loss).
pub type IterationLoss = (usize, usize, f64);

/// A number in a CSV cell: written in Rust's shortest round-tripping form (`Display`: `0.1`,
/// `1`, `NaN`), read back with `parse`. The `csv` crate's own float format (ryu: `1.0`,
/// `1e-5`) would change the files' bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Num(pub f64);

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map(Num)
            .map_err(|_| serde::de::Error::custom(format!("bad number `{text}`")))
    }
}

/// A row of `metrics.csv`: the columns are the fields, in order (an older file without the
/// last two columns still reads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: Num,
    /// Training accuracy, percent.
    pub train_accuracy: Num,
    /// Validation loss.
    pub valid_loss: Option<Num>,
    /// Validation accuracy, percent.
    pub valid_accuracy: Option<Num>,
    /// Learning rate of the epoch's last iteration.
    pub lr: Num,
    /// fastai's smoothed training loss at the epoch's end.
    #[serde(default)]
    pub train_loss_smoothed: Option<Num>,
    /// Validation top-5 accuracy, percent.
    #[serde(default)]
    pub valid_top5_accuracy: Option<Num>,
}

impl From<&EpochMetrics> for MetricsRow {
    fn from(e: &EpochMetrics) -> Self {
        Self {
            epoch: e.epoch,
            train_loss: Num(e.train_loss),
            train_accuracy: Num(e.train_accuracy),
            valid_loss: e.valid_loss.map(Num),
            valid_accuracy: e.valid_accuracy.map(Num),
            lr: Num(e.lr),
            train_loss_smoothed: e.train_loss_smoothed.map(Num),
            valid_top5_accuracy: e.valid_top5_accuracy.map(Num),
        }
    }
}

impl From<MetricsRow> for EpochMetrics {
    fn from(r: MetricsRow) -> Self {
        Self {
            epoch: r.epoch,
            train_loss: r.train_loss.0,
            train_accuracy: r.train_accuracy.0,
            valid_loss: r.valid_loss.map(|n| n.0),
            valid_accuracy: r.valid_accuracy.map(|n| n.0),
            lr: r.lr.0,
            train_loss_smoothed: r.train_loss_smoothed.map(|n| n.0),
            valid_top5_accuracy: r.valid_top5_accuracy.map(|n| n.0),
        }
    }
}

/// A row of `train_loss.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IterationRow {
    /// Iteration over the run (1-based).
    pub iteration: usize,
    /// Epoch (1-based).
    pub epoch: usize,
    /// The batch's training loss.
    pub train_loss: Num,
}

/// `rows` as CSV bytes, with the header of `T`'s fields.
fn csv_bytes<T: Serialize>(
    path: &Path,
    rows: impl IntoIterator<Item = T>,
) -> anyhow::Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer
            .serialize(row)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    writer
        .into_inner()
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

/// The rows of a CSV file with a header, by column name (none when the file does not exist);
/// an error names the file and the row.
fn read_csv<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<Vec<T>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = crate::input::read_text(path)?;
    csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot read {}", path.display()))
}

/// Writes `metrics.csv` and `train_loss.csv` into `dir`, atomically.
pub fn write_metrics(
    dir: &Path,
    epochs: &[EpochMetrics],
    iterations: &[IterationLoss],
) -> anyhow::Result<()> {
    let path = dir.join(METRICS);
    data::write_atomic(
        &path,
        &csv_bytes(&path, epochs.iter().map(MetricsRow::from))?,
    )?;
    let path = dir.join(TRAIN_LOSS);
    let rows = iterations
        .iter()
        .map(|&(iteration, epoch, loss)| IterationRow {
            iteration,
            epoch,
            train_loss: Num(loss),
        });
    data::write_atomic(&path, &csv_bytes(&path, rows)?)?;
    Ok(())
}

/// Refuses a percentage outside 0–100 (NaN included).
pub(crate) fn check_percent(field: &str, value: Option<f64>) -> Result<(), String> {
    match value {
        Some(v) if !(0.0..=100.0).contains(&v) => {
            Err(format!("field `{field}`: {v} is not a percentage in 0–100"))
        }
        _ => Ok(()),
    }
}

/// Refuses rows no run writes: epochs not numbered 1, 2, …, an accuracy outside 0–100 %, a
/// negative loss (NaN and +∞ stand for a diverged epoch).
fn check_epochs(epochs: &[EpochMetrics]) -> Result<(), String> {
    for (i, e) in epochs.iter().enumerate() {
        let at = |why: String| format!("row {}: {why}", i + 1);
        if e.epoch != i + 1 {
            return Err(at(format!("epoch {} where {} was due", e.epoch, i + 1)));
        }
        for (field, value) in [
            ("train_accuracy", Some(e.train_accuracy)),
            ("valid_accuracy", e.valid_accuracy),
            ("valid_top5_accuracy", e.valid_top5_accuracy),
        ] {
            check_percent(field, value).map_err(at)?;
        }
        for (field, value) in [
            ("train_loss", Some(e.train_loss)),
            ("valid_loss", e.valid_loss),
        ] {
            if value.is_some_and(|v| v < 0.0) {
                return Err(at(format!("field `{field}`: a negative loss")));
            }
        }
    }
    Ok(())
}

/// The epochs of `dir/metrics.csv` (none when the file does not exist), checked.
pub fn read_epochs(dir: &Path) -> anyhow::Result<Vec<EpochMetrics>> {
    let path = dir.join(METRICS);
    let rows: Vec<MetricsRow> = read_csv(&path)?;
    let epochs: Vec<EpochMetrics> = rows.into_iter().map(EpochMetrics::from).collect();
    check_epochs(&epochs).map_err(|why| anyhow::anyhow!("corrupt {}: {why}", path.display()))?;
    Ok(epochs)
}

/// The iterations of `dir/train_loss.csv` (none when the file does not exist).
pub fn read_iterations(dir: &Path) -> anyhow::Result<Vec<IterationLoss>> {
    let rows: Vec<IterationRow> = read_csv(&dir.join(TRAIN_LOSS))?;
    Ok(rows
        .into_iter()
        .map(|r| (r.iteration, r.epoch, r.train_loss.0))
        .collect())
}

/// Exponential moving average with bias correction (fastai's smoothed loss, β = 0.98):
/// `a ← β·a + (1 − β)·x`, reported as `a / (1 − βⁿ)` after n values.
pub fn smooth(values: &[f64]) -> Vec<f64> {
    let beta = 0.98;
    let mut avg = 0.0;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            avg = beta * avg + (1.0 - beta) * v;
            avg / (1.0 - beta.powi(i as i32 + 1))
        })
        .collect()
}

/// The last value of the debiased exponential moving average of `values` with weight `w`:
/// a ← w·a + (1 − w)·x from a = 0, then a / (1 − wⁿ) over the n values. With one value per
/// epoch this is how the seed study's charts smoothed the numbers it published (the weight
/// fitted from its logs: [`crate::seed`]). `None` when empty.
///
/// ```
/// let v = study::run_dir::debiased_ema(&[1.0, 2.0], 0.5).unwrap();
/// // a = 0.5, then 0.5·0.5 + 0.5·2 = 1.25; debiased by 1 − 0.25: 5/3.
/// assert!((v - 5.0 / 3.0).abs() < 1e-12);
/// ```
pub fn debiased_ema(values: &[f64], w: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut a = 0.0;
    for x in values {
        a = w * a + (1.0 - w) * x;
    }
    Some(a / (1.0 - w.powi(values.len() as i32)))
}

/// Sets each epoch's `train_loss_smoothed` to fastai's smoothed loss (debiased EMA, β = 0.98,
/// over every iteration since the run's start) at the epoch's last iteration.
pub fn set_smoothed_losses(epochs: &mut [EpochMetrics], iterations: &[IterationLoss]) {
    let losses: Vec<f64> = iterations.iter().map(|&(_, _, loss)| loss).collect();
    let smoothed = smooth(&losses);
    for e in epochs.iter_mut() {
        e.train_loss_smoothed = iterations
            .iter()
            .rposition(|&(_, epoch, _)| epoch == e.epoch)
            .map(|i| smoothed[i]);
    }
}

/// The epoch with the lowest finite validation loss (the first of equals; epochs with a
/// non-finite training loss are left out, as JSON cannot hold them).
pub fn best_valid_loss_epoch(epochs: &[EpochMetrics]) -> Option<&EpochMetrics> {
    epochs
        .iter()
        .filter(|e| e.valid_loss.is_some_and(f64::is_finite) && e.train_loss.is_finite())
        .fold(None, |best: Option<&EpochMetrics>, e| match best {
            Some(b) if b.valid_loss <= e.valid_loss => Some(b),
            _ => Some(e),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(epoch: usize, valid_loss: Option<f64>) -> EpochMetrics {
        EpochMetrics {
            epoch,
            train_loss: 1.0,
            train_accuracy: 50.0,
            valid_loss,
            valid_accuracy: Some(epoch as f64),
            lr: 0.1,
            train_loss_smoothed: None,
            valid_top5_accuracy: None,
        }
    }

    /// fastai's `SmoothenValue(0.98)` over the batch losses 1, 2, 3 (computed by hand:
    /// mov_avg = 0.98·mov_avg + 0.02·v, smooth = mov_avg / (1 − 0.98ⁿ)), read at each
    /// epoch's last batch; the best-loss epoch is the first lowest finite one.
    #[test]
    fn smoothed_loss_and_best_loss_epoch() {
        let mut epochs = vec![
            epoch(1, Some(0.7)),
            epoch(2, Some(f64::NAN)),
            epoch(3, Some(0.5)),
        ];
        let iterations = [(1, 1, 1.0), (2, 1, 2.0), (3, 3, 3.0)];
        set_smoothed_losses(&mut epochs, &iterations);
        let smoothed: Vec<Option<f64>> = epochs.iter().map(|e| e.train_loss_smoothed).collect();
        assert!((smoothed[0].unwrap() - 1.505_050_505_050_503_4).abs() < 1e-12);
        assert_eq!(smoothed[1], None);
        assert!((smoothed[2].unwrap() - 2.013_467_555_434_633_7).abs() < 1e-12);
        assert_eq!(best_valid_loss_epoch(&epochs).map(|e| e.epoch), Some(3));
        epochs.push(epoch(4, Some(0.5)));
        assert_eq!(best_valid_loss_epoch(&epochs).map(|e| e.epoch), Some(3));
        assert_eq!(best_valid_loss_epoch(&epochs[1..2]), None);
    }

    /// The files keep the bytes of the hand-written format (Rust's `Display` for numbers, empty
    /// cells for missing values) and read back to the same values.
    #[test]
    fn metrics_files_round_trip_with_display_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = epoch(1, None);
        e.lr = 1e-5;
        e.train_loss_smoothed = Some(f64::NAN);
        write_metrics(
            dir.path(),
            &[e.clone()],
            &[(1, 1, 2.5), (2, 1, f64::INFINITY)],
        )
        .unwrap();
        let text = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
        assert_eq!(
            text,
            "epoch,train_loss,train_accuracy,valid_loss,valid_accuracy,lr,\
             train_loss_smoothed,valid_top5_accuracy\n1,1,50,,1,0.00001,NaN,\n"
        );
        let losses = std::fs::read_to_string(dir.path().join("train_loss.csv")).unwrap();
        assert_eq!(losses, "iteration,epoch,train_loss\n1,1,2.5\n2,1,inf\n");
        let back = read_epochs(dir.path()).unwrap();
        assert!(back[0].train_loss_smoothed.unwrap().is_nan());
        assert_eq!((back[0].lr, back[0].valid_loss), (1e-5, None));
        assert_eq!(read_iterations(dir.path()).unwrap()[1].2, f64::INFINITY);
    }

    #[test]
    fn an_older_file_reads_and_a_bad_number_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("metrics.csv"),
            "epoch,train_loss,train_accuracy,valid_loss,valid_accuracy,lr\n1,2.5,10,,,0.1\n",
        )
        .unwrap();
        let epochs = read_epochs(dir.path()).unwrap();
        assert_eq!(
            (epochs[0].train_loss, epochs[0].valid_top5_accuracy),
            (2.5, None)
        );
        std::fs::write(
            dir.path().join("train_loss.csv"),
            "iteration,epoch,train_loss\n1,1,x\n",
        )
        .unwrap();
        let err = format!("{:#}", read_iterations(dir.path()).unwrap_err());
        assert!(
            err.contains("train_loss.csv") && err.contains("`x`"),
            "{err}"
        );
    }
}
