//! fastai's one-cycle learning-rate schedule (`fit_one_cycle`).

use burn::config::Config;
use burn::optim::LearningRate;

use super::{check_common, position, sched_cos, two_phases};
use crate::ConfigError;

/// Configuration of [`OneCycle`], with fastai's `fit_one_cycle` defaults.
///
/// Differences from PyTorch's `OneCycleLR`: PyTorch defaults to `pct_start = 0.3` and
/// `final_div_factor = 1e4` relative to the *initial* lr (final lr = lr_max/2.5e5, where fastai's
/// is lr_max/1e5), puts its phase boundary at the integer step `pct_start·total − 1`, and raises
/// an error when stepped past the end; this schedule uses the continuous position
/// `iter/num_iters` as fastai does and stays at the final lr past the end.
#[derive(Config, Debug)]
pub struct OneCycleConfig {
    /// Peak learning rate.
    pub lr_max: f64,
    /// Total number of iterations (optimizer steps) of the run.
    pub num_iters: usize,
    /// Fraction of the iterations spent warming up. Default 0.25.
    #[config(default = 0.25)]
    pub pct_start: f64,
    /// The first lr is `lr_max / div`. Default 25.
    #[config(default = 25.0)]
    pub div: f64,
    /// The last lr is `lr_max / div_final`. Default 1e5.
    #[config(default = 1e5)]
    pub div_final: f64,
}

impl OneCycleConfig {
    /// The scheduler, after checking `lr_max > 0`, `num_iters ≥ 1`, `0 ≤ pct_start < 1`,
    /// `div, div_final > 0`.
    pub fn init(&self) -> Result<OneCycle, ConfigError> {
        check_common(
            ("lr_max", self.lr_max),
            self.num_iters,
            self.pct_start,
            &[("div", self.div), ("div_final", self.div_final)],
        )?;
        Ok(OneCycle {
            config: self.clone(),
            iter: 0,
        })
    }
}

/// fastai's one cycle: cosine from `lr_max/div` up to `lr_max` over the first `pct_start` of
/// the iterations, then cosine down to `lr_max/div_final`.
///
/// ```
/// use burn::optim::lr_scheduler::LrScheduler;
/// use lookahead_optim::OneCycleConfig;
/// let mut sched = OneCycleConfig::new(0.1, 100).init().unwrap();
/// assert!((sched.step() - 0.1 / 25.0).abs() < 1e-12); // iteration 0
/// assert!((sched.lr_at(25) - 0.1).abs() < 1e-12); // the peak, at pct_start
/// ```
#[derive(Clone, Debug)]
pub struct OneCycle {
    config: OneCycleConfig,
    iter: usize,
}

impl OneCycle {
    /// The learning rate of iteration `iter` (0-based), without changing the state.
    pub fn lr_at(&self, iter: usize) -> LearningRate {
        let c = &self.config;
        two_phases(
            position(iter, c.num_iters),
            c.pct_start,
            |p| sched_cos(c.lr_max / c.div, c.lr_max, p),
            |p| sched_cos(c.lr_max, c.lr_max / c.div_final, p),
        )
    }
}

super::iteration_scheduler!(OneCycle);
