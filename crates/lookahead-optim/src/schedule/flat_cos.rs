//! fastai's flat-then-cosine learning-rate schedule (`fit_flat_cos`).

use burn::config::Config;
use burn::optim::LearningRate;

use super::shape::{check_common, position, sched_cos, two_phases};
use crate::ConfigError;

/// Configuration of [`FlatCos`], with fastai's `fit_flat_cos` defaults.
#[derive(Config, Debug)]
pub struct FlatCosConfig {
    /// The flat learning rate.
    pub lr: f64,
    /// Total number of iterations (optimizer steps) of the run.
    pub num_iters: usize,
    /// Fraction of the iterations at the flat rate before the cosine decay. Default 0.75.
    #[config(default = 0.75)]
    pub pct_start: f64,
    /// The last lr is `lr / div_final`. Default 1e5.
    #[config(default = 1e5)]
    pub div_final: f64,
}

impl FlatCosConfig {
    /// The scheduler, after checking `lr > 0`, `num_iters ≥ 1`, `0 ≤ pct_start < 1`,
    /// `div_final > 0`.
    pub fn init(&self) -> Result<FlatCos, ConfigError> {
        check_common(
            ("lr", self.lr),
            self.num_iters,
            self.pct_start,
            &[("div_final", self.div_final)],
        )?;
        Ok(FlatCos {
            config: self.clone(),
            iter: 0,
        })
    }
}

/// Flat at `lr` for the first `pct_start` of the iterations, then cosine down to
/// `lr/div_final` (the schedule of the Imagenette leaderboard's Ranger runs).
#[derive(Clone, Debug)]
pub struct FlatCos {
    config: FlatCosConfig,
    iter: usize,
}

impl FlatCos {
    /// The learning rate of iteration `iter` (0-based), without changing the state.
    pub fn lr_at(&self, iter: usize) -> LearningRate {
        let c = &self.config;
        two_phases(
            position(iter, c.num_iters),
            c.pct_start,
            |_| c.lr,
            |p| sched_cos(c.lr, c.lr / c.div_final, p),
        )
    }
}

super::shape::iteration_scheduler!(FlatCos);
