//! Training throughput on generated data: the same training steps (forward, cross-entropy,
//! backward, optimizer step) for several optimizer specs, side by side in one run, on any
//! backend. Used by `experiments throughput`, `cargo xtask bench` and the GPU check.

use std::time::Instant;

use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Int, Tensor};
use serde::{Deserialize, Serialize};

use crate::backend::{BackendInfo, BackendTask};
use crate::model::{BuildModel, Classifier};
use crate::optim::BuildOptimizer;
use study::config::{ModelKind, Precision};
use study::spec::OptimizerSpec;

/// What to measure.
#[derive(Debug, Clone)]
pub struct ThroughputTask {
    /// The model.
    pub model: ModelKind,
    /// Batch size.
    pub batch_size: usize,
    /// Image side (square, 3 channels).
    pub image_size: usize,
    /// Classes.
    pub classes: usize,
    /// Untimed steps before each measurement.
    pub warmup: usize,
    /// Timed steps per round.
    pub steps: usize,
    /// Rounds (the optimizers alternate; the median round counts).
    pub rounds: usize,
    /// The optimizers, the first being the reference of the ratios.
    pub optimizers: Vec<OptimizerSpec>,
    /// Precision of the forward and backward passes (f32 master weights).
    pub precision: Precision,
}

/// One optimizer's figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// The optimizer spec.
    pub optimizer: String,
    /// Training images per second (median round).
    pub images_per_s: f64,
    /// Time per step, milliseconds (median round).
    pub ms_per_step: f64,
    /// `images_per_s` relative to the first optimizer's.
    pub ratio: f64,
    /// `images_per_s` relative to the bare inner optimizer's (see [`ThroughputReport::bare`]).
    pub ratio_to_bare: f64,
}

/// The result of a [`ThroughputTask`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThroughputReport {
    /// Backend and device.
    pub backend: BackendInfo,
    /// Model name.
    pub model: String,
    /// Batch size.
    pub batch_size: usize,
    /// Precision of the forward and backward passes.
    pub precision: Precision,
    /// One row per optimizer.
    pub rows: Vec<Throughput>,
    /// The first spec's inner optimizer alone: Burn's optimizer adapted directly, without the
    /// Lookahead(k = 1, α = 1) wrapper every spec builds, so that the overhead of Lookahead is
    /// measured against the real baseline.
    pub bare: Throughput,
}

/// One optimizer step of a measured row.
type StepFn<B> = Box<dyn FnMut(Classifier<B>, GradientsParams) -> Classifier<B>>;

/// A measured row: its model (taken out during its steps), its optimizer step, its round times.
type Measured<B> = (Option<Classifier<B>>, StepFn<B>, Vec<f64>);

