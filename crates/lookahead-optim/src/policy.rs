//! What Lookahead does with the inner optimizer's state at each sync, as a type.
//!
//! [`SyncPolicy`] is implemented by the four policies as unit types ([`Keep`], [`Reset`],
//! [`Pullback`], [`ZeroMoments`]) and by the run-time choice [`InnerStatePolicy`]. `Keep` and
//! `Reset` never look inside the inner state, so they work over **any** Burn
//! [`SimpleOptimizer`] (AdaGrad, a user's own); `Pullback`, `ZeroMoments` and the run-time
//! enum (which may be either) need the inner optimizer's first moment, [`FirstMoment`], and
//! a Lookahead over an optimizer without it does not compile:
//!
//! ```compile_fail
//! use burn::backend::{Autodiff, NdArray};
//! use burn::nn::Linear;
//! use burn::optim::AdaGradConfig;
//! use lookahead_optim::{LookaheadConfig, Pullback};
//!
//! type B = Autodiff<NdArray>;
//! // AdaGrad has no first moment to pull back: a compile error, not a run-time one.
//! let _ = LookaheadConfig::new().init_with::<B, Linear<B>, _, _>(AdaGradConfig::new().build(), Pullback);
//! ```

use burn::config::Config;
use burn::optim::SimpleOptimizer;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::pullback::pull_back;
use crate::{ConfigError, FirstMoment};

/// The inner state and Pullback's cache of one parameter, at a sync.
pub struct AtSync<B: Backend, S, const D: usize> {
    /// The inner optimizer's state (`None` before its first step and right after a reset).
    pub inner: Option<S>,
    /// Pullback's copy of the first moment at the previous sync (`None` = zero).
    pub cache: Option<Tensor<B, D>>,
}

/// A policy for the inner optimizer `O`'s state at each sync (after φ ← φ + α(θ − φ); `slow` is
/// the new φ, whose shape, dtype and device the inner state's buffers share).
pub trait SyncPolicy<B: Backend, O: SimpleOptimizer<B>>: Clone + Send + Sync + 'static {
    /// The state after the sync.
    fn sync<const D: usize>(
        &self,
        state: AtSync<B, O::State<D>, D>,
        alpha: f64,
        slow: &Tensor<B, D>,
    ) -> AtSync<B, O::State<D>, D>;

    /// The policy as the run-time enum (for display and configs).
    fn policy(&self) -> InnerStatePolicy;

    /// Checks, when the Lookahead is built, that `inner` allows the policy (Pullback and
    /// zero-moments: a first moment, see [`FirstMoment::check_first_moment`]); no step is
    /// taken.
    fn check(&self, inner: &O) -> Result<(), ConfigError> {
        let _ = inner;
        Ok(())
    }
}

/// The inner state is left as it is (the paper's default, and optax's). Any inner optimizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Keep;

/// The inner state is discarded: the inner optimizer restarts as on its very first step,
/// Adam's bias correction included (optax's `reset_state`). Any inner optimizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reset;

/// First moments interpolated like the weights ([`InnerStatePolicy::Pullback`]); needs
/// [`FirstMoment`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pullback;

/// Moments zeroed, step counts kept ([`InnerStatePolicy::ZeroMoments`]); needs
/// [`FirstMoment`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ZeroMoments;

impl<B: Backend, O: SimpleOptimizer<B>> SyncPolicy<B, O> for Keep {
    fn sync<const D: usize>(
        &self,
        state: AtSync<B, O::State<D>, D>,
        _alpha: f64,
        _slow: &Tensor<B, D>,
    ) -> AtSync<B, O::State<D>, D> {
        state
    }

    fn policy(&self) -> InnerStatePolicy {
        InnerStatePolicy::Keep
    }
}

impl<B: Backend, O: SimpleOptimizer<B>> SyncPolicy<B, O> for Reset {
    fn sync<const D: usize>(
        &self,
        _state: AtSync<B, O::State<D>, D>,
        _alpha: f64,
        _slow: &Tensor<B, D>,
    ) -> AtSync<B, O::State<D>, D> {
        AtSync {
            inner: None,
            cache: None,
        }
    }

