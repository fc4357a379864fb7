//! What the schedules share: fastai's cosine pieces, the position of an iteration, the checks,
//! and the `LrScheduler` impl of a schedule with an iteration counter.

/// Implements `LrScheduler` for a schedule with an `iter` counter and an `lr_at(iter)` method:
/// each step returns the current iteration's lr and advances; the record is the counter.
macro_rules! iteration_scheduler {
    ($schedule:ty) => {
        impl burn::optim::lr_scheduler::LrScheduler for $schedule {
            /// The number of iterations already stepped.
            type Record<B: burn::tensor::backend::Backend> = usize;

            fn step(&mut self) -> LearningRate {
                let lr = self.lr_at(self.iter);
                self.iter += 1;
                lr
            }

            fn to_record<B: burn::tensor::backend::Backend>(&self) -> Self::Record<B> {
                self.iter
            }

            fn load_record<B: burn::tensor::backend::Backend>(
                mut self,
                record: Self::Record<B>,
            ) -> Self {
                self.iter = record;
                self
            }
        }
    };
}
pub(super) use iteration_scheduler;

use crate::ConfigError;

/// fastai's `SchedCos(start, end)` at `pos ∈ [0, 1]`:
/// `start + (1 + cos(π(1 − pos)))·(end − start)/2`, i.e. half a cosine from `start` to `end`.
pub(super) fn sched_cos(start: f64, end: f64, pos: f64) -> f64 {
    start + (1.0 + (std::f64::consts::PI * (1.0 - pos)).cos()) * (end - start) / 2.0
}

/// Position of iteration `iter` in a schedule of `num_iters` iterations, as fastai computes it
/// (`iter / total`, so the first step is at 0 and the last at (n−1)/n); clamped to 1 past the end.
pub(super) fn position(iter: usize, num_iters: usize) -> f64 {
    (iter as f64 / num_iters as f64).min(1.0)
}

/// Two schedule pieces joined at `pct_start` (fastai's `combine_scheds` with two pieces):
/// `first` gets the position within [0, pct_start), `second` within [pct_start, 1].
pub(super) fn two_phases(
    pos: f64,
    pct_start: f64,
    first: impl Fn(f64) -> f64,
    second: impl Fn(f64) -> f64,
) -> f64 {
    if pos < pct_start {
        first(pos / pct_start)
    } else {
        second((pos - pct_start) / (1.0 - pct_start))
    }
}

/// Validation shared by both schedules.
pub(super) fn check_common(
    lr: (&'static str, f64),
    num_iters: usize,
    pct_start: f64,
    divisors: &[(&'static str, f64)],
) -> Result<(), ConfigError> {
    if !(lr.1 > 0.0 && lr.1.is_finite()) {
        return Err(ConfigError::out_of_range(
            lr.0,
            lr.1,
            "must be finite and > 0",
        ));
    }
    if num_iters == 0 {
        return Err(ConfigError::out_of_range(
            "num_iters",
            num_iters,
            "must be at least 1",
        ));
    }
    if !(0.0..1.0).contains(&pct_start) {
        return Err(ConfigError::out_of_range(
            "pct_start",
            pct_start,
            "must be in [0, 1)",
        ));
    }
    for &(field, value) in divisors {
        if !(value > 0.0 && value.is_finite()) {
            return Err(ConfigError::out_of_range(
                field,
                value,
                "must be finite and > 0",
            ));
        }
    }
    Ok(())
}
