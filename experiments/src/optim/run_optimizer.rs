//! [`RunOptimizer`]: the optimizer a run hands burn-train's `Learner`, with every stage of an
//! update in one place (see [`RunOptimizer::update`]).

use std::sync::Arc;

use burn::optim::{GradientsParams, LearningRate, MultiGradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use lookahead_optim::{InnerStatePolicy, SlowSlot, SlowValidation};

use super::build::StudyOptimizer;
use super::inner::Inner;
use crate::model::Classifier;
use crate::nodes::{LocalGrads, NodeLink, StopVote};

/// The spec's optimizer with `lookahead-optim`'s slow-weight validation around it.
type WithSlowValidation<B> =
    SlowValidation<Inner<<B as AutodiffBackend>::InnerBackend>, InnerStatePolicy, Classifier<B>, B>;

/// The spec's optimizer, validating on its fast weights or (with a slot) its slow weights.
#[derive(Clone)]
enum Stepper<B: AutodiffBackend> {
    /// `eval_weights = "fast"`.
    Fast(StudyOptimizer<Classifier<B>, B>),
    /// `eval_weights = "slow"`: after each epoch's last step, the slow weights go to the slot.
    Slow(WithSlowValidation<B>),
}

/// The run's optimizer: the spec's `Lookahead<Inner>` ([`StudyOptimizer`]), preceded in a
/// multi-node run by the nodes' exchange, and followed at each epoch's end by the slow-weight
/// snapshot that validation reads. Its record is the spec optimizer's, so checkpoints do not
/// change.
#[derive(Clone)]
pub struct RunOptimizer<B: AutodiffBackend> {
    stepper: Stepper<B>,
    /// In a multi-node run, the link whose all-reduce averages each step's gradients (and
    /// BatchNorm statistics) first.
    link: Option<Arc<NodeLink>>,
    /// With `link`, where the nodes' per-step exchange decides to stop the run.
    vote: Option<Arc<StopVote>>,
}

impl<B: AutodiffBackend> RunOptimizer<B> {
    /// Wraps `optim`; with `slot`, the slow weights of each epoch's end (every `per_epoch`
    /// steps, counted from this session's start, an epoch's beginning) are stored there.
    pub fn new(
        optim: StudyOptimizer<Classifier<B>, B>,
        per_epoch: usize,
        slot: Option<SlowSlot>,
    ) -> Self {
        let stepper = match slot {
            Some(slot) => Stepper::Slow(SlowValidation::new(optim, per_epoch, slot)),
            None => Stepper::Fast(optim),
        };
        Self {
            stepper,
            link: None,
            vote: None,
        }
    }

    /// Averages every step's gradients, and the module's BatchNorm running statistics, over the
    /// nodes of `link` before the update (so every node applies the same update and holds the
    /// same weights and statistics).
    pub fn with_link(self, link: Option<Arc<NodeLink>>) -> Self {
        Self { link, ..self }
    }

    /// With a link: sends `vote`'s stop request with every step's exchange and lets it decide
    /// from what the exchange showed (so that every node stops after the same step).
    pub fn with_vote(self, vote: Option<Arc<StopVote>>) -> Self {
        Self { vote, ..self }
    }

    /// The spec's optimizer.
    pub fn inner(&self) -> &StudyOptimizer<Classifier<B>, B> {
        match &self.stepper {
            Stepper::Fast(optim) => optim,
            Stepper::Slow(optim) => optim.inner(),
        }
    }

    /// One update, in two stages:
    /// 1. [`exchange`](Self::exchange) (multi-node runs): the gradients and BatchNorm
    ///    statistics averaged over the nodes, and the stop vote;
    /// 2. the spec's optimizer: the inner step of `Lookahead<Inner>`, every k-th step
    ///    Lookahead's sync (slow weights, inner-state policy), and with slow-weight validation
    ///    at an epoch's end the slow weights stored for validation (`SlowValidation`).
    pub fn update(
        &mut self,
        lr: LearningRate,
        module: Classifier<B>,
        grads: LocalGrads,
    ) -> Classifier<B> {
        let (module, grads) = self.exchange(module, grads);
        match (&mut self.stepper, grads) {
            (Stepper::Fast(o), LocalGrads::Single(g)) => o.step(lr, module, g),
            (Stepper::Fast(o), LocalGrads::Multi(g)) => o.step_multi(lr, module, g),
            (Stepper::Slow(o), LocalGrads::Single(g)) => o.step(lr, module, g),
            (Stepper::Slow(o), LocalGrads::Multi(g)) => o.step_multi(lr, module, g),
        }
    }

    /// Stage 1: in a multi-node run, the gradients (several local devices' summed first) and
    /// the module's BatchNorm statistics averaged over the nodes (see
    /// [`NodeLink::all_reduce_step`]; a failed exchange ends the process with its message), and
    /// the vote on whether training stops after this step. One process: unchanged.
    fn exchange(&self, module: Classifier<B>, grads: LocalGrads) -> (Classifier<B>, LocalGrads) {
        let Some(link) = &self.link else {
            return (module, grads);
        };
        let requested = self.vote.as_ref().is_some_and(|v| v.requested());
        let (module, grads, exchanged) = link
            .all_reduce_step(module, grads, requested)
            .unwrap_or_else(|e| link.fail(&e));
        if let Some(vote) = &self.vote {
            vote.decide(exchanged);
        }
        (module, LocalGrads::Single(grads))
    }
}

impl<B: AutodiffBackend> Optimizer<Classifier<B>, B> for RunOptimizer<B> {
    type Record = <StudyOptimizer<Classifier<B>, B> as Optimizer<Classifier<B>, B>>::Record;

    fn step(
        &mut self,
        lr: LearningRate,
        module: Classifier<B>,
        grads: GradientsParams,
    ) -> Classifier<B> {
        self.update(lr, module, LocalGrads::Single(grads))
    }

    fn step_multi(
        &mut self,
        lr: LearningRate,
        module: Classifier<B>,
        grads: MultiGradientsParams,
    ) -> Classifier<B> {
        self.update(lr, module, LocalGrads::Multi(grads))
    }

    fn to_record(&self) -> Self::Record {
        self.inner().to_record()
    }

    fn load_record(self, record: Self::Record) -> Self {
        let stepper = match self.stepper {
            Stepper::Fast(o) => Stepper::Fast(o.load_record(record)),
            Stepper::Slow(o) => Stepper::Slow(o.load_record(record)),
        };
        Self { stepper, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::BuildOptimizer;
    use crate::test_util::{B, batch, classifier};
    use burn::backend::Flex;
    use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
    use burn::tensor::{DType, Int, Tensor};
    use burn::train::{ClassificationOutput, InferenceStep, TrainStep};
    use data::ImageBatch;
    use study::config::Precision;
    use study::spec::OptimizerSpec;

    /// `eval_weights = "slow"`: after each epoch's last step the validation model runs
    /// Lookahead's slow weights (here mid-cycle: 4 steps with k = 3, so φ ≠ θ), training keeps
    /// the fast weights, and without the slot validation runs the fast weights.
    #[test]
    fn validation_runs_the_slow_weights_of_the_epoch_end() {
        let slot = SlowSlot::default();
        let mut model = classifier(Precision::F32, 1.0);
        model.slow = slot.clone();
        let inner = OptimizerSpec::parse("lookahead(sgd(momentum=0.9), k=3, alpha=0.5)")
            .unwrap()
            .build::<B, Classifier<B>>()
            .unwrap();
        let mut optim = RunOptimizer::new(inner, 2, Some(slot.clone()));
        // A fixed batch, not drawn from the backend's (global, shared between tests) generator.
        let device = Default::default();
        let pixels: Vec<f32> = (0..8 * 28 * 28)
            .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
            .collect();
        let images =
            Tensor::<B, 1>::from_floats(pixels.as_slice(), &device).reshape([8, 1, 28, 28]);
        let batch = || ImageBatch::<B> {
            images: images.clone(),
            targets: Tensor::<B, 1, Int>::from_ints([0, 1, 2, 3, 4, 5, 6, 7], &device),
            mix: None,
        };
        for step in 1..=4 {
            let output = TrainStep::step(&model, batch());
            model = optim.step(0.1, model, output.grads);
            // The slot is filled at epoch ends (every 2 steps) only.
            assert_eq!(slot.is_filled(), step >= 2, "step {step}");
        }
        let slow = lookahead_optim::slow_weights(optim.inner(), &model);
        let valid_images = images.clone().inner();
        let valid_batch = || ImageBatch::<Flex> {
            images: valid_images.clone(),
            targets: Tensor::from_ints([0, 1, 2, 3, 4, 5, 6, 7], &Default::default()),
            mix: None,
        };
        let logits = |output: ClassificationOutput<Flex>| -> Vec<f32> {
            output.output.into_data().to_vec().unwrap()
        };
        let validated = logits(InferenceStep::step(&model.valid(), valid_batch()));
        let of_slow = logits(slow.valid().forward_classification(valid_batch(), false));
        let mut fast_only = model.valid();
        fast_only.slow = SlowSlot::default();
        let of_fast = logits(InferenceStep::step(&fast_only, valid_batch()));
        assert_eq!(validated, of_slow);
        assert_ne!(validated, of_fast, "mid-cycle, φ and θ differ");
    }

    #[test]
    fn lookahead_over_bf16_keeps_f32_weights() {
        let mut model = classifier(Precision::Bf16, 1.0);
        let mut optim = OptimizerSpec::parse("lookahead(sgd(momentum=0.9), k=2, alpha=0.5)")
            .unwrap()
            .build::<B, Classifier<B>>()
            .unwrap();
        let before = model.net.fc.weight.val().into_data();
        for _ in 0..3 {
            let output = TrainStep::step(&model, batch(&Default::default()));
            model = optim.step(0.1, model, output.grads);
        }
        struct AllF32(usize);
        impl ModuleVisitor<B> for AllF32 {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
                assert_eq!(param.val().dtype(), DType::F32);
                self.0 += 1;
            }
        }
        let mut all = AllF32(0);
        model.visit(&mut all);
        assert!(all.0 > 10);
        assert_ne!(model.net.fc.weight.val().into_data(), before);
    }
}