    fn policy(&self) -> InnerStatePolicy {
        InnerStatePolicy::Reset
    }
}

impl<B: Backend, O: FirstMoment<B>> SyncPolicy<B, O> for Pullback {
    /// `m ← c + α(m − c)`, `c ← m` (see [`InnerStatePolicy::Pullback`]).
    fn sync<const D: usize>(
        &self,
        state: AtSync<B, O::State<D>, D>,
        alpha: f64,
        slow: &Tensor<B, D>,
    ) -> AtSync<B, O::State<D>, D> {
        match state.inner {
            Some(inner) => {
                let (inner, cache) =
                    pull_back::<B, O, D>(inner, state.cache, alpha, &slow.device());
                AtSync {
                    inner: Some(inner),
                    cache,
                }
            }
            None => state,
        }
    }

    fn policy(&self) -> InnerStatePolicy {
        InnerStatePolicy::Pullback
    }

    fn check(&self, inner: &O) -> Result<(), ConfigError> {
        inner.check_first_moment()
    }
}

impl<B: Backend, O: FirstMoment<B>> SyncPolicy<B, O> for ZeroMoments {
    fn sync<const D: usize>(
        &self,
        state: AtSync<B, O::State<D>, D>,
        _alpha: f64,
        slow: &Tensor<B, D>,
    ) -> AtSync<B, O::State<D>, D> {
        AtSync {
            inner: state.inner.map(|inner| O::zero_moments(inner, slow)),
            cache: state.cache,
        }
    }

    fn policy(&self) -> InnerStatePolicy {
        InnerStatePolicy::ZeroMoments
    }

    fn check(&self, inner: &O) -> Result<(), ConfigError> {
        inner.check_first_moment()
    }
}

/// The run-time choice: whichever policy the value names (a config read from a file).
impl<B: Backend, O: FirstMoment<B>> SyncPolicy<B, O> for InnerStatePolicy {
    fn sync<const D: usize>(
        &self,
        state: AtSync<B, O::State<D>, D>,
        alpha: f64,
        slow: &Tensor<B, D>,
    ) -> AtSync<B, O::State<D>, D> {
        match self {
            InnerStatePolicy::Keep => SyncPolicy::<B, O>::sync(&Keep, state, alpha, slow),
            InnerStatePolicy::Reset => SyncPolicy::<B, O>::sync(&Reset, state, alpha, slow),
            InnerStatePolicy::Pullback => SyncPolicy::<B, O>::sync(&Pullback, state, alpha, slow),
            InnerStatePolicy::ZeroMoments => {
                SyncPolicy::<B, O>::sync(&ZeroMoments, state, alpha, slow)
            }
        }
    }

    fn policy(&self) -> InnerStatePolicy {
        *self
    }

    fn check(&self, inner: &O) -> Result<(), ConfigError> {
        match self {
            InnerStatePolicy::Pullback | InnerStatePolicy::ZeroMoments => {
                inner.check_first_moment()
            }
            InnerStatePolicy::Keep | InnerStatePolicy::Reset => Ok(()),
        }
    }
}

macro_rules! into_enum {
    ($($policy:ident),*) => {$(
        impl From<$policy> for InnerStatePolicy {
            fn from(_: $policy) -> Self {
                InnerStatePolicy::$policy
            }
        }
    )*};
}
into_enum!(Keep, Reset, Pullback, ZeroMoments);

