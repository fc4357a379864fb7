//! Step decay: the learning rate divided by a factor at given iterations (the seed study's
//! `LRDecayCallback` on fastai's plain `fit`, PyTorch's `MultiStepLR` with γ = 1/factor).

use burn::config::Config;
use burn::optim::LearningRate;

use crate::ConfigError;

/// Configuration of [`StepDecay`].
#[derive(Config, Debug)]
pub struct StepDecayConfig {
    /// The learning rate before the first milestone.
    pub lr: f64,
    /// The iterations (0-based optimizer steps) from which the lr is divided by `factor` once
    /// more, strictly ascending.
    pub milestones: Vec<usize>,
    /// The divisor applied at each milestone. Default 5 (the seed study's).
    #[config(default = 5.0)]
    pub factor: f64,
}

impl StepDecayConfig {
    /// The seed study's `LRDecayCallback(decay_on_epochs, decay_factor)` on fastai v1: its
    /// `on_epoch_end(epoch)` gets the 0-based index of the epoch that just ended, so decaying
    /// "on epoch 60" changes the lr from the first iteration of epoch index 61 on.
    ///
    /// ```
    /// use lookahead_optim::StepDecayConfig;
    /// // ÷5 after epoch indices 60, 120, 160, 390 iterations per epoch.
    /// let sched = StepDecayConfig::on_epoch_ends(0.1, &[60, 120, 160], 390).init().unwrap();
    /// assert_eq!(sched.lr_at(61 * 390 - 1), 0.1);
    /// assert_eq!(sched.lr_at(61 * 390), 0.1 / 5.0);
    /// ```
    pub fn on_epoch_ends(lr: f64, epochs: &[usize], iters_per_epoch: usize) -> Self {
        let milestones = epochs.iter().map(|e| (e + 1) * iters_per_epoch).collect();
        Self::new(lr, milestones)
    }

    /// The scheduler, after checking `lr > 0`, `factor > 0` and ascending milestones.
    pub fn init(&self) -> Result<StepDecay, ConfigError> {
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(ConfigError::out_of_range(
                "lr",
                self.lr,
                "must be finite and > 0",
            ));
        }
        if !(self.factor > 0.0 && self.factor.is_finite()) {
            return Err(ConfigError::out_of_range(
                "factor",
                self.factor,
                "must be finite and > 0",
            ));
        }
        if self.milestones.windows(2).any(|w| w[0] >= w[1]) {
            return Err(ConfigError::out_of_range(
                "milestones",
                format!("{:?}", self.milestones),
                "must be strictly ascending",
            ));
        }
        Ok(StepDecay {
            config: self.clone(),
            iter: 0,
        })
    }
}

/// `lr`, divided by `factor` at each milestone reached: `lr_at(i) = lr / factor / … / factor`,
/// once per milestone `m ≤ i`, divided in that order as fastai's callback did (so the values
/// are fastai's to the last bit, not `lr · factor^−n`).
#[derive(Clone, Debug)]
pub struct StepDecay {
    config: StepDecayConfig,
    iter: usize,
}

impl StepDecay {
    /// The learning rate of iteration `iter` (0-based), without changing the state.
    pub fn lr_at(&self, iter: usize) -> LearningRate {
        let c = &self.config;
        let reached = c.milestones.iter().filter(|&&m| m <= iter).count();
        (0..reached).fold(c.lr, |lr, _| lr / c.factor)
    }
}

super::shape::iteration_scheduler!(StepDecay);

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::optim::lr_scheduler::LrScheduler;

    /// Values of the seed's callback evaluated in Python: `lr = 0.1; lr = lr / 5.0` per decay.
    #[test]
    fn divides_at_each_milestone_as_fastai_did() {
        let sched = StepDecayConfig::on_epoch_ends(0.1, &[60, 120, 160], 10)
            .init()
            .unwrap();
        for (iter, lr) in [
            (0, 0.1),
            (609, 0.1),
            (610, 0.02),
            (1209, 0.02),
            (1210, 0.004),
            (1610, 0.0008),
            (5000, 0.0008),
        ] {
            assert_eq!(sched.lr_at(iter), lr, "iter {iter}");
        }
    }

    #[test]
    fn resumes_from_its_record_and_refuses_bad_configs() {
        let mut sched = StepDecayConfig::new(0.1, vec![3, 6]).init().unwrap();
        let first: Vec<f64> = (0..4).map(|_| sched.step()).collect();
        assert_eq!(first, vec![0.1, 0.1, 0.1, 0.1 / 5.0]);
        let record = LrScheduler::to_record::<NdArray>(&sched);
        let mut resumed = StepDecayConfig::new(0.1, vec![3, 6])
            .init()
            .unwrap()
            .load_record::<NdArray>(record);
        for _ in 0..5 {
            assert_eq!(resumed.step(), sched.step());
        }
        let err = StepDecayConfig::new(0.1, vec![6, 3]).init().unwrap_err();
        assert!(err.to_string().contains("`milestones`"), "{err}");
        let err = StepDecayConfig::new(0.1, vec![3])
            .with_factor(0.0)
            .init()
            .unwrap_err();
        assert!(err.to_string().contains("`factor`"), "{err}");
    }
}
