//! The Lookahead optimizer: `k` steps forward with any inner optimizer, one step back.

use burn::config::Config;
use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{LearningRate, SimpleOptimizer};
use burn::record::Record;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};

use crate::policy::{AtSync, SyncPolicy};
use crate::pullback::interpolate_twice;
use crate::{ConfigError, FirstMoment, InnerStatePolicy};

/// Which weights the slow weights start from.
#[derive(Config, Debug, PartialEq, Eq, Copy)]
pub enum SlowStart {
    /// θ0, the weights before the first inner step (the paper's Algorithm 1, optax).
    Initial,
    /// θ1, the weights after the first inner step, as the seed study's `lookahead.py` created
    /// its slow copies lazily; the step counter still counts that step, so the first sync
    /// (at step k) covers k − 1 inner steps.
    AfterFirstStep,
}

/// Configuration of [`Lookahead`].
///
/// ```
/// use burn::backend::{Autodiff, NdArray};
/// use burn::nn::{Linear, LinearConfig};
/// use burn::optim::momentum::MomentumConfig;
/// use burn::optim::SgdConfig;
/// use lookahead_optim::{InnerStatePolicy, LookaheadConfig};
///
/// type B = Autodiff<NdArray>;
/// let sgd = SgdConfig::new().with_momentum(Some(MomentumConfig::new())).build();
/// let optim = LookaheadConfig::new()
///     .with_k(6)
///     .with_inner_state(InnerStatePolicy::Pullback)
///     .init::<B, Linear<B>, _>(sgd)
///     .expect("valid config");
/// # let _ = optim;
/// // A Burn `Optimizer<Linear<B>, B>`, ready for `optim.step(lr, model, grads)` or a `Learner`.
///
/// // Invalid values are refused with the field's name:
/// let err = LookaheadConfig::new().with_k(0).validate().unwrap_err();
/// assert!(err.to_string().contains("`k`"));
/// ```
#[derive(Config, Debug)]
pub struct LookaheadConfig {
    /// Number of inner (fast) steps between two syncs. Must be ≥ 1. Default 5 (paper's ImageNet
    /// setting and the official code's; fastai and timm use 6).
    #[config(default = 5)]
    pub k: usize,
    /// Slow-weight step size α, in (0, 1]. Default 0.5 (paper's default; the official code uses
    /// 0.8). With α = 1 Lookahead is exactly its inner optimizer (plus the state policy).
    #[config(default = 0.5)]
    pub alpha: f64,
    /// What to do with the inner optimizer's state at each sync. Default [`InnerStatePolicy::Keep`].
    #[config(default = "InnerStatePolicy::Keep")]
    pub inner_state: InnerStatePolicy,
    /// Where the slow weights start; `None` (the default) is [`SlowStart::Initial`] (θ0). An
    /// `Option`, so that configs saved before the field existed still read.
    pub slow_start: Option<SlowStart>,
    /// Gradient clipping applied before the inner step (the adaptor's, as in Burn's own
    /// optimizers). Default none.
    pub grad_clipping: Option<GradientClippingConfig>,
}

