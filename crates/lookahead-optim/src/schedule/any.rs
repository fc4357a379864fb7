//! [`AnySchedule`]: one of this crate's schedules (or a constant rate), chosen at run time, as
//! one Burn `LrScheduler` type, with an optional hook that receives the momentum of each step.

use std::sync::Arc;

use burn::optim::LearningRate;
use burn::optim::lr_scheduler::LrScheduler;
use burn::tensor::backend::Backend;

use super::flat_cos::FlatCos;
use super::one_cycle::OneCycle;
use super::step_decay::StepDecay;

/// The learning-rate curve of an [`AnySchedule`].
#[derive(Clone, Debug)]
pub enum Curve {
    /// fastai's one cycle (v2 or v1), which may also cycle the momentum.
    OneCycle(OneCycle),
    /// fastai's flat-cos.
    FlatCos(FlatCos),
    /// Step decay.
    StepDecay(StepDecay),
    /// A constant rate.
    Constant(f64),
}

impl Curve {
    /// The learning rate of iteration `iter` (0-based).
    pub fn lr_at(&self, iter: usize) -> LearningRate {
        match self {
            Curve::OneCycle(s) => s.lr_at(iter),
            Curve::FlatCos(s) => s.lr_at(iter),
            Curve::StepDecay(s) => s.lr_at(iter),
            Curve::Constant(lr) => *lr,
        }
    }
}

/// Receives the momentum of each step (fastai's `moms`, cycled by a one-cycle schedule), before
/// the step, for an optimizer whose momentum it drives.
pub type MomentumHook = Arc<dyn Fn(f64) + Send + Sync>;

/// A schedule chosen at run time (from a config), stepping like the crate's typed schedules:
/// each step returns the current iteration's lr and advances; the record is the iteration
/// count, so a resumed schedule continues exactly. With a [`MomentumHook`] and a one-cycle
/// curve, each step first hands the hook the iteration's momentum.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use burn::optim::lr_scheduler::LrScheduler;
/// use lookahead_optim::{AnySchedule, Curve, OneCycleConfig};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = seen.clone();
/// let cycle = OneCycleConfig::new(0.1, 100).init().unwrap();
/// let mut schedule = AnySchedule::new(Curve::OneCycle(cycle))
///     .with_momentum_hook(Arc::new(move |m| sink.lock().unwrap().push(m)));
/// let lr = schedule.step();
/// assert!((lr - 0.1 / 25.0).abs() < 1e-12);
/// assert_eq!(*seen.lock().unwrap(), vec![0.95]);
/// ```
#[derive(Clone)]
pub struct AnySchedule {
    curve: Curve,
    momentum: Option<MomentumHook>,
    iter: usize,
}

impl std::fmt::Debug for AnySchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnySchedule")
            .field("curve", &self.curve)
            .field("momentum_hook", &self.momentum.is_some())
            .field("iter", &self.iter)
            .finish()
    }
}

impl AnySchedule {
    /// A schedule of `curve`, at its first iteration, without a momentum hook.
    pub fn new(curve: Curve) -> Self {
        Self {
            curve,
            momentum: None,
            iter: 0,
        }
    }

    /// Hands `hook` the momentum of each step (a one-cycle curve only; others have none).
    pub fn with_momentum_hook(mut self, hook: MomentumHook) -> Self {
        self.momentum = Some(hook);
        self
    }

    /// The curve.
    pub fn curve(&self) -> &Curve {
        &self.curve
    }
}

impl LrScheduler for AnySchedule {
    /// The number of iterations already stepped.
    type Record<B: Backend> = usize;

    fn step(&mut self) -> LearningRate {
        if let (Curve::OneCycle(cycle), Some(hook)) = (&self.curve, &self.momentum) {
            hook(cycle.momentum_at(self.iter));
        }
        let lr = self.curve.lr_at(self.iter);
        self.iter += 1;
        lr
    }

    fn to_record<B: Backend>(&self) -> usize {
        self.iter
    }

    fn load_record<B: Backend>(mut self, record: usize) -> Self {
        self.iter = record;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OneCycleConfig, StepDecayConfig};
    use burn::backend::Flex;
    use std::sync::Mutex;

    /// fastai v1's cycle: 0.95 at the start, 0.85 at the end of the ⌊0.3·n⌋-step warm-up, back
    /// to 0.95; a schedule restored from its record continues with the same lr and momentum.
    #[test]
    fn the_hook_gets_the_cycled_momentum_and_a_restored_schedule_continues() {
        let cycle = || {
            OneCycleConfig::fastai_v1(0.1, 100)
                .with_moms((0.95, 0.85))
                .init()
                .unwrap()
        };
        let seen = Arc::new(Mutex::new(None));
        let sink = seen.clone();
        let mut full = AnySchedule::new(Curve::OneCycle(cycle()))
            .with_momentum_hook(Arc::new(move |m| *sink.lock().unwrap() = Some(m)));
        let values: Vec<(f64, f64)> = (0..100)
            .map(|_| {
                let lr = full.step();
                (lr, seen.lock().unwrap().unwrap())
            })
            .collect();
        assert!((values[0].0 - 0.1 / 25.0).abs() < 1e-15 && values[0].1 == 0.95);
        assert!((values[30].0 - 0.1).abs() < 1e-15 && (values[30].1 - 0.85).abs() < 1e-15);
        assert!((values[99].1 - 0.95).abs() < 1e-3, "{:?}", values[99]);
        let again = Arc::new(Mutex::new(None));
        let sink = again.clone();
        let mut resumed = AnySchedule::new(Curve::OneCycle(cycle()))
            .with_momentum_hook(Arc::new(move |m| *sink.lock().unwrap() = Some(m)))
            .load_record::<Flex>(full.to_record::<Flex>() - 63);
        for expected in &values[37..] {
            assert_eq!((resumed.step(), again.lock().unwrap().unwrap()), *expected);
        }
    }

    /// Without a one-cycle curve the hook is never called.
    #[test]
    fn other_curves_set_no_momentum() {
        let called = Arc::new(Mutex::new(false));
        let sink = called.clone();
        let decay = StepDecayConfig::on_epoch_ends(0.1, &[1], 10)
            .init()
            .unwrap();
        let mut schedule = AnySchedule::new(Curve::StepDecay(decay))
            .with_momentum_hook(Arc::new(move |_| *sink.lock().unwrap() = true));
        let lrs: Vec<f64> = (0..30).map(|_| schedule.step()).collect();
        assert_eq!((lrs[19], lrs[20]), (0.1, 0.1 / 5.0));
        assert!(!*called.lock().unwrap());
        let mut constant = AnySchedule::new(Curve::Constant(0.3));
        assert_eq!((constant.step(), constant.step()), (0.3, 0.3));
    }
}