/// The rows of a measurement, (name, seconds per step of each round) per optimizer, the bare
/// inner optimizer first: images/s from the median round, ratios to the first spec and to the
/// bare optimizer.
fn rows(
    batch_size: usize,
    measured: impl Iterator<Item = (String, Vec<f64>)>,
) -> (Vec<Throughput>, Throughput) {
    let mut rows: Vec<Throughput> = measured
        .map(|(optimizer, times)| {
            let s = median(times);
            Throughput {
                optimizer,
                images_per_s: batch_size as f64 / s,
                ms_per_step: 1000.0 * s,
                ratio: 1.0,
                ratio_to_bare: 1.0,
            }
        })
        .collect();
    let bare = rows.remove(0);
    let reference = rows.first().map_or(1.0, |r| r.images_per_s);
    for row in &mut rows {
        row.ratio = row.images_per_s / reference;
        row.ratio_to_bare = row.images_per_s / bare.images_per_s;
    }
    (rows, bare)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

impl BackendTask for ThroughputTask {
    type Output = anyhow::Result<ThroughputReport>;

    fn run<B: AutodiffBackend>(self, devices: Vec<B::Device>, info: BackendInfo) -> Self::Output {
        let Some(device) = devices.first().cloned() else {
            anyhow::bail!("no device");
        };
        crate::model::check_precision::<B>(self.precision, &device)?;
        let shape = [self.batch_size, 3, self.image_size, self.image_size];
        B::seed(&device, 0);
        let images = Tensor::<B, 4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
        let targets = Tensor::<B, 1, Int>::random(
            [self.batch_size],
            Distribution::Uniform(0.0, self.classes as f64),
            &device,
        );
        let step =
            |model: Classifier<B>,
             optim: &mut dyn FnMut(Classifier<B>, GradientsParams) -> Classifier<B>| {
                let logits = model.logits(images.clone());
                let loss = data::mixed_cross_entropy(logits, targets.clone(), None, 0.0);
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                optim(model, grads)
            };
        // One model and optimizer per row (the bare inner optimizer first, then every spec),
        // all alive at once so that rounds can alternate.
        let mut states: Vec<Measured<B>> = Vec::new();
        let model = || -> anyhow::Result<Classifier<B>> {
            let net = self.model.build_seeded::<B>(self.classes, 3, 0, &device)?;
            Ok(Classifier::new(net, 0.0, self.precision, 1.0))
        };
        let Some(first) = self.optimizers.first() else {
            anyhow::bail!("no optimizer to measure");
        };
        let mut bare = first.build_bare::<B, Classifier<B>>()?;
        states.push((
            Some(model()?),
            Box::new(move |m, g| bare.step(0.01, m, g)),
            Vec::new(),
        ));
        for spec in &self.optimizers {
            let mut optim = spec.build::<B, Classifier<B>>()?;
            states.push((
                Some(model()?),
                Box::new(move |m, g| optim.step(0.01, m, g)),
                Vec::new(),
            ));
        }
        for round in 0..self.rounds.max(1) {
            for (model, optim, times) in &mut states {
                let mut m = model.take().ok_or_else(|| anyhow::anyhow!("model lost"))?;
                if round == 0 {
                    for _ in 0..self.warmup {
                        m = step(m, optim.as_mut());
                    }
                }
                B::sync(&device)?;
                let start = Instant::now();
                for _ in 0..self.steps.max(1) {
                    m = step(m, optim.as_mut());
                }
                B::sync(&device)?;
                times.push(start.elapsed().as_secs_f64() / self.steps.max(1) as f64);
                *model = Some(m);
            }
        }
        let names = std::iter::once(format!("bare {} (Burn's, no wrapper)", first.inner()))
            .chain(self.optimizers.iter().map(ToString::to_string));
        let times = states.into_iter().map(|(_, _, times)| times);
        let (rows, bare) = rows(self.batch_size, names.zip(times));
        Ok(ThroughputReport {
            backend: info,
            model: self.model.to_string(),
            batch_size: self.batch_size,
            precision: self.precision,
            rows,
            bare,
        })
    }
}

impl ThroughputReport {
    /// The report as an aligned text table.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{} training steps, batch {}, {:?}, {}\n{:<58} {:>10} {:>10} {:>7} {:>8}\n",
            self.model,
            self.batch_size,
            self.precision,
            self.backend,
            "optimizer",
            "images/s",
            "ms/step",
            "ratio",
            "vs bare"
        );
        let b = &self.bare;
        out.push_str(&format!(
            "{:<58} {:>10.1} {:>10.1} {:>7} {:>8.3}\n",
            b.optimizer, b.images_per_s, b.ms_per_step, "", 1.0
        ));
        for r in &self.rows {
            out.push_str(&format!(
                "{:<58} {:>10.1} {:>10.1} {:>7.3} {:>8.3}\n",
                r.optimizer, r.images_per_s, r.ms_per_step, r.ratio, r.ratio_to_bare
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On Flex directly: through `backend::dispatch` the test build would compile the
    /// throughput loop for every backend (the binary does that, and `e2e` tests it).
    #[cfg(feature = "flex")]
    #[test]
    fn measures_every_optimizer_on_flex() {
        let task = ThroughputTask {
            model: ModelKind::MicroResNet,
            batch_size: 4,
            image_size: 16,
            classes: 10,
            warmup: 1,
            steps: 1,
            rounds: 1,
            optimizers: vec![
                OptimizerSpec::parse("sgd").unwrap(),
                OptimizerSpec::parse("lookahead(sgd, k=2)").unwrap(),
            ],
            precision: Precision::F32,
        };
        let info = BackendInfo {
            backend: "flex".into(),
            device: "Cpu".into(),
            cpu_simd: None,
        };
        let device = burn::backend::flex::FlexDevice;
        let report = task
            .run::<burn::backend::Autodiff<burn::backend::Flex>>(vec![device], info)
            .unwrap();
        assert_eq!(report.rows.len(), 2);
        assert_eq!(report.rows[0].ratio, 1.0);
        assert!(
            report
                .rows
                .iter()
                .all(|r| r.images_per_s > 0.0 && r.images_per_s.is_finite())
        );
        assert!(report.table().contains("lookahead(sgd,k=2"));
        // The bare Burn SGD is timed too, and every row is compared with it.
        assert!(
            report.bare.optimizer.starts_with("bare sgd"),
            "{}",
            report.table()
        );
        assert!(report.bare.images_per_s > 0.0);
        let ratio = report.rows[0].images_per_s / report.bare.images_per_s;
        assert_eq!(report.rows[0].ratio_to_bare, ratio);
    }
}
