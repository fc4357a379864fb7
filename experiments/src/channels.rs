//! The two values that reach a run's optimizer and its validation outside burn-train's
//! interfaces, in one place.
//!
//! * [`ScheduledMomentum`]: Burn's `LrScheduler` yields one number per step and
//!   `SimpleOptimizer::step` receives only that, so fastai's momentum cycling (`moms`) needs a
//!   channel of its own. The run's schedule (`run::schedule`) writes the momentum of each
//!   iteration before the step, computed from the iteration alone (so a resumed run gets the
//!   same values); the inner optimizer ([`crate::optim::Inner`]) reads it in every step, under
//!   Lookahead or not.
//! * [`SlowSlot`] (`lookahead-optim`'s): burn-train validates `learner.model().valid()` and
//!   offers no hook between an epoch's last optimizer step and its validation. So the run's
//!   optimizer ([`crate::optim::RunOptimizer`], through `lookahead-optim`'s `SlowValidation`)
//!   leaves Lookahead's slow weights here after each epoch's last step, and the validation step
//!   of [`crate::model::Classifier`] (which holds the slot as a skipped field) runs itself with
//!   them instead of its own weights.
//!
//! Both are created by the run's setup (`run::setup`) and handed to both sides explicitly.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use lookahead_optim::SlowSlot;

/// The momentum of the coming optimizer steps, shared between a schedule and an optimizer.
///
/// Clones share one value. Until the first [`set`](Self::set) it holds none, and the optimizer
/// uses the momentum it was built with.
///
/// ```
/// use experiments::channels::ScheduledMomentum;
/// let handle = ScheduledMomentum::default();
/// let reader = handle.clone();
/// assert_eq!(reader.get(), None);
/// handle.set(0.95);
/// assert_eq!(reader.get(), Some(0.95));
/// ```
#[derive(Clone, Debug)]
pub struct ScheduledMomentum(Arc<AtomicU64>);

/// The bit pattern that means "no momentum set" (a NaN no schedule produces).
const UNSET: u64 = f64::NAN.to_bits();

impl Default for ScheduledMomentum {
    fn default() -> Self {
        Self(Arc::new(AtomicU64::new(UNSET)))
    }
}

impl ScheduledMomentum {
    /// Sets the momentum (SGD's μ, Adam's β1, RMSProp's momentum) of the coming steps.
    pub fn set(&self, momentum: f64) {
        self.0.store(momentum.to_bits(), Ordering::Release);
    }

    /// The momentum set last, if any.
    pub fn get(&self) -> Option<f64> {
        let value = f64::from_bits(self.0.load(Ordering::Acquire));
        (!value.is_nan()).then_some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_momentum_and_nan_is_unset() {
        let a = ScheduledMomentum::default();
        let b = a.clone();
        assert_eq!(b.get(), None);
        a.set(0.85);
        assert_eq!(b.get(), Some(0.85));
        a.set(0.0);
        assert_eq!(b.get(), Some(0.0));
    }
}
