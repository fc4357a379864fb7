//! From a spec to the Burn optimizer a run steps: every spec builds `Lookahead<Inner>` (a plain
//! inner optimizer is Lookahead with k = 1, α = 1 and Keep, bit-identical to the inner
//! optimizer alone, see `lookahead-optim`), so a suite mixing all optimizers trains one
//! optimizer type.

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::tensor::backend::AutodiffBackend;
use lookahead_optim::{InnerStatePolicy, Lookahead, LookaheadConfig, SlowStart};
use study::spec::{OptimizerSpec, SpecError, StatePolicy};

use super::inner::Inner;
use crate::channels::ScheduledMomentum;

/// The Burn optimizer every spec builds: Lookahead over [`Inner`], adapted for module `M`.
pub type StudyOptimizer<M, B> =
    OptimizerAdaptor<Lookahead<Inner<<B as AutodiffBackend>::InnerBackend>>, M, B>;

/// What a run adds to every inner step besides its spec (both off by default).
#[derive(Debug, Clone, Default)]
pub struct StepExtras {
    /// The momentum the schedule sets before each step (fastai's `moms`).
    pub momentum: Option<ScheduledMomentum>,
    /// fastai v1's true weight decay: every parameter × (1 − wd·lr) before each step.
    pub true_weight_decay: Option<f64>,
}

/// `lookahead-optim`'s configuration of a spec (k = 1, α = 1, Keep for a plain optimizer).
pub fn lookahead_config(spec: &OptimizerSpec) -> LookaheadConfig {
    let la = spec.lookahead();
    let policy = match la.policy {
        StatePolicy::Keep => InnerStatePolicy::Keep,
        StatePolicy::Reset => InnerStatePolicy::Reset,
        StatePolicy::Pullback => InnerStatePolicy::Pullback,
        StatePolicy::ZeroMoments => InnerStatePolicy::ZeroMoments,
    };
    let start = match la.slow_start {
        study::spec::SlowStart::Initial => SlowStart::Initial,
        study::spec::SlowStart::AfterFirstStep => SlowStart::AfterFirstStep,
    };
    let config = LookaheadConfig::new()
        .with_k(la.k)
        .with_alpha(la.alpha)
        .with_inner_state(policy);
    match spec {
        OptimizerSpec::Plain(_) => config,
        OptimizerSpec::Lookahead { .. } => config.with_slow_start(Some(start)),
    }
}

/// Builds the Burn optimizer of an [`OptimizerSpec`].
///
/// ```
/// use burn::backend::{Autodiff, Flex};
/// use experiments::optim::BuildOptimizer;
/// use study::spec::OptimizerSpec;
///
/// type B = Autodiff<Flex>;
/// let spec = OptimizerSpec::parse("lookahead(adamw, k=6, alpha=0.5, pullback)").unwrap();
/// let optim = spec.build::<B, burn::nn::Linear<B>>().unwrap();
/// assert_eq!(optim.optim().k(), 6);
/// // Pullback needs a first moment: plain SGD has none.
/// let no_moment = OptimizerSpec::parse("lookahead(sgd(momentum=0), pullback)").unwrap();
/// assert!(no_moment.build::<B, burn::nn::Linear<B>>().is_err());
/// ```
pub trait BuildOptimizer {
    /// Builds the Burn optimizer for module `M` (refusing, e.g., Pullback without momentum).
    fn build<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
    ) -> Result<StudyOptimizer<M, B>, SpecError> {
        self.build_with(&StepExtras::default())
    }

    /// [`build`](Self::build) with a schedule-driven momentum and/or fastai's true weight
    /// decay (see [`Inner`]).
    fn build_with<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
        extras: &StepExtras,
    ) -> Result<StudyOptimizer<M, B>, SpecError>;

    /// The inner optimizer alone, adapted directly by Burn's [`OptimizerAdaptor`] (no Lookahead
    /// wrapper): the bare baseline of `experiments throughput`.
    fn build_bare<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
    ) -> Result<OptimizerAdaptor<Inner<B::InnerBackend>, M, B>, SpecError>;
}

impl BuildOptimizer for OptimizerSpec {
    fn build_with<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
        extras: &StepExtras,
    ) -> Result<StudyOptimizer<M, B>, SpecError> {
        let fail = |message: String| SpecError {
            spec: self.to_string(),
            message,
        };
        let inner = Inner::new(
            self.inner(),
            extras.momentum.clone(),
            extras.true_weight_decay,
        )
        .map_err(fail)?;
        lookahead_config(self)
            .init(inner)
            .map_err(|e| fail(e.to_string()))
    }

    fn build_bare<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
    ) -> Result<OptimizerAdaptor<Inner<B::InnerBackend>, M, B>, SpecError> {
        let inner = Inner::new(self.inner(), None, None).map_err(|message| SpecError {
            spec: self.to_string(),
            message,
        })?;
        Ok(OptimizerAdaptor::from(inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::assert_close;
    use burn::backend::Flex;
    use burn::tensor::Tensor;
    use burn::tensor::backend::Backend;
    use lookahead_optim::RangerConfig;

    const MOMS: [f64; 4] = [0.95, 0.9, 0.85, 0.9];

    /// The grammar's defaults (in `study`) are `lookahead-optim`'s.
    #[test]
    fn the_grammar_defaults_are_lookahead_optims() {
        let la = LookaheadConfig::new();
        assert_eq!(
            (la.k, la.alpha),
            (study::spec::LOOKAHEAD_K, study::spec::LOOKAHEAD_ALPHA)
        );
        let r = RangerConfig::new();
        let ours = study::spec::RANGER;
        assert_eq!((r.k, r.alpha), (ours.k, ours.alpha));
        assert_eq!(
            ours.inner,
            study::spec::InnerSpec::RAdam {
                beta_1: r.beta_1,
                beta_2: r.beta_2,
                epsilon: r.epsilon,
                weight_decay: r.weight_decay,
            }
        );
        // And the validity rule agrees on both sides of the boundary.
        for (k, alpha) in [(0, 0.5), (1, 0.0), (1, 1.0), (1, 1.5), (3, 0.5)] {
            let spec = study::spec::LookaheadSpec {
                k,
                alpha,
                policy: StatePolicy::Keep,
                slow_start: study::spec::SlowStart::Initial,
            };
            let burn_side = LookaheadConfig::new()
                .with_k(k)
                .with_alpha(alpha)
                .validate();
            assert_eq!(
                spec.check().is_ok(),
                burn_side.is_ok(),
                "k {k}, alpha {alpha}"
            );
        }
    }

    /// The same under Lookahead (the spec's optimizer type): true weight decay and the
    /// scheduled momentum act on the fast weights inside each inner step.
    #[test]
    fn extras_act_inside_lookahead() {
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

    /// Every run of every shipped suite builds its optimizer as a run would (with the schedule's
    /// momentum handle and true weight decay when the recipe asks for them).
    #[test]
    fn every_shipped_spec_builds() {
        use study::suite::{SHIPPED, Suite};
        type AB = burn::backend::Autodiff<burn::backend::NdArray>;
        for (name, text) in SHIPPED {
            let suite = Suite::parse(text, name).unwrap();
            for run in suite.runs(std::path::Path::new("runs")) {
                let extras = StepExtras {
                    momentum: run.config.moms.map(|_| ScheduledMomentum::default()),
                    true_weight_decay: run.config.true_weight_decay,
                };
                let built = run
                    .config
                    .optimizer_spec()
                    .build_with::<AB, burn::nn::Linear<AB>>(&extras);
                assert!(built.is_ok(), "{name}/{}: {:?}", run.label, built.err());
            }
        }
    }
}