impl LookaheadConfig {
    /// Checks `k ≥ 1` and `0 < α ≤ 1`; the error names the offending field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.k == 0 {
            return Err(ConfigError::out_of_range("k", self.k, "must be at least 1"));
        }
        if !(self.alpha > 0.0 && self.alpha <= 1.0) {
            return Err(ConfigError::out_of_range(
                "alpha",
                self.alpha,
                "must satisfy 0 < alpha <= 1",
            ));
        }
        Ok(())
    }

    /// Wraps `inner` in a [`Lookahead`] per-tensor optimizer with the run-time policy
    /// `inner_state`, after validating the config and, for [`InnerStatePolicy::Pullback`] and
    /// [`InnerStatePolicy::ZeroMoments`], checking that `inner` has a first moment
    /// ([`FirstMoment::check_first_moment`]; no step is taken). Any inner optimizer with a
    /// policy fixed at compile time: [`build_with`](Self::build_with).
    pub fn build<B: Backend, O: FirstMoment<B>>(
        &self,
        inner: O,
    ) -> Result<Lookahead<O>, ConfigError> {
        self.build_with(inner, self.inner_state)
    }

    /// Wraps `inner` in a [`Lookahead`] with the policy `policy` (`inner_state` is not read):
    /// [`Keep`](crate::Keep) or [`Reset`](crate::Reset) over any Burn optimizer,
    /// [`Pullback`](crate::Pullback) or [`ZeroMoments`](crate::ZeroMoments) over one with a
    /// [`FirstMoment`].
    pub fn build_with<B: Backend, O: SimpleOptimizer<B>, P: SyncPolicy<B, O>>(
        &self,
        inner: O,
        policy: P,
    ) -> Result<Lookahead<O, P>, ConfigError> {
        self.validate()?;
        policy.check(&inner)?;
        Ok(Lookahead {
            inner,
            k: self.k,
            alpha: self.alpha,
            policy,
            slow_start: self.slow_start.unwrap_or(SlowStart::Initial),
        })
    }

    /// The ready module optimizer: `Lookahead(inner)` with the run-time policy `inner_state`,
    /// adapted with Burn's [`OptimizerAdaptor`], usable with `Optimizer::step` or burn-train's
    /// `Learner`.
    pub fn init<B, M, O>(
        &self,
        inner: O,
    ) -> Result<OptimizerAdaptor<Lookahead<O>, M, B>, ConfigError>
    where
        B: AutodiffBackend,
        M: AutodiffModule<B>,
        O: FirstMoment<B::InnerBackend>,
    {
        self.init_with(inner, self.inner_state)
    }

    /// [`init`](Self::init) with a policy fixed at compile time, over any inner optimizer the
    /// policy allows (see [`build_with`](Self::build_with)).
    ///
    /// ```
    /// use burn::backend::{Autodiff, NdArray};
    /// use burn::nn::Linear;
    /// use burn::optim::AdaGradConfig;
    /// use lookahead_optim::{LookaheadConfig, Reset};
    ///
    /// type B = Autodiff<NdArray>;
    /// // AdaGrad has no first moment, and needs none for Keep or Reset.
    /// let optim = LookaheadConfig::new()
    ///     .with_k(6)
    ///     .init_with::<B, Linear<B>, _, _>(AdaGradConfig::new().build(), Reset)
    ///     .expect("valid config");
    /// # let _ = optim;
    /// ```
    pub fn init_with<B, M, O, P>(
        &self,
        inner: O,
        policy: P,
    ) -> Result<OptimizerAdaptor<Lookahead<O, P>, M, B>, ConfigError>
    where
        B: AutodiffBackend,
        M: AutodiffModule<B>,
        O: SimpleOptimizer<B::InnerBackend>,
        P: SyncPolicy<B::InnerBackend, O>,
    {
        let mut optim = OptimizerAdaptor::from(self.build_with(inner, policy)?);
        if let Some(clipping) = &self.grad_clipping {
            optim = optim.with_grad_clipping(clipping.init());
        }
        Ok(optim)
    }
}

/// Lookahead (Zhang, Lucas, Hinton & Ba, 2019) over any per-tensor inner optimizer `O`, with
/// the inner-state policy `P` at each sync (by default the run-time [`InnerStatePolicy`]; see
/// [`SyncPolicy`] for the typed ones).
///
/// Built with [`LookaheadConfig::build`]/[`build_with`](LookaheadConfig::build_with)
/// (per-tensor) or [`LookaheadConfig::init`]/[`init_with`](LookaheadConfig::init_with) (module
/// optimizer). Each parameter carries its own slow copy and step counter (see
/// [`LookaheadState`]).
#[derive(Clone, Debug)]
pub struct Lookahead<O, P = InnerStatePolicy> {
    inner: O,
    k: usize,
    alpha: f64,
    policy: P,
    slow_start: SlowStart,
}

impl<O, P: Copy + Into<InnerStatePolicy>> Lookahead<O, P> {
    /// The inner-state policy applied at each sync.
    pub fn policy(&self) -> InnerStatePolicy {
        self.policy.into()
    }
}

impl<O, P> Lookahead<O, P> {
    /// The inner (fast) optimizer.
    pub fn inner(&self) -> &O {
        &self.inner
    }
    /// Inner steps between syncs.
    pub fn k(&self) -> usize {
        self.k
    }
    /// Slow-weight step size.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }
    /// Where the slow weights start.
    pub fn slow_start(&self) -> SlowStart {
        self.slow_start
    }
}

/// Per-parameter state of [`Lookahead`]: the inner optimizer's state plus the slow weights.
#[derive(Record, Clone)]
pub struct LookaheadState<B: Backend, I: Record<B>, const D: usize> {
    /// The inner optimizer's state (`None` before its first step and right after a reset).
    pub inner: Option<I>,
    /// The slow weights φ: θ0 until the first sync, then the last synced value.
    pub slow: Tensor<B, D>,
    /// Inner steps this parameter has taken (steps in which it received a gradient).
    pub count: usize,
    /// Pullback only: the first-moment buffer as left by the previous sync (`None` = zero).
    pub pullback_cache: Option<Tensor<B, D>>,
}