/// What happens to the inner optimizer's state (momentum, Adam moments, step count) when the
/// fast weights are pulled back to the slow weights.
#[derive(Config, Debug, PartialEq, Eq, Copy)]
pub enum InnerStatePolicy {
    /// The inner state is left as it is (the paper's default, and optax's).
    Keep,
    /// The inner state is discarded: the inner optimizer restarts as on its very first step,
    /// Adam's bias correction included (optax's `reset_state`).
    Reset,
    /// Every first-moment buffer `m` (SGD velocity, Adam/AdamW/RAdam `moment_1`, RMSProp
    /// momentum) is interpolated like the weights against its copy `c` from the previous sync:
    /// `m ← c + α(m − c)`, then `c ← m` (a fresh tensor); `c` starts at zero, the state before
    /// the first step. Second moments and step counts are kept. Refused when the Lookahead is
    /// built if the inner optimizer has no such buffer (see [`FirstMoment`]).
    Pullback,
    /// Every moment buffer is zeroed but the step counts are kept (the seed study's "reset":
    /// PyTorch's `momentum_buffer.fill_(0)`, and `exp_avg`/`exp_avg_sq` zeroed while
    /// `state['step']` runs on). Unlike [`Reset`](InnerStatePolicy::Reset), Adam's bias
    /// correction is not restarted: long after the start `1 − β^t ≈ 1`, so the first step after
    /// a sync is `lr·(1 − β1)·g / √((1 − β2)·g²) ≈ 3.16·lr·sign(g)` for β = (0.9, 0.999), where
    /// `Reset` gives `lr·sign(g)`. For SGD (no dampening) it equals `Reset`. Refused, like
    /// `Pullback`, for an inner optimizer without a first moment (see [`FirstMoment`]).
    ZeroMoments,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LookaheadConfig;
    use crate::test_util::{TB, run_quadratic, sgd_momentum};
    use burn::optim::AdaGradConfig;

    const X0: [f32; 3] = [1.0, -2.0, 0.5];
    const A: [f32; 3] = [1.0, 0.5, 2.0];

    /// Each typed policy steps exactly as the run-time enum naming it.
    #[test]
    fn typed_policies_step_as_the_run_time_enum() {
        let config = LookaheadConfig::new().with_k(3).with_alpha(0.5);
        let run_enum = |p: InnerStatePolicy| {
            let optim = config
                .build_with::<TB, _, _>(sgd_momentum(false), p)
                .unwrap();
            run_quadratic(&optim, &X0, &A, 0.1, 10).0
        };
        macro_rules! run_typed {
            ($p:expr) => {{
                let optim = config
                    .build_with::<TB, _, _>(sgd_momentum(false), $p)
                    .unwrap();
                run_quadratic(&optim, &X0, &A, 0.1, 10).0
            }};
        }
        assert_eq!(run_typed!(Keep), run_enum(InnerStatePolicy::Keep));
        assert_eq!(run_typed!(Reset), run_enum(InnerStatePolicy::Reset));
        assert_eq!(run_typed!(Pullback), run_enum(InnerStatePolicy::Pullback));
        assert_eq!(
            run_typed!(ZeroMoments),
            run_enum(InnerStatePolicy::ZeroMoments)
        );
        assert_ne!(
            run_enum(InnerStatePolicy::Keep),
            run_enum(InnerStatePolicy::Reset)
        );
    }

    /// Keep and Reset over AdaGrad, which has no first moment: no wrapper, and Reset restarts
    /// AdaGrad's accumulator at every sync (so the two differ after the first sync).
    #[test]
    fn keep_and_reset_work_over_any_optimizer() {
        let config = LookaheadConfig::new().with_k(2).with_alpha(0.5);
        let keep = config
            .build_with::<TB, _, _>(AdaGradConfig::new().build(), Keep)
            .unwrap();
        let reset = config
            .build_with::<TB, _, _>(AdaGradConfig::new().build(), Reset)
            .unwrap();
        let (keep, _) = run_quadratic(&keep, &X0, &A, 0.1, 6);
        let (reset, _) = run_quadratic(&reset, &X0, &A, 0.1, 6);
        assert_eq!(keep[..2], reset[..2]);
        assert_ne!(keep[2..], reset[2..]);
        assert_eq!(InnerStatePolicy::from(Reset), InnerStatePolicy::Reset);
    }
}
