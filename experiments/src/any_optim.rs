//! One concrete per-tensor optimizer type for every inner optimizer of the study, so that a
//! spec read at run time builds one Burn `Optimizer` type, with the two per-step mechanisms of
//! fastai v1 that Burn's optimizers lack: a momentum set by the schedule at every step
//! ([`ScheduledMomentum`]) and "true weight decay" applied with the current learning rate.

use burn::optim::{
    Adam, AdamState, AdamW, AdamWState, LearningRate, RmsProp, RmsPropState, Sgd, SgdState,
    SimpleOptimizer,
};
use burn::record::Record;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use lookahead_optim::{ConfigError, FirstMoment, RAdam, RAdamState};

use crate::hyper::ScheduledMomentum;
use crate::spec::{InnerSpec, build_inner};

/// The inner optimizer of a spec, with what a schedule may change at each step.
///
/// A step is the built optimizer's step, except that:
/// - with `true_weight_decay = Some(wd)` every parameter is first multiplied by
///   `1 − wd·lr_t` (fastai v1's `OptimWrapper.step` with `true_wd=True, bn_wd=True`: the
///   decoupled decay of AdamW, `θ ← θ − lr_t·wd·θ`, applied outside the optimizer, to every
///   parameter, before its update; the spec's own weight decay is zeroed, see
///   `TrainConfig::optimizer_spec`);
/// - with a [`ScheduledMomentum`] holding μ_t, the optimizer steps as if built with momentum
///   μ_t (SGD's μ, Adam/AdamW/RAdam's β1, RMSProp's momentum: fastai v1's `moms`, which set
///   `momentum` or `betas[0]` of every parameter group before each batch). The state carries
///   over unchanged, and Adam's bias correction `1 − β1^t` uses the current β1, as PyTorch's.
#[derive(Clone)]
pub struct AnyInner<B: Backend> {
    optim: InnerOptim<B>,
    spec: InnerSpec,
    momentum: Option<ScheduledMomentum>,
    true_weight_decay: Option<f64>,
}

impl<B: Backend> AnyInner<B> {
    /// The optimizer of `spec`, stepping with the scheduled momentum when `momentum` is given
    /// and with fastai's true weight decay `wd` when given.
    pub fn new(
        spec: &InnerSpec,
        momentum: Option<ScheduledMomentum>,
        true_weight_decay: Option<f64>,
    ) -> Result<Self, String> {
        Ok(Self {
            optim: build_inner(spec)?,
            spec: spec.clone(),
            momentum,
            true_weight_decay,
        })
    }
}

/// SGD, Adam, AdamW, RMSProp or RAdam, chosen at run time.
#[derive(Clone)]
pub enum InnerOptim<B: Backend> {
    /// Burn's SGD (momentum, Nesterov, L2 weight decay).
    Sgd {
        /// The optimizer.
        optim: Sgd<B>,
        /// Whether it was built with momentum (Burn's `Sgd` does not say).
        momentum: bool,
    },
    /// Burn's Adam.
    Adam(Adam),
    /// Burn's AdamW.
    AdamW(AdamW),
    /// Burn's RMSProp.
    RmsProp {
        /// The optimizer.
        optim: RmsProp,
        /// Whether it was built with momentum > 0 (Burn's `RmsProp` does not say).
        momentum: bool,
    },
    /// This project's RAdam.
    RAdam(RAdam),
}

/// The state of an [`AnyInner`] step, one variant per optimizer.
#[derive(Record, Clone)]
pub enum AnyState<B: Backend, const D: usize> {
    /// SGD's state.
    Sgd(SgdState<B, D>),
    /// Adam's state.
    Adam(AdamState<B, D>),
    /// AdamW's state.
    AdamW(AdamWState<B, D>),
    /// RMSProp's state.
    RmsProp(RmsPropState<B, D>),
    /// RAdam's state.
    RAdam(RAdamState<B, D>),
}

/// One step of `optim` with the state of the same optimizer (`None` at the start; a state of
/// another optimizer, from a checkpoint of another spec, is refused).
fn step_with<B: Backend, O: SimpleOptimizer<B>, const D: usize>(
    optim: &O,
    lr: LearningRate,
    tensor: Tensor<B, D>,
    grad: Tensor<B, D>,
    state: Option<Option<O::State<D>>>,
) -> (Tensor<B, D>, Option<O::State<D>>) {
    let state = state.unwrap_or_else(|| {
        panic!("optimizer state of another optimizer: the checkpoint was written by a different optimizer spec")
    });
    optim.step(lr, tensor, grad, state)
}

