//! fastai's one-cycle schedule (`fit_one_cycle`): the learning rate, and the momentum that
//! fastai cycles against it, in fastai v2's form (the default) or fastai v1's (1.0.59).

use burn::config::Config;
use burn::optim::LearningRate;

use super::shape::{check_common, position, sched_cos, two_phases};
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
    /// How the iterations split into the two phases. Default fastai v2's.
    #[config(default = "PhaseSplit::Continuous")]
    pub split: PhaseSplit,
    /// The momentum (SGD's, RMSProp's, Adam's β1) cycled against the lr: `(high, low)`, from
    /// `high` down to `low` during warm-up and back up during annealing (fastai's `moms`,
    /// (0.95, 0.85)). Read by [`OneCycle::momentum_at`].
    #[config(default = "(0.95, 0.85)")]
    pub moms: (f64, f64),
}

/// Where one cycle's warm-up ends and its annealing begins.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum PhaseSplit {
    /// fastai v2: the continuous position `p = iter/num_iters`; warm-up while `p < pct_start`,
    /// each phase a half cosine over its share of `p`.
    Continuous,
    /// fastai v1 (1.0.59 `OneCycleScheduler`): a warm-up of `a1 = ⌊num_iters·pct_start⌋`
    /// iterations and an annealing of `a2 = num_iters − a1`. fastai sets the values of
    /// iteration `i + 1` at the end of batch `i` from a per-phase counter, so iteration `i` gets
    /// `cos(start → peak, i/a1)` for `i ≤ a1` and `cos(peak → end, (i − a1)/a2)` after.
    FastaiV1,
}

impl OneCycleConfig {
    /// fastai v1's `fit_one_cycle(cyc_len, max_lr)` (1.0.59): `pct_start` 0.3, `div_factor` 25,
    /// `final_div` = `div_factor`·1e4 = 2.5e5, integer phase split, `moms` (0.95, 0.85).
    ///
    /// ```
    /// use lookahead_optim::OneCycleConfig;
    /// let sched = OneCycleConfig::fastai_v1(0.1, 100).init().unwrap();
    /// assert!((sched.lr_at(30) - 0.1).abs() < 1e-12); // the peak, at ⌊100·0.3⌋
    /// assert!((sched.momentum_at(30) - 0.85).abs() < 1e-12);
    /// ```
    pub fn fastai_v1(lr_max: f64, num_iters: usize) -> Self {
        Self::new(lr_max, num_iters)
            .with_pct_start(0.3)
            .with_div(25.0)
            .with_div_final(25e4)
            .with_split(PhaseSplit::FastaiV1)
    }
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
        let (high, low) = self.moms;
        for (field, value) in [("moms.0", high), ("moms.1", low)] {
            if !(0.0..1.0).contains(&value) {
                return Err(ConfigError::out_of_range(field, value, "must be in [0, 1)"));
            }
        }
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
        self.cycle(iter, c.lr_max / c.div, c.lr_max, c.lr_max / c.div_final)
    }

    /// The momentum of iteration `iter`: `moms.0` → `moms.1` during warm-up, back to `moms.0`
    /// during annealing, on the same phases and cosines as the lr (fastai's `moms`).
    pub fn momentum_at(&self, iter: usize) -> f64 {
        let (high, low) = self.config.moms;
        self.cycle(iter, high, low, high)
    }

    /// Half a cosine from `start` to `peak` during warm-up, from `peak` to `end` after.
    fn cycle(&self, iter: usize, start: f64, peak: f64, end: f64) -> f64 {
        let c = &self.config;
        match c.split {
            PhaseSplit::Continuous => two_phases(
                position(iter, c.num_iters),
                c.pct_start,
                |p| sched_cos(start, peak, p),
                |p| sched_cos(peak, end, p),
            ),
            PhaseSplit::FastaiV1 => {
                // fastai v1's two `Scheduler(n_iter = max(1, a))`s with `annealing_cos`.
                let a1 = (c.num_iters as f64 * c.pct_start) as usize;
                let n1 = a1.max(1);
                let n2 = (c.num_iters - a1).max(1);
                if iter <= n1 {
                    annealing_cos(start, peak, iter as f64 / n1 as f64)
                } else {
                    let done = (iter - n1).min(n2);
                    annealing_cos(peak, end, done as f64 / n2 as f64)
                }
            }
        }
    }
}

super::shape::iteration_scheduler!(OneCycle);

/// fastai v1's `annealing_cos(start, end, pct)`, written as fastai computes it (so that f64
/// results match its to the last bit): `end + (start − end)/2 · (cos(π·pct) + 1)`.
fn annealing_cos(start: f64, end: f64, pct: f64) -> f64 {
    let cos_out = (std::f64::consts::PI * pct).cos() + 1.0;
    end + (start - end) / 2.0 * cos_out
}
