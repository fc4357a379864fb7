//! [`Inner`]: the inner (fast) optimizer of a spec, one concrete per-tensor optimizer type for
//! every inner optimizer of the study, with the two per-step mechanisms of fastai v1 that
//! Burn's optimizers lack: a momentum set by the schedule at every step and "true weight
//! decay" applied with the current learning rate.
//!
//! Each Burn optimizer appears once here, in the `burn_inners!` list (its type and its state
//! type), and once in [`burn_inner`] (how its spec's values build it); its spec word, defaults,
//! momentum parameter and first-moment rule are declared once in `study`'s
//! `INNER_OPTIMIZERS`, and Pullback's access to its first moment is `lookahead-optim`'s
//! `FirstMoment` impl for it.

use std::sync::{Arc, Mutex};

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{
    Adam, AdamConfig, AdamState, AdamW, AdamWConfig, AdamWState, LearningRate, RmsProp,
    RmsPropConfig, RmsPropState, Sgd, SgdConfig, SgdState, SimpleOptimizer,
};
use burn::record::Record;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use lookahead_optim::{ConfigError, FirstMoment, RAdam, RAdamConfig, RAdamState};
use study::spec::InnerSpec;

use crate::channels::ScheduledMomentum;

/// Declares, from one list of (variant, Burn optimizer, its state), the enum of Burn
/// optimizers, the enum of their states (the record checkpoints hold), and the dispatch of a
/// step, a state's move to a device, and the first-moment access of Pullback/zero-moments.
macro_rules! burn_inners {
    ($($variant:ident($optim:ty, $state:ident)),* $(,)?) => {
        /// One Burn (or this project's) per-tensor optimizer, built from an [`InnerSpec`].
        #[derive(Clone)]
        enum BurnInner<B: Backend> {
            $(#[doc = stringify!($variant)] $variant($optim),)*
        }

        /// The state of an [`Inner`] step: the state of whichever optimizer it is.
        #[derive(Record, Clone)]
        pub enum InnerState<B: Backend, const D: usize> {
            $(#[doc = stringify!($variant)] $variant($state<B, D>),)*
        }

        impl<B: Backend> BurnInner<B> {
            /// One step with this optimizer's own state (`None` at the start); a state of
            /// another optimizer, from a checkpoint of another spec, is refused.
            fn step<const D: usize>(
                &self,
                lr: LearningRate,
                tensor: Tensor<B, D>,
                grad: Tensor<B, D>,
                state: Option<InnerState<B, D>>,
            ) -> (Tensor<B, D>, Option<InnerState<B, D>>) {
                match self {
                    $(BurnInner::$variant(optim) => {
                        let own = match state {
                            None => None,
                            Some(InnerState::$variant(s)) => Some(s),
                            Some(_) => panic!(
                                "optimizer state of another optimizer: the checkpoint was \
                                 written by a different optimizer spec"
                            ),
                        };
                        let (tensor, state) = optim.step(lr, tensor, grad, own);
                        (tensor, state.map(InnerState::$variant))
                    })*
                }
            }
        }

        impl<B: Backend, const D: usize> InnerState<B, D> {
            fn moved_to(self, device: &B::Device) -> Self {
                match self {
                    $(InnerState::$variant(s) => InnerState::$variant(
                        <$optim as SimpleOptimizer<B>>::to_device(s, device),
                    ),)*
                }
            }

            fn map_first_moment(
                self,
                device: &B::Device,
                f: impl FnOnce(Tensor<B, D>) -> Tensor<B, D>,
            ) -> Result<Self, Self> {
                match self {
                    $(InnerState::$variant(s) =>
                        <$optim as FirstMoment<B>>::map_first_moment(s, device, f)
                            .map(InnerState::$variant)
                            .map_err(InnerState::$variant),)*
                }
            }

            fn zero_moments(self, like: &Tensor<B, D>) -> Self {
                match self {
                    $(InnerState::$variant(s) => InnerState::$variant(
                        <$optim as FirstMoment<B>>::zero_moments(s, like),
                    ),)*
                }
            }
        }
    };
}

burn_inners! {
    Sgd(Sgd<B>, SgdState),
    Adam(Adam, AdamState),
    AdamW(AdamW, AdamWState),
    RmsProp(RmsProp, RmsPropState),
    RAdam(RAdam, RAdamState),
}

/// The Burn optimizer of an inner spec: the one place a spec's values become a Burn config.
fn burn_inner<B: Backend>(spec: &InnerSpec) -> Result<BurnInner<B>, String> {
    let l2 = |wd: f64| (wd > 0.0).then(|| WeightDecayConfig::new(wd as f32));
    Ok(match *spec {
        InnerSpec::Sgd {
            momentum,
            dampening,
            nesterov,
            weight_decay,
        } => {
            let momentum = (momentum > 0.0).then(|| {
                MomentumConfig::new()
                    .with_momentum(momentum)
                    .with_dampening(dampening)
                    .with_nesterov(nesterov)
            });
            BurnInner::Sgd(
                SgdConfig::new()
                    .with_momentum(momentum)
                    .with_weight_decay(l2(weight_decay))
                    .build(),
            )
        }
        InnerSpec::Adam {
            beta_1,
            beta_2,
            epsilon,
            weight_decay,
        } => BurnInner::Adam(
            AdamConfig::new()
                .with_beta_1(beta_1 as f32)
                .with_beta_2(beta_2 as f32)
                .with_epsilon(epsilon as f32)
                .with_weight_decay(l2(weight_decay))
                .build(),
        ),
        InnerSpec::AdamW {
            beta_1,
            beta_2,
            epsilon,
            weight_decay,
        } => BurnInner::AdamW(
            AdamWConfig::new()
                .with_beta_1(beta_1 as f32)
                .with_beta_2(beta_2 as f32)
                .with_epsilon(epsilon as f32)
                .with_weight_decay(weight_decay as f32)
                .build(),
        ),
        InnerSpec::RmsProp {
            alpha,
            momentum,
            epsilon,
            centered,
            weight_decay,
        } => BurnInner::RmsProp(
            RmsPropConfig::new()
                .with_alpha(alpha as f32)
                .with_momentum(momentum as f32)
                .with_epsilon(epsilon as f32)
                .with_centered(centered)
                .with_weight_decay(l2(weight_decay))
                .build(),
        ),
        InnerSpec::RAdam {
            beta_1,
            beta_2,
            epsilon,
            weight_decay,
        } => BurnInner::RAdam(
            RAdamConfig::new()
                .with_beta_1(beta_1)
                .with_beta_2(beta_2)
                .with_epsilon(epsilon)
                .with_weight_decay(weight_decay)
                .build()
                .map_err(|e| e.to_string())?,
        ),
    })
}

/// The Burn optimizer built for the last scheduled momentum (the value's bits), shared.
type Cycled<B> = Arc<Mutex<Option<(u64, Arc<BurnInner<B>>)>>>;

/// The inner optimizer of a spec, with what a schedule may change at each step.
///
/// A step is the Burn optimizer's step, except that:
/// - with `true_weight_decay = Some(wd)` every parameter is first multiplied by
///   `1 − wd·lr_t` (fastai v1's `OptimWrapper.step` with `true_wd=True, bn_wd=True`: the
///   decoupled decay of AdamW, `θ ← θ − lr_t·wd·θ`, applied outside the optimizer, to every
///   parameter, before its update; the spec's own weight decay is zeroed, see
///   `TrainConfig::optimizer_spec`);
/// - with a [`ScheduledMomentum`] holding μ_t, the optimizer steps as if built with momentum
///   μ_t (SGD's μ, Adam/AdamW/RAdam's β1, RMSProp's momentum: fastai v1's `moms`, which set
///   `momentum` or `betas[0]` of every parameter group before each batch). The state carries
///   over unchanged, and Adam's bias correction `1 − β1^t` uses the current β1, as PyTorch's.
///   The Burn optimizer of μ_t is built once per value, when the first tensor of a step meets
///   it, and reused for the step's other tensors.
#[derive(Clone)]
pub struct Inner<B: Backend> {
    spec: InnerSpec,
    burn: BurnInner<B>,
    momentum: Option<ScheduledMomentum>,
    true_weight_decay: Option<f64>,
    /// The Burn optimizer of the last scheduled momentum seen (its bits), shared by clones.
    cycled: Cycled<B>,
}

impl<B: Backend> Inner<B> {
    /// The optimizer of `spec`, stepping with the scheduled momentum when `momentum` is given
    /// and with fastai's true weight decay `wd` when given.
    pub fn new(
        spec: &InnerSpec,
        momentum: Option<ScheduledMomentum>,
        true_weight_decay: Option<f64>,
    ) -> Result<Self, String> {
        Ok(Self {
            burn: burn_inner(spec)?,
            spec: spec.clone(),
            momentum,
            true_weight_decay,
            cycled: Arc::default(),
        })
    }

    /// The Burn optimizer of momentum μ (from the one-entry cache, or built and cached).
    fn with_momentum(&self, momentum: f64) -> Arc<BurnInner<B>> {
        let mut cycled = self.cycled.lock().unwrap_or_else(|e| e.into_inner());
        match &*cycled {
            Some((bits, optim)) if *bits == momentum.to_bits() => optim.clone(),
            _ => {
                // The schedule's momentum lies in [0, 1) (checked by `OneCycleConfig::init`),
                // where every spec builds.
                let optim = burn_inner(&self.spec.with_momentum(momentum))
                    .unwrap_or_else(|e| panic!("momentum {momentum} from the schedule: {e}"));
                let optim = Arc::new(optim);
                *cycled = Some((momentum.to_bits(), optim.clone()));
                optim
            }
        }
    }
}

impl<B: Backend> SimpleOptimizer<B> for Inner<B> {
    type State<const D: usize> = InnerState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let tensor = match self.true_weight_decay {
            Some(wd) if wd != 0.0 => tensor.mul_scalar(1.0 - wd * lr),
            _ => tensor,
        };
        match self.momentum.as_ref().and_then(ScheduledMomentum::get) {
            Some(momentum) => self.with_momentum(momentum).step(lr, tensor, grad, state),
            None => self.burn.step(lr, tensor, grad, state),
        }
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        state.moved_to(device)
    }
}

/// Every optimizer of the study has a first moment but SGD and RMSProp without momentum (and
/// without a scheduled one); the spec says which (`InnerSpec::first_moment`), so `Pullback`
/// without momentum is refused when the optimizer is built, before any step.
impl<B: Backend> FirstMoment<B> for Inner<B> {
    fn check_first_moment(&self) -> Result<(), ConfigError> {
        if self.momentum.is_some() {
            return Ok(());
        }
        self.spec
            .first_moment()
            .map_err(|optimizer| ConfigError::PullbackUnsupported { optimizer })
    }

    fn map_first_moment<const D: usize>(
        state: InnerState<B, D>,
        device: &B::Device,
        f: impl FnOnce(Tensor<B, D>) -> Tensor<B, D>,
    ) -> Result<InnerState<B, D>, InnerState<B, D>> {
        state.map_first_moment(device, f)
    }

    fn zero_moments<const D: usize>(
        state: InnerState<B, D>,
        like: &Tensor<B, D>,
    ) -> InnerState<B, D> {
        state.zero_moments(like)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::assert_close;
    use burn::backend::Flex;
    use study::spec::OptimizerSpec;

    type TB = Flex;

    /// Runs `steps` steps of `inner` on the scalar θ0 = 1 with gradient g = 0.5, setting the
    /// handle (if any) to `moms[t]` before step t; returns θ after each step.
    fn run(inner: &Inner<TB>, handle: Option<&ScheduledMomentum>, moms: &[f64]) -> Vec<f64> {
        let device = Default::default();
        let mut theta = Tensor::<TB, 1>::from_floats([1.0], &device);
        let mut state = None;
        let mut out = Vec::new();
        for &m in moms {
            if let Some(h) = handle {
                h.set(m);
            }
            let grad = Tensor::<TB, 1>::from_floats([0.5], &device);
            let (t, s) = inner.step(0.1, theta, grad, state);
            (theta, state) = (t, s);
            out.push(theta.clone().into_scalar() as f64);
        }
        out
    }

    fn inner(spec: &str, handle: Option<&ScheduledMomentum>, wd: Option<f64>) -> Inner<TB> {
        let spec = OptimizerSpec::parse(spec).unwrap();
        Inner::new(spec.inner(), handle.cloned(), wd).unwrap()
    }

    const MOMS: [f64; 4] = [0.95, 0.9, 0.85, 0.9];

    /// θ after each step of `spec` with the momentum scheduled to `MOMS`.
    fn cycled(spec: &str) -> Vec<f64> {
        let handle = ScheduledMomentum::default();
        run(&inner(spec, Some(&handle), None), Some(&handle), &MOMS)
    }

    /// PyTorch's SGD with the momentum fastai sets before each step: buf = μ_t·buf + g
    /// (buf = g at the first step), θ ← θ − lr·buf.
    #[test]
    fn scheduled_momentum_drives_sgd_as_pytorch() {
        // Built with momentum 0, as the seed's LookaheadSGD: the schedule still cycles it.
        let got = cycled("sgd(momentum=0)");
        let (mut theta, mut buf) = (1.0_f64, 0.0_f64);
        let want: Vec<f64> = MOMS
            .iter()
            .enumerate()
            .map(|(t, &m)| {
                buf = if t == 0 { 0.5 } else { m * buf + 0.5 };
                theta -= 0.1 * buf;
                theta
            })
            .collect();
        assert_close(&got, &want);
        // Without a handle the spec's momentum (0) holds: plain gradient steps.
        let plain = run(&inner("sgd(momentum=0)", None, None), None, &MOMS);
        assert_close(&plain, &[0.95, 0.9, 0.85, 0.8]);
    }

    /// PyTorch's AdamW (1.3.1) with β1 set before each step: m = β1_t·m + (1 − β1_t)·g,
    /// v = β2·v + (1 − β2)·g², θ ← θ − lr·(m / (1 − β1_t^t)) / (√(v / (1 − β2^t)) + ε).
    #[test]
    fn scheduled_beta1_drives_adamw_with_the_current_bias_correction() {
        let got = cycled("adamw(wd=0)");
        let (b2, eps, g) = (0.999_f64, 1e-8, 0.5);
        let (mut theta, mut m, mut v) = (1.0_f64, 0.0, 0.0);
        let want: Vec<f64> = MOMS
            .iter()
            .enumerate()
            .map(|(i, &b1)| {
                let t = i as i32 + 1;
                m = b1 * m + (1.0 - b1) * g;
                v = b2 * v + (1.0 - b2) * g * g;
                let m_hat = m / (1.0 - b1.powi(t));
                let v_hat = v / (1.0 - b2.powi(t));
                theta -= 0.1 * m_hat / (v_hat.sqrt() + eps);
                theta
            })
            .collect();
        assert_close(&got, &want);
    }

    /// fastai v1 cycles RMSProp's momentum too: heavy-ball RMSProp even when built with 0.
    /// sq = α·sq + (1 − α)·g², buf = μ_t·buf + g/(√sq + ε), θ ← θ − lr·buf.
    #[test]
    fn scheduled_momentum_makes_rmsprop_heavy_ball() {
        let got = cycled("rmsprop");
        let (alpha, eps, g) = (0.99_f64, 1e-8, 0.5);
        let (mut theta, mut sq, mut buf) = (1.0_f64, 0.0, 0.0);
        let want: Vec<f64> = MOMS
            .iter()
            .map(|&mu| {
                sq = alpha * sq + (1.0 - alpha) * g * g;
                buf = mu * buf + g / (sq.sqrt() + eps);
                theta -= 0.1 * buf;
                theta
            })
            .collect();
        assert_close(&got, &want);
    }

    /// fastai v1's true weight decay: θ ← θ·(1 − wd·lr), then the optimizer's step (here plain
    /// SGD: − lr·g, the gradient taken at the undecayed θ as in fastai, where the decay follows
    /// the backward pass).
    #[test]
    fn true_weight_decay_scales_before_the_step() {
        let got = run(&inner("sgd(momentum=0)", None, Some(0.01)), None, &MOMS);
        let mut theta = 1.0_f64;
        let want: Vec<f64> = MOMS
            .iter()
            .map(|_| {
                theta = theta * (1.0 - 0.01 * 0.1) - 0.1 * 0.5;
                theta
            })
            .collect();
        assert_close(&got, &want);
    }

    /// A one-cycle schedule's momentum builds the Burn optimizer once per value: every tensor
    /// of a step gets the same one, a new value a new one.
    #[test]
    fn the_cycled_optimizer_is_built_once_per_momentum() {
        let handle = ScheduledMomentum::default();
        let optim = inner("sgd(momentum=0)", Some(&handle), None);
        let first = optim.with_momentum(0.9);
        assert!(Arc::ptr_eq(&first, &optim.with_momentum(0.9)));
        assert!(Arc::ptr_eq(&first, &optim.clone().with_momentum(0.9)));
        let next = optim.with_momentum(0.85);
        assert!(!Arc::ptr_eq(&first, &next));
        assert!(Arc::ptr_eq(&next, &optim.with_momentum(0.85)));
    }
}