impl<B: Backend> SimpleOptimizer<B> for AnyInner<B> {
    type State<const D: usize> = AnyState<B, D>;

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
            Some(momentum) => {
                // The schedule's momentum lies in [0, 1) (checked by `OneCycleConfig::init`),
                // where every spec builds.
                let optim: InnerOptim<B> = build_inner(&self.spec.with_momentum(momentum))
                    .unwrap_or_else(|e| panic!("momentum {momentum} from the schedule: {e}"));
                optim.step(lr, tensor, grad, state)
            }
            None => self.optim.step(lr, tensor, grad, state),
        }
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        InnerOptim::to_device(state, device)
    }
}

impl<B: Backend> SimpleOptimizer<B> for InnerOptim<B> {
    type State<const D: usize> = AnyState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        // `Some(None)`: no state yet; `Some(Some(s))`: this optimizer's state; `None`: another's.
        macro_rules! run {
            ($optim:expr, $variant:ident) => {{
                let own = match state {
                    None => Some(None),
                    Some(AnyState::$variant(s)) => Some(Some(s)),
                    Some(_) => None,
                };
                let (tensor, state) = step_with($optim, lr, tensor, grad, own);
                (tensor, state.map(AnyState::$variant))
            }};
        }
        match self {
            InnerOptim::Sgd { optim, .. } => run!(optim, Sgd),
            InnerOptim::Adam(o) => run!(o, Adam),
            InnerOptim::AdamW(o) => run!(o, AdamW),
            InnerOptim::RmsProp { optim, .. } => run!(optim, RmsProp),
            InnerOptim::RAdam(o) => run!(o, RAdam),
        }
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        match state {
            AnyState::Sgd(s) => AnyState::Sgd(Sgd::to_device(s, device)),
            AnyState::Adam(s) => AnyState::Adam(<Adam as SimpleOptimizer<B>>::to_device(s, device)),
            AnyState::AdamW(s) => {
                AnyState::AdamW(<AdamW as SimpleOptimizer<B>>::to_device(s, device))
            }
            AnyState::RmsProp(s) => {
                AnyState::RmsProp(<RmsProp as SimpleOptimizer<B>>::to_device(s, device))
            }
            AnyState::RAdam(s) => {
                AnyState::RAdam(<RAdam as SimpleOptimizer<B>>::to_device(s, device))
            }
        }
    }
}

/// Every optimizer of the study has a first moment but SGD and RMSProp without momentum (and
/// without a scheduled one); this `AnyInner` knows which it is (from its spec), so `Pullback`
/// without momentum is refused when the optimizer is built, before any step.
impl<B: Backend> FirstMoment<B> for AnyInner<B> {
    fn check_first_moment(&self) -> Result<(), ConfigError> {
        if self.momentum.is_some() {
            return Ok(());
        }
        match self.optim {
            InnerOptim::Sgd {
                momentum: false, ..
            } => Err(ConfigError::PullbackUnsupported {
                optimizer: "sgd without momentum",
            }),
            InnerOptim::RmsProp {
                momentum: false, ..
            } => Err(ConfigError::PullbackUnsupported {
                optimizer: "rmsprop without momentum",
            }),
            _ => Ok(()),
        }
    }

    fn map_first_moment<const D: usize>(
        state: AnyState<B, D>,
        device: &B::Device,
        f: impl FnOnce(Tensor<B, D>) -> Tensor<B, D>,
    ) -> Result<AnyState<B, D>, AnyState<B, D>> {
        fn map<B: Backend, O: FirstMoment<B>, const D: usize>(
            state: O::State<D>,
            device: &B::Device,
            f: impl FnOnce(Tensor<B, D>) -> Tensor<B, D>,
            wrap: fn(O::State<D>) -> AnyState<B, D>,
        ) -> Result<AnyState<B, D>, AnyState<B, D>> {
            O::map_first_moment(state, device, f)
                .map(wrap)
                .map_err(wrap)
        }
        match state {
            AnyState::Sgd(s) => map::<B, Sgd<B>, D>(s, device, f, AnyState::Sgd),
            AnyState::Adam(s) => map::<B, Adam, D>(s, device, f, AnyState::Adam),
            AnyState::AdamW(s) => map::<B, AdamW, D>(s, device, f, AnyState::AdamW),
            AnyState::RmsProp(s) => map::<B, RmsProp, D>(s, device, f, AnyState::RmsProp),
            AnyState::RAdam(s) => map::<B, RAdam, D>(s, device, f, AnyState::RAdam),
        }
    }

