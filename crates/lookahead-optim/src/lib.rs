//! Lookahead (["Lookahead Optimizer: k steps forward, 1 step back"](https://arxiv.org/abs/1907.08610),
//! Zhang, Lucas, Hinton & Ba, NeurIPS 2019) for every [Burn](https://burn.dev) optimizer, plus
//! RAdam/Ranger and the OneCycle and FlatCos learning-rate schedules used by fastai.
//!
//! The algorithm: slow weights φ start at the initial weights; an inner optimizer takes k steps
//! θ₁ … θ_k from θ₀ = φ; then φ ← φ + α(θ_k − φ) and the inner optimizer continues from θ = φ
//! (paper defaults k = 5, α = 0.5).
//!
//! * [`Lookahead`] wraps a per-tensor [`SimpleOptimizer`](burn::optim::SimpleOptimizer) and
//!   becomes a Burn `Optimizer` through [`LookaheadConfig::init`]; its whole state (slow weights,
//!   counters, inner state, pullback caches) is a Burn record, so runs resume bit-exactly.
//! * [`InnerStatePolicy`] makes the inner-state choice at each sync explicit: keep, reset, pull
//!   back or zero the momentum buffers. [`Keep`] and [`Reset`] work over any Burn optimizer
//!   ([`LookaheadConfig::init_with`]); pulling back or zeroing needs the typed [`FirstMoment`]
//!   access to the inner optimizer's buffers, checked at compile time ([`SyncPolicy`]).
//! * [`slow_weights`] gives a copy of the model carrying the slow weights, for evaluation;
//!   [`SlowValidation`] validates on them inside burn-train's `Learner`.
//! * [`RAdam`] and [`RangerConfig`] (Lookahead(RAdam) with fastai's defaults).
//! * [`OneCycle`] and [`FlatCos`], fastai's schedules, as Burn `LrScheduler`s.
//!
//! ```
//! use burn::backend::{Autodiff, NdArray};
//! use burn::module::Module;
//! use burn::nn::{Linear, LinearConfig};
//! use burn::optim::momentum::MomentumConfig;
//! use burn::optim::{GradientsParams, Optimizer, SgdConfig};
//! use burn::tensor::{Distribution, Tensor};
//! use lookahead_optim::{LookaheadConfig, slow_weights};
//!
//! type B = Autodiff<NdArray>;
//! let device = Default::default();
//! let mut model: Linear<B> = LinearConfig::new(4, 1).init(&device);
//! let sgd = SgdConfig::new().with_momentum(Some(MomentumConfig::new())).build();
//! let mut optim = LookaheadConfig::new().init::<B, Linear<B>, _>(sgd).unwrap();
//! for _ in 0..10 {
//!     let x = Tensor::<B, 2>::random([8, 4], Distribution::Default, &device);
//!     let loss = model.forward(x).powi_scalar(2).mean();
//!     let grads = GradientsParams::from_grads(loss.backward(), &model);
//!     model = optim.step(0.05, model, grads);
//! }
//! let eval_model = slow_weights(&optim, &model); // validate on the slow weights
//! # let _ = eval_model;
//! ```

mod error;
mod first_moment;
#[cfg(feature = "flex")]
mod flex_sync;
mod lookahead;
mod policy;
mod pullback;
mod radam;
mod ranger;
mod schedule;
mod slow_validation;
mod slow_weights;
#[cfg(test)]
mod test_util;

pub use error::ConfigError;
pub use first_moment::{FirstMoment, NoFirstMoment};
pub use lookahead::{Lookahead, LookaheadConfig, LookaheadState, LookaheadStateItem, SlowStart};
pub use policy::{AtSync, InnerStatePolicy, Keep, Pullback, Reset, SyncPolicy, ZeroMoments};
pub use radam::{RAdam, RAdamConfig, RAdamState};
pub use ranger::{RangerConfig, ranger};
pub use schedule::{
    AnySchedule, Curve, FlatCos, FlatCosConfig, MomentumHook, OneCycle, OneCycleConfig, PhaseSplit,
    StepDecay, StepDecayConfig,
};
pub use slow_validation::{SlowSlot, SlowValidation};
pub use slow_weights::slow_weights;
