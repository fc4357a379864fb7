//! Training throughput on generated data: the same training steps (forward, cross-entropy,
//! backward, optimizer step) for several optimizer specs, side by side in one run, on any
//! backend. Used by `experiments throughput`, `cargo xtask bench` and the GPU check.

use std::time::Instant;

use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Int, Tensor};
use serde::{Deserialize, Serialize};

use crate::backend::{BackendInfo, BackendTask};
use crate::config::{ModelKind, Precision};
use crate::model::Classifier;
use crate::spec::OptimizerSpec;

/// What to measure.
#[derive(Debug, Clone)]
pub struct ThroughputTask {
    /// Model name (see `ModelKind`).
    pub model: String,
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
        let kind = ModelKind::parse(&self.model)?;
        let shape = [self.batch_size, 3, self.image_size, self.image_size];
        B::seed(&device, 0);
        let images = Tensor::<B, 4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
        let targets = Tensor::<B, 1, Int>::random(
            [self.batch_size],
            Distribution::Uniform(0.0, self.classes as f64),
            &device,
        );
        // One model and optimizer per spec, all alive at once so that rounds can alternate.
        let mut states = Vec::new();
        for spec in &self.optimizers {
            let net = kind.build_seeded::<B>(self.classes, 3, 0, &device)?;
            let model = Classifier::new(net, 0.0, self.precision, 1.0);
            states.push((Some(model), spec.build::<B, Classifier<B>>()?, Vec::new()));
        }
        let step = |model: Classifier<B>,
                    optim: &mut crate::spec::StudyOptimizer<Classifier<B>, B>| {
            let logits = model.logits(images.clone());
            let loss = data::mixed_cross_entropy(logits, targets.clone(), None, 0.0);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            optim.step(0.01, model, grads)
        };
        for round in 0..self.rounds.max(1) {
            for (model, optim, times) in &mut states {
                let mut m = model.take().ok_or_else(|| anyhow::anyhow!("model lost"))?;
                if round == 0 {
                    for _ in 0..self.warmup {
                        m = step(m, optim);
                    }
                }
                B::sync(&device)?;
                let start = Instant::now();
                for _ in 0..self.steps.max(1) {
                    m = step(m, optim);
                }
                B::sync(&device)?;
                times.push(start.elapsed().as_secs_f64() / self.steps.max(1) as f64);
                *model = Some(m);
            }
        }
        let mut rows: Vec<Throughput> = self
            .optimizers
            .iter()
            .zip(states)
            .map(|(spec, (_, _, times))| {
                let s = median(times);
                Throughput {
                    optimizer: spec.to_string(),
                    images_per_s: self.batch_size as f64 / s,
                    ms_per_step: 1000.0 * s,
                    ratio: 1.0,
                }
            })
            .collect();
        let reference = rows.first().map_or(1.0, |r| r.images_per_s);
        for row in &mut rows {
            row.ratio = row.images_per_s / reference;
        }
        Ok(ThroughputReport {
            backend: info,
            model: self.model,
            batch_size: self.batch_size,
            precision: self.precision,
            rows,
        })
    }
}

impl ThroughputReport {
    /// The report as an aligned text table.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{} training steps, batch {}, {:?}, {}\n{:<58} {:>10} {:>10} {:>7}\n",
            self.model,
            self.batch_size,
            self.precision,
            self.backend,
            "optimizer",
            "images/s",
            "ms/step",
            "ratio"
        );
        for r in &self.rows {
            out.push_str(&format!(
                "{:<58} {:>10.1} {:>10.1} {:>7.3}\n",
                r.optimizer, r.images_per_s, r.ms_per_step, r.ratio
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_every_optimizer_on_the_default_backend() {
        let task = ThroughputTask {
            model: "micro-resnet".into(),
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
        let backend = crate::backend::default_backend();
        let report = crate::backend::dispatch(backend, &[0], task)
            .unwrap()
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
    }
}