    fn zero_moments<const D: usize>(state: AnyState<B, D>, device: &B::Device) -> AnyState<B, D> {
        match state {
            AnyState::Sgd(s) => AnyState::Sgd(<Sgd<B> as FirstMoment<B>>::zero_moments(s, device)),
            AnyState::Adam(s) => AnyState::Adam(<Adam as FirstMoment<B>>::zero_moments(s, device)),
            AnyState::AdamW(s) => {
                AnyState::AdamW(<AdamW as FirstMoment<B>>::zero_moments(s, device))
            }
            AnyState::RmsProp(s) => {
                AnyState::RmsProp(<RmsProp as FirstMoment<B>>::zero_moments(s, device))
            }
            AnyState::RAdam(s) => {
                AnyState::RAdam(<RAdam as FirstMoment<B>>::zero_moments(s, device))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::OptimizerSpec;
    use burn::backend::Flex;

    type TB = Flex;

    /// Runs `steps` steps of `inner` on the scalar θ0 = 1 with gradient g = 0.5, setting the
    /// handle (if any) to `moms[t]` before step t; returns θ after each step.
    fn run(inner: &AnyInner<TB>, handle: Option<&ScheduledMomentum>, moms: &[f64]) -> Vec<f64> {
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

    fn inner(spec: &str, handle: Option<&ScheduledMomentum>, wd: Option<f64>) -> AnyInner<TB> {
        let spec = OptimizerSpec::parse(spec).unwrap();
        AnyInner::new(spec.inner(), handle.cloned(), wd).unwrap()
    }

    const MOMS: [f64; 4] = [0.95, 0.9, 0.85, 0.9];

    /// θ after each step of `spec` with the momentum scheduled to `MOMS`.
    fn cycled(spec: &str) -> Vec<f64> {
        let handle = ScheduledMomentum::default();
        run(&inner(spec, Some(&handle), None), Some(&handle), &MOMS)
    }

    /// Burn steps in f32 (β1 = 0.85 is 0.85000002 there): agreement to 1e-5 relative, while
    /// a momentum left at the spec's value misses by 1e-2 or more.
    fn assert_close(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() < 1e-5 * w.abs().max(1.0),
                "{got:?} vs {want:?}"
            );
        }
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

    /// The same under Lookahead (the spec's optimizer type): true weight decay and the
    /// scheduled momentum act on the fast weights inside each inner step.
    #[test]
    fn extras_act_inside_lookahead() {
        use crate::spec::StepExtras;
        use burn::backend::Autodiff;
        use burn::module::{Module, Param};
        use burn::optim::{GradientsParams, Optimizer};

        #[derive(Module, Debug)]
        struct Scalar<B: Backend> {
            w: Param<Tensor<B, 1>>,
        }
        type AB = Autodiff<Flex>;
        let device = Default::default();
        let handle = ScheduledMomentum::default();
        let extras = StepExtras {
            momentum: Some(handle.clone()),
            true_weight_decay: Some(0.01),
        };
        let mut optim = OptimizerSpec::parse("lookahead(sgd(momentum=0), k=2, alpha=0.5)")
            .unwrap()
            .build_with::<AB, Scalar<AB>>(&extras)
            .unwrap();
        let mut model = Scalar::<AB> {
            w: Param::from_tensor(Tensor::from_floats([1.0], &device)),
        };
        let mut got = Vec::new();
        for &m in &MOMS {
            handle.set(m);
            let loss = model.w.val().mul_scalar(0.5).sum();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(0.1, model, grads);
            got.push(model.w.val().into_scalar() as f64);
        }
        // Fast steps with decay and momentum; at steps 2 and 4, θ ← φ + α(θ − φ), φ ← θ.
        let (mut theta, mut buf, mut phi) = (1.0_f64, 0.0_f64, 1.0_f64);
        let want: Vec<f64> = MOMS
            .iter()
            .enumerate()
            .map(|(t, &mu)| {
                theta *= 1.0 - 0.01 * 0.1;
                buf = if t == 0 { 0.5 } else { mu * buf + 0.5 };
                theta -= 0.1 * buf;
                if (t + 1) % 2 == 0 {
                    theta = phi + 0.5 * (theta - phi);
                    phi = theta;
                }
                theta
            })
            .collect();
        assert_close(&got, &want);
    }
}
