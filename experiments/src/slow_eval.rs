//! Validation on Lookahead's slow weights (`eval_weights = "slow"`).
//!
//! burn-train validates `learner.model().valid()`, the fast weights, and offers no hook between
//! an epoch's last optimizer step and its validation. So the run's optimizer is wrapped in
//! [`EpochEndSlow`], which after the last step of every epoch builds the slow-weight model
//! (`lookahead_optim::slow_weights`, which leaves training untouched) and leaves it in a
//! [`SlowModel`] slot that the validation model shares (a `#[module(skip)]` field of the
//! classifier); the validation step then runs that model instead of its own weights. Training,
//! checkpoints and the saved model stay those of the fast weights.

use std::any::Any;
use std::sync::{Arc, Mutex};

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{GradientsParams, LearningRate, MultiGradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use lookahead_optim::{FirstMoment, Lookahead, slow_weights};
use models::ResNet;

use crate::model::Classifier;
use crate::nodes::{LocalGrads, NodeLink, StopVote};

/// A slot holding the validation network of the last epoch's slow weights (stored as `Any`
/// because the slot, a skipped field of the classifier, cannot depend on its backend; the
/// writer and the reader agree on the type through [`SlowModel::get`]).
#[derive(Clone, Default)]
pub struct SlowModel(Arc<Mutex<Option<Box<dyn Any + Send>>>>);

impl std::fmt::Debug for SlowModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlowModel")
    }
}

impl SlowModel {
    /// Replaces the slot's model.
    pub fn set<T: Any + Send>(&self, model: T) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(model));
    }

    /// A copy of the slot's model, if it holds one of type `T`.
    pub fn get<T: Any + Clone>(&self) -> Option<T> {
        let slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref()?.downcast_ref::<T>().cloned()
    }
}

/// The run's optimizer: Lookahead over `O`, which with a [`SlowModel`] slot also stores the
/// slow-weight validation model after the last step of each epoch. Its record is the wrapped
/// optimizer's, so checkpoints do not change.
#[derive(Clone)]
pub struct EpochEndSlow<B, O>
where
    B: AutodiffBackend,
    O: FirstMoment<B::InnerBackend>,
{
    optim: OptimizerAdaptor<Lookahead<O>, Classifier<B>, B>,
    /// Optimizer steps per epoch; the session's steps are counted from a resumed epoch's start.
    per_epoch: usize,
    steps: usize,
    slot: Option<SlowModel>,
    /// In a multi-node run, the link whose all-reduce averages each step's gradients (and
    /// BatchNorm statistics) first.
    link: Option<Arc<NodeLink>>,
    /// With `link`, where the nodes' per-step exchange decides to stop the run.
    vote: Option<Arc<StopVote>>,
}

impl<B, O> EpochEndSlow<B, O>
where
    B: AutodiffBackend,
    O: FirstMoment<B::InnerBackend>,
{
    /// Wraps `optim`; with `slot`, the slow-weight network of each epoch's end is stored there.
    pub fn new(
        optim: OptimizerAdaptor<Lookahead<O>, Classifier<B>, B>,
        per_epoch: usize,
        slot: Option<SlowModel>,
    ) -> Self {
        Self {
            optim,
            per_epoch: per_epoch.max(1),
            steps: 0,
            slot,
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

    /// The wrapped optimizer.
    pub fn inner(&self) -> &OptimizerAdaptor<Lookahead<O>, Classifier<B>, B> {
        &self.optim
    }

    /// Counts the step; at an epoch's end (with a slot) stores the slow-weight validation model.
    fn after_step(&mut self, module: &Classifier<B>) {
        self.steps += 1;
        if let Some(slot) = &self.slot
            && self.steps.is_multiple_of(self.per_epoch)
        {
            let net: ResNet<B::InnerBackend> = slow_weights(&self.optim, module).net.valid();
            slot.set(net);
        }
    }

    /// One update: in a multi-node run the gradients (and the module's BatchNorm statistics)
    /// are first averaged over the nodes (see [`NodeLink::all_reduce_step`]; a failed exchange
    /// ends the process with its message) and the vote decides whether training stops after
    /// this step, then Lookahead steps, then [`Self::after_step`].
    /// With nodes, several local devices' gradients are summed first, then averaged over nodes.
    fn update(
        &mut self,
        lr: LearningRate,
        module: Classifier<B>,
        grads: LocalGrads,
    ) -> Classifier<B> {
        let (module, grads) = match &self.link {
            Some(link) => {
                let requested = self.vote.as_ref().is_some_and(|v| v.requested());
                let (module, grads, exchanged) = link
                    .all_reduce_step(module, grads, requested)
                    .unwrap_or_else(|e| link.fail(&e));
                if let Some(vote) = &self.vote {
                    vote.decide(exchanged);
                }
                (module, LocalGrads::Single(grads))
            }
            None => (module, grads),
        };
        let module = match grads {
            LocalGrads::Single(grads) => self.optim.step(lr, module, grads),
            LocalGrads::Multi(grads) => self.optim.step_multi(lr, module, grads),
        };
        self.after_step(&module);
        module
    }
}

type Adapted<B, O> = OptimizerAdaptor<Lookahead<O>, Classifier<B>, B>;

impl<B, O> Optimizer<Classifier<B>, B> for EpochEndSlow<B, O>
where
    B: AutodiffBackend,
    O: FirstMoment<B::InnerBackend>,
{
    type Record = <Adapted<B, O> as Optimizer<Classifier<B>, B>>::Record;

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
        self.optim.to_record()
    }

    fn load_record(mut self, record: Self::Record) -> Self {
        self.optim = self.optim.load_record(record);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_returns_only_its_own_type() {
        let slot = SlowModel::default();
        assert_eq!(slot.get::<u32>(), None);
        slot.clone().set(7_u32);
        assert_eq!(slot.get::<u32>(), Some(7));
        assert_eq!(slot.get::<i64>(), None);
    }
}