impl<B: Backend, O: SimpleOptimizer<B>, P: SyncPolicy<B, O>> SimpleOptimizer<B>
    for Lookahead<O, P>
{
    type State<const D: usize> = LookaheadState<B, O::State<D>, D>;

    /// Algorithm 1 of the paper is two nested loops: for each outer step, θ ← φ, run k inner
    /// steps on θ, then φ ← φ + α(θ − φ). Burn calls us once per parameter per iteration, so the
    /// loops are flattened into one per-step update (as optax does): every call is an inner step;
    /// the call that brings this parameter's counter to a multiple of k also does the outer
    /// update and returns φ as the new fast weights, which is the next outer step's θ ← φ.
    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let first = state.is_none();
        let LookaheadState {
            inner,
            slow,
            count,
            pullback_cache,
        } = match state {
            Some(state) => state,
            // φ starts at θ0, the value before the first inner step (replaced by θ1 below
            // with `SlowStart::AfterFirstStep`).
            None => LookaheadState {
                inner: None,
                slow: tensor.clone(),
                count: 0,
                pullback_cache: None,
            },
        };

        let (fast, inner) = self.inner.step(lr, tensor, grad, inner);
        let slow = if first && self.slow_start == SlowStart::AfterFirstStep {
            fast.clone()
        } else {
            slow
        };
        let count = count + 1;
        if count % self.k != 0 {
            let state = LookaheadState {
                inner,
                slow,
                count,
                pullback_cache,
            };
            return (fast, Some(state));
        }

        // Outer step: φ ← φ + α(θ_k − φ); θ ← φ; then the policy acts on the inner state.
        let (slow, fast) = interpolate_twice(slow, fast, self.alpha);
        let AtSync {
            inner,
            cache: pullback_cache,
        } = self.policy.sync(
            AtSync {
                inner,
                cache: pullback_cache,
            },
            self.alpha,
            &slow,
        );
        let state = LookaheadState {
            inner,
            slow,
            count,
            pullback_cache,
        };
        (fast, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        LookaheadState {
            inner: state.inner.map(|inner| O::to_device(inner, device)),
            slow: state.slow.to_device(device),
            count: state.count,
            pullback_cache: state.pullback_cache.map(|cache| cache.to_device(device)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{AB, TB, run_quadratic, sgd_momentum, tensor1, values};
    use crate::{NoFirstMoment, RAdamConfig, slow_weights};
    use burn::module::{Module, Param};
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::{
        AdaGradConfig, AdamConfig, AdamWConfig, GradientsParams, Optimizer, RmsPropConfig,
        SgdConfig,
    };
    use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
    use burn::tensor::Distribution;

    type Batch = (Tensor<AB, 2>, Tensor<AB, 2>);

    fn lookahead<O: FirstMoment<TB>>(
        k: usize,
        alpha: f64,
        policy: InnerStatePolicy,
        inner: O,
    ) -> Lookahead<O> {
        LookaheadConfig::new()
            .with_k(k)
            .with_alpha(alpha)
            .with_inner_state(policy)
            .build::<TB, O>(inner)
            .unwrap()
    }

    #[test]
    fn alpha_one_with_keep_is_exactly_the_inner_optimizer() {
        let (x0, a) = ([1.5, -0.7, 3.0], [1.0, 0.3, 2.0]);
        let sgd = sgd_momentum(false);
        let (expected, _) = run_quadratic(&sgd, &x0, &a, 0.05, 25);
        let (got, _) = run_quadratic(
            &lookahead(3, 1.0, InnerStatePolicy::Keep, sgd),
            &x0,
            &a,
            0.05,
            25,
        );
        assert_eq!(got, expected, "SGD-momentum");

        let adam = AdamConfig::new().build();
        let (expected, _) = run_quadratic(&adam, &x0, &a, 0.05, 25);
        let (got, _) = run_quadratic(
            &lookahead(3, 1.0, InnerStatePolicy::Keep, adam),
            &x0,
            &a,
            0.05,
            25,
        );
        assert_eq!(got, expected, "Adam");
    }

    /// Lookahead(SGD with momentum μ, no dampening) on f = ½ Σ a_i x_i², written out in f64 as
    /// the paper's Algorithm 1 with two nested loops, independent of the tensor code.
    fn reference_trajectory(
        policy: InnerStatePolicy,
        x0: &[f64],
        a: &[f64],
        steps: usize,
    ) -> Vec<Vec<f64>> {
        let (lr, mu, k, alpha) = (0.1, 0.9, 3, 0.5);
        let mut slow = x0.to_vec();
        let mut velocity: Option<Vec<f64>> = None;
        let mut cached = vec![0.0; x0.len()];
        let mut out = Vec::new();
        while out.len() < steps {
            let mut x = slow.clone();
            for _ in 0..k {
                let g: Vec<f64> = x.iter().zip(a).map(|(x, a)| a * x).collect();
                let v: Vec<f64> = match &velocity {
                    None => g.clone(),
                    Some(v) => g.iter().zip(v).map(|(g, v)| g + mu * v).collect(),
                };
                x = x.iter().zip(&v).map(|(x, v)| x - lr * v).collect();
                velocity = Some(v);
                out.push(x.clone());
            }
            slow = slow
                .iter()
                .zip(&x)
                .map(|(s, x)| s + alpha * (x - s))
                .collect();
            *out.last_mut().unwrap() = slow.clone();
            match policy {
                InnerStatePolicy::Keep => {}
                InnerStatePolicy::Reset => velocity = None,
                InnerStatePolicy::ZeroMoments => {
                    velocity = velocity.map(|v| vec![0.0; v.len()]);
                }
                InnerStatePolicy::Pullback => {
                    let v = velocity.take().unwrap();
                    let pulled: Vec<f64> = cached
                        .iter()
                        .zip(&v)
                        .map(|(c, m)| c + alpha * (m - c))
                        .collect();
                    cached = pulled.clone();
                    velocity = Some(pulled);
                }
            }
        }
        out.truncate(steps);
        out
    }

    #[test]
    fn hand_computed_trajectories_for_each_policy() {
        // By hand, first coordinate (a = 1, x0 = 1, lr 0.1, μ 0.9, k 3, α 0.5):
        // steps 1-3: v = 1, 1.8, 2.34; x = 0.9, 0.72, 0.486; sync: φ = 1 + 0.5(0.486 − 1) = 0.743.
        // step 4, Keep: v = 0.743 + 0.9·2.34 = 2.849, x = 0.4581;
        //         Reset: v = 0.743, x = 0.6687;
        //         Pullback: v = 0 + 0.5(2.34 − 0) = 1.17, then v = 0.743 + 0.9·1.17 = 1.796, x = 0.5634.
        let by_hand = [
            (InnerStatePolicy::Keep, 0.4581),
            (InnerStatePolicy::Reset, 0.6687),
            (InnerStatePolicy::Pullback, 0.5634),
        ];
        let (x0, a) = ([1.0_f32, -2.0], [1.0_f32, 0.5]);
        for (policy, step4) in by_hand {
            let optim = lookahead(3, 0.5, policy, sgd_momentum(false));
            let (got, _) = run_quadratic(&optim, &x0, &a, 0.1, 12);
            for (step, expected) in [0.9, 0.72, 0.743, step4].into_iter().enumerate() {
                assert!(
                    (got[step][0] - expected).abs() < 1e-6,
                    "{policy:?} step {}: {} vs {expected}",
                    step + 1,
                    got[step][0]
                );
            }
            let reference = reference_trajectory(policy, &[1.0, -2.0], &[1.0, 0.5], 12);
            for (step, (g, r)) in got.iter().zip(&reference).enumerate() {
                for (g, r) in g.iter().zip(r) {
                    assert!(
                        (*g as f64 - r).abs() < 1e-5,
                        "{policy:?} step {}: {g} vs {r}",
                        step + 1
                    );
                }
            }
        }
        // The three policies really differ after the first sync.
        let run = |p| run_quadratic(&lookahead(3, 0.5, p, sgd_momentum(false)), &x0, &a, 0.1, 12).0;
        assert_ne!(run(InnerStatePolicy::Keep), run(InnerStatePolicy::Reset));
        assert_ne!(run(InnerStatePolicy::Keep), run(InnerStatePolicy::Pullback));
    }

    #[test]
    fn slow_weights_are_theta_zero_before_the_first_sync() {
        let optim = lookahead(5, 0.5, InnerStatePolicy::Keep, sgd_momentum(false));
        for steps in 1..5 {
            let (trajectory, state) = run_quadratic(&optim, &[1.0, 2.0], &[1.0, 1.0], 0.1, steps);
            let state = state.unwrap();
            assert_eq!(values(&state.slow), vec![1.0, 2.0], "after {steps} steps");
            assert_ne!(trajectory[0], vec![1.0, 2.0], "θ1 differs from θ0");
            assert_eq!(state.count, steps);
        }
        // At the k-th step the slow weights move, and the fast weights are set to them.
        let (trajectory, state) = run_quadratic(&optim, &[1.0, 2.0], &[1.0, 1.0], 0.1, 5);
        assert_eq!(values(&state.unwrap().slow), trajectory[4]);
        assert_ne!(trajectory[4], vec![1.0, 2.0]);
    }

    #[test]
    fn invalid_configs_are_rejected_naming_the_field() {
        let err = LookaheadConfig::new().with_k(0).validate().unwrap_err();
        assert_eq!(err.to_string(), "invalid `k` = 0: must be at least 1");
        for alpha in [0.0, -0.5, 2.0, f64::NAN] {
            let err = LookaheadConfig::new()
                .with_alpha(alpha)
                .validate()
                .unwrap_err();
            assert!(err.to_string().starts_with("invalid `alpha` = "), "{err}");
        }
        let err = LookaheadConfig::new()
            .with_alpha(2.0)
            .build::<TB, _>(sgd_momentum(false))
            .err()
            .unwrap();
        assert!(err.to_string().contains("`alpha` = 2"), "{err}");
        // A config read from JSON is validated the same way when it is used.
        let config: LookaheadConfig = serde_json::from_str(
            r#"{"k": 0, "alpha": 0.5, "inner_state": "Reset", "grad_clipping": null}"#,
        )
        .unwrap();
        assert!(config.build::<TB, _>(sgd_momentum(false)).is_err());
    }

    #[test]
    fn pullback_is_refused_without_a_first_moment_buffer() {
        // Checked from the optimizer's type, without a step (an AdaGrad not wrapped in
        // NoFirstMoment does not compile: see NoFirstMoment's compile_fail example).
        let config = LookaheadConfig::new().with_inner_state(InnerStatePolicy::Pullback);
        let err = config
            .build::<TB, _>(NoFirstMoment(AdaGradConfig::new().build()))
            .err()
            .unwrap();
        assert!(
            matches!(err, ConfigError::PullbackUnsupported { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("AdaGrad"), "{err}");
        // Keep and Reset work for any inner optimizer.
        assert!(
            LookaheadConfig::new()
                .with_inner_state(InnerStatePolicy::Reset)
                .build::<TB, _>(NoFirstMoment(AdaGradConfig::new().build()))
                .is_ok()
        );
    }

    /// Burn's SGD hides whether it has momentum: without it there is no buffer, and Pullback
    /// leaves the state alone (it is Keep), with no cache and no panic.
    #[test]
    fn pullback_without_momentum_keeps_the_state() {
        let (x0, a) = ([1.0, -2.0], [1.0, 0.5]);
        let plain = || SgdConfig::new().build::<TB>();
        let pull = lookahead(3, 0.5, InnerStatePolicy::Pullback, plain());
        let keep = lookahead(3, 0.5, InnerStatePolicy::Keep, plain());
        let (pulled, state) = run_quadratic(&pull, &x0, &a, 0.1, 9);
        assert_eq!(pulled, run_quadratic(&keep, &x0, &a, 0.1, 9).0);
        assert!(state.unwrap().pullback_cache.is_none());
    }

    /// Pullback runs for every optimizer with a momentum buffer and changes the trajectory.
    #[test]
    fn pullback_supports_every_momentum_optimizer() {
        fn check<O: FirstMoment<TB>>(name: &str, inner: O) {
            let (x0, a) = ([1.0, -2.0], [1.0, 0.5]);
            let pull = lookahead(3, 0.5, InnerStatePolicy::Pullback, inner.clone());
            let keep = lookahead(3, 0.5, InnerStatePolicy::Keep, inner);
            let (pulled, state) = run_quadratic(&pull, &x0, &a, 0.01, 9);
            let (kept, _) = run_quadratic(&keep, &x0, &a, 0.01, 9);
            assert_eq!(
                pulled[..3],
                kept[..3],
                "{name}: identical before the first sync"
            );
            assert_ne!(
                pulled[3..],
                kept[3..],
                "{name}: pullback changes the momentum"
            );
            assert!(state.unwrap().pullback_cache.is_some(), "{name}");
        }
        check("sgd", sgd_momentum(false));
        check("sgd-nesterov", sgd_momentum(true));
        check("adam", AdamConfig::new().build());
        check("adamw", AdamWConfig::new().build());
        check("rmsprop", RmsPropConfig::new().with_momentum(0.9).build());
        check("radam", RAdamConfig::new().build().unwrap());
    }

    /// Adam's fields are public: check the pullback arithmetic on them directly.
    #[test]
    fn pullback_interpolates_first_moments_and_keeps_second_moments() {
        let adam = AdamConfig::new().build();
        let (x0, a) = ([1.0, -2.0], [1.0, 0.5]);
        let (_, before) = run_quadratic(&adam, &x0, &a, 0.01, 3);
        let before = before.unwrap().momentum;
        let optim = lookahead(3, 0.5, InnerStatePolicy::Pullback, adam);
        let (_, after) = run_quadratic(&optim, &x0, &a, 0.01, 3);
        let after = after.unwrap();
        let inner = after.inner.unwrap().momentum;
        let expected: Vec<f32> = values(&before.moment_1).iter().map(|m| 0.5 * m).collect();
        assert_eq!(values(&inner.moment_1), expected);
        assert_eq!(values(&inner.moment_2), values(&before.moment_2));
        assert_eq!(inner.time, 3, "Adam's step count is kept");
        assert_eq!(values(&after.pullback_cache.unwrap()), expected);
    }

    #[test]
    fn reset_restarts_adam_bias_correction() {
        let optim = lookahead(3, 0.5, InnerStatePolicy::Reset, AdamConfig::new().build());
        let (_, state) = run_quadratic(&optim, &[1.0], &[1.0], 0.01, 4);
        assert_eq!(state.unwrap().inner.unwrap().momentum.time, 1);
    }

    #[derive(Module, Debug)]
    struct TwoParams<B: burn::tensor::backend::Backend> {
        a: Param<Tensor<B, 1>>,
        b: Param<Tensor<B, 1>>,
    }

    #[test]
    fn a_parameter_without_gradient_syncs_on_its_own_count() {
        let device = Default::default();
        let init = |v: [f32; 2]| Param::from_tensor(Tensor::<AB, 1>::from_floats(v, &device));
        let mut model = TwoParams {
            a: init([1.0, 2.0]),
            b: init([-1.0, 0.5]),
        };
        let (id_a, id_b) = (model.a.id, model.b.id);
        let mut optim = LookaheadConfig::new()
            .with_k(3)
            .init::<AB, TwoParams<AB>, _>(sgd_momentum(false))
            .unwrap();
        for step in 0..6 {
            let mut loss = model.a.val().powi_scalar(2).sum().mul_scalar(0.5);
            if step % 2 == 0 {
                loss = loss + model.b.val().powi_scalar(2).sum().mul_scalar(0.5);
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(0.1, model, grads);
        }
        let record = optim.to_record();
        let state = |id| record.get(&id).unwrap().clone().into_state::<1>();
        assert_eq!(state(id_a).count, 6);
        assert_eq!(state(id_b).count, 3);
        // b took 3 steps, so it has just synced: the same value as 3 per-tensor steps.
        let (expected, _) = run_quadratic(
            &lookahead(3, 0.5, InnerStatePolicy::Keep, sgd_momentum(false)),
            &[-1.0, 0.5],
            &[1.0, 1.0],
            0.1,
            3,
        );
        assert_eq!(
            model.b.val().into_data().to_vec::<f32>().unwrap(),
            expected[2]
        );
        assert_eq!(
            state(id_b).slow.into_data().to_vec::<f32>().unwrap(),
            expected[2]
        );
    }

    fn linear_problem(device: &burn::tensor::Device<AB>) -> (Linear<AB>, Vec<Batch>) {
        TB::seed(device, 7);
        let model: Linear<AB> = LinearConfig::new(4, 3).init(device);
        // Parameters are initialised lazily, on first use: do it now, so clones share them.
        let _ = (model.weight.val(), model.bias.as_ref().map(|b| b.val()));
        let batches = (0..16)
            .map(|_| {
                let x = Tensor::random([8, 4], Distribution::Normal(0.0, 1.0), device);
                let y = Tensor::random([8, 3], Distribution::Normal(0.0, 1.0), device);
                (x, y)
            })
            .collect();
        (model, batches)
    }

    fn train<O: Optimizer<Linear<AB>, AB>>(
        mut model: Linear<AB>,
        optim: &mut O,
        batches: &[Batch],
    ) -> Linear<AB> {
        for (x, y) in batches {
            let loss = (model.forward(x.clone()) - y.clone()).powi_scalar(2).mean();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(0.05, model, grads);
        }
        model
    }

    fn params(model: &Linear<AB>) -> Vec<f32> {
        let mut out = model.weight.val().into_data().to_vec::<f32>().unwrap();
        out.extend(
            model
                .bias
                .as_ref()
                .unwrap()
                .val()
                .into_data()
                .to_vec::<f32>()
                .unwrap(),
        );
        out
    }

    fn check_resume<O: FirstMoment<TB>>(name: &str, inner: O) {
        let device = Default::default();
        for policy in [
            InnerStatePolicy::Keep,
            InnerStatePolicy::Reset,
            InnerStatePolicy::Pullback,
        ] {
            let config = LookaheadConfig::new().with_k(5).with_inner_state(policy);
            let (model, batches) = linear_problem(&device);
            let mut optim = config.init::<AB, Linear<AB>, _>(inner.clone()).unwrap();
            let uninterrupted = train(model.clone(), &mut optim, &batches);

            let mut optim = config.init::<AB, Linear<AB>, _>(inner.clone()).unwrap();
            let model = train(model, &mut optim, &batches[..7]);
            // Save both through a Burn recorder, as a checkpoint would, and restore into fresh ones.
            let recorder = BinBytesRecorder::<FullPrecisionSettings>::default();
            let optim_bytes = recorder.record(optim.to_record(), ()).unwrap();
            let model_bytes = recorder.record(model.into_record(), ()).unwrap();
            drop(optim);
            let (fresh_model, _) = linear_problem(&device);
            let model = fresh_model.load_record(recorder.load(model_bytes, &device).unwrap());
            let mut optim = config
                .init::<AB, Linear<AB>, _>(inner.clone())
                .unwrap()
                .load_record(recorder.load(optim_bytes, &device).unwrap());
            let resumed = train(model, &mut optim, &batches[7..]);
            assert_eq!(
                params(&resumed),
                params(&uninterrupted),
                "{name} {policy:?}"
            );
        }
    }

    #[test]
    fn resume_mid_cycle_is_bit_exact_sgd() {
        check_resume("sgd", sgd_momentum(false));
    }

    #[test]
    fn resume_mid_cycle_is_bit_exact_adam() {
        check_resume("adam", AdamConfig::new().build());
    }

    #[test]
    fn slow_weight_model_matches_slow_copies_and_leaves_training_alone() {
        let device = Default::default();
        let config = LookaheadConfig::new().with_k(5);
        let (model, batches) = linear_problem(&device);
        let mut reference_optim = config
            .init::<AB, Linear<AB>, _>(sgd_momentum(false))
            .unwrap();
        let reference = train(model.clone(), &mut reference_optim, &batches);

        let mut optim = config
            .init::<AB, Linear<AB>, _>(sgd_momentum(false))
            .unwrap();
        let model = train(model, &mut optim, &batches[..7]);
        let slow = slow_weights(&optim, &model);
        let record = optim.to_record();
        let slow_of = |id| {
            record
                .get(&id)
                .unwrap()
                .clone()
                .into_state::<2>()
                .slow
                .into_data()
        };
        assert_eq!(slow.weight.val().into_data(), slow_of(model.weight.id));
        assert_ne!(
            slow.weight.val().into_data(),
            model.weight.val().into_data(),
            "after step 7, φ ≠ θ"
        );
        let bias_slow = record
            .get(&model.bias.as_ref().unwrap().id)
            .unwrap()
            .clone()
            .into_state::<1>()
            .slow;
        assert_eq!(
            slow.bias.as_ref().unwrap().val().into_data(),
            bias_slow.into_data()
        );
        let continued = train(model, &mut optim, &batches[7..]);
        assert_eq!(params(&continued), params(&reference));
    }

    /// Per-tensor Lookahead steps with a constant gradient `g` and lr 1: the values after
    /// each step.
    fn constant_grad_run<O: FirstMoment<TB>>(
        optim: &Lookahead<O>,
        g: f32,
        steps: usize,
    ) -> Vec<f32> {
        let mut x = tensor1(&[0.0]);
        let mut state = None;
        let mut out = Vec::with_capacity(steps);
        for _ in 0..steps {
            let (next, s) = optim.step(1.0, x, tensor1(&[g]), state);
            x = next;
            state = s;
            out.push(values(&x)[0]);
        }
        out
    }

    /// The seed study's slow start: φ = θ1, so the first sync (step k = 5) covers 4 steps.
    #[test]
    fn slow_weights_can_start_after_the_first_step() {
        let sgd = SgdConfig::new().build::<TB>();
        let theta0 = LookaheadConfig::new().build::<TB, _>(sgd.clone()).unwrap();
        let theta1 = LookaheadConfig::new()
            .with_slow_start(Some(SlowStart::AfterFirstStep))
            .build::<TB, _>(sgd)
            .unwrap();
        // θ_i = −i before any sync (lr 1, g 1): φ0 = 0 → −2.5; φ1 = −1 → −1 + 0.5·(−5 + 1) = −3.
        assert_eq!(constant_grad_run(&theta0, 1.0, 5)[4], -2.5);
        assert_eq!(constant_grad_run(&theta1, 1.0, 5)[4], -3.0);
        // Later cycles are k steps again: −3 − 5 = −8 → −3 + 0.5·(−8 + 3) = −5.5.
        assert_eq!(constant_grad_run(&theta1, 1.0, 10)[9], -5.5);
    }

    /// `ZeroMoments` over Adam (β = (0.9, 0.999), ε ≈ 0) after t = 2000 steps: the moments are
    /// zero but t runs on, so step t + j (g constant, |g| = 1) moves by
    /// `lr·m_j/(1 − β1^(t+j)) / √(v_j/(1 − β2^(t+j)))` with m_1 = 0.1, v_1 = 0.001,
    /// m_2 = 0.19, v_2 = 0.001999: ≈ 2.94 and 3.95 × lr, where `Reset` moves by exactly lr.
    #[test]
    fn zero_moments_keeps_adams_step_count() {
        let adam = AdamConfig::new()
            .with_beta_1(0.9)
            .with_beta_2(0.999)
            .with_epsilon(1e-12)
            .build();
        let config = LookaheadConfig::new().with_alpha(1.0);
        let zero = config
            .clone()
            .with_inner_state(InnerStatePolicy::ZeroMoments)
            .build::<TB, _>(adam.clone())
            .unwrap();
        let t = 2000;
        let xs = constant_grad_run(&zero, 1.0, t + 2);
        let hand = |m: f64, v: f64, time: i32| {
            let bc1 = 1.0 - 0.9f64.powi(time);
            let bc2 = 1.0 - 0.999f64.powi(time);
            (m / bc1) / (v / bc2).sqrt()
        };
        let first = hand(0.1, 0.001, t as i32 + 1);
        let second = hand(0.19, 0.001999, t as i32 + 2);
        assert!((first - 2.941).abs() < 1e-3 && (second - 3.952).abs() < 1e-3);
        // f32 weights near −2000: compare the moves with an f32 tolerance.
        let moved = |i: usize| f64::from(xs[i - 1] - xs[i]);
        assert!((moved(t) - first).abs() < 2e-3, "{} vs {first}", moved(t));
        assert!(
            (moved(t + 1) - second).abs() < 2e-3,
            "{} vs {second}",
            moved(t + 1)
        );
        // Reset restarts the bias correction: the first step after a sync is lr·sign(g).
        let reset = config
            .with_inner_state(InnerStatePolicy::Reset)
            .build::<TB, _>(adam)
            .unwrap();
        let xs = constant_grad_run(&reset, 1.0, t + 1);
        assert!((f64::from(xs[t - 1] - xs[t]) - 1.0).abs() < 2e-3);
    }

    /// For SGD with momentum and no dampening, zeroing the velocity is a reset: the next
    /// velocity is the gradient either way.
    #[test]
    fn zero_moments_equals_reset_for_sgd_and_needs_a_first_moment() {
        let config = LookaheadConfig::new().with_k(3);
        let zero = config
            .clone()
            .with_inner_state(InnerStatePolicy::ZeroMoments)
            .build::<TB, _>(sgd_momentum(false))
            .unwrap();
        let reset = config
            .clone()
            .with_inner_state(InnerStatePolicy::Reset)
            .build::<TB, _>(sgd_momentum(false))
            .unwrap();
        let a = run_quadratic(&zero, &[1.0, -2.0], &[0.5, 2.0], 0.1, 10).0;
        let b = run_quadratic(&reset, &[1.0, -2.0], &[0.5, 2.0], 0.1, 10).0;
        assert_eq!(a, b);
        let adagrad = NoFirstMoment(AdaGradConfig::new().build());
        let err = config
            .with_inner_state(InnerStatePolicy::ZeroMoments)
            .build::<TB, _>(adagrad)
            .err()
            .expect("refused");
        assert!(
            matches!(err, ConfigError::PullbackUnsupported { .. }),
            "{err}"
        );
    }
}
