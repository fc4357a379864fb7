//! Validation on Lookahead's slow weights inside burn-train's `Learner`.
//!
//! burn-train validates `learner.model().valid()`, the fast weights θ, and offers no hook
//! between an epoch's last optimizer step and its validation. [`SlowValidation`] wraps the
//! Lookahead module optimizer and, after the last step of every epoch, leaves the model with
//! the slow weights φ ([`slow_weights`], which leaves training untouched) in a [`SlowSlot`].
//! The model holds the same slot as a `#[module(skip)]` field, and its validation step runs
//! itself with the slot's weights when there are some. Training, checkpoints (the record is the wrapped
//! optimizer's) and the saved model stay those of the fast weights.
//!
//! ```
//! use burn::backend::{Autodiff, NdArray};
//! use burn::module::{AutodiffModule, Module};
//! use burn::nn::{Linear, LinearConfig};
//! use burn::optim::{GradientsParams, Optimizer, SgdConfig};
//! use burn::tensor::backend::Backend;
//! use burn::tensor::{Distribution, Tensor};
//! use lookahead_optim::{Keep, LookaheadConfig, SlowSlot, SlowValidation};
//!
//! /// A model whose validation runs the slot's slow weights when the slot holds them.
//! #[derive(Module, Debug)]
//! struct Net<B: Backend> {
//!     linear: Linear<B>,
//!     #[module(skip)]
//!     slow: SlowSlot,
//! }
//!
//! impl<B: Backend> Net<B> {
//!     fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
//!         self.linear.forward(x)
//!     }
//!     /// What a burn-train `InferenceStep` would call.
//!     fn validate(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
//!         match self.slow.apply(self.clone()) {
//!             Some(slow) => slow.forward(x),
//!             None => self.forward(x),
//!         }
//!     }
//! }
//!
//! type B = Autodiff<NdArray>;
//! let device = Default::default();
//! let slot = SlowSlot::default();
//! let mut net = Net::<B> { linear: LinearConfig::new(4, 1).init(&device), slow: slot.clone() };
//! let lookahead = LookaheadConfig::new()
//!     .with_k(3)
//!     .init_with::<B, Net<B>, _, _>(SgdConfig::new().build(), Keep)
//!     .unwrap();
//! // Two steps per epoch: the slot is filled after steps 2, 4, …
//! let mut optim = SlowValidation::new(lookahead, 2, slot.clone());
//! for step in 1..=4 {
//!     let x = Tensor::<B, 2>::random([8, 4], Distribution::Default, &device);
//!     let grads = GradientsParams::from_grads(net.forward(x).mean().backward(), &net);
//!     net = optim.step(0.1, net, grads);
//!     assert_eq!(slot.is_filled(), step >= 2);
//! }
//! // Step 4 is mid-cycle (k = 3): validation sees φ, not θ.
//! let x = Tensor::<NdArray, 2>::ones([1, 4], &device);
//! let valid = net.valid();
//! assert_ne!(valid.validate(x.clone()).into_data(), valid.forward(x).into_data());
//! ```

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use burn::module::{AutodiffModule, Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{
    GradientsParams, LearningRate, MultiGradientsParams, Optimizer, SimpleOptimizer,
};
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};

use crate::{Lookahead, SyncPolicy, slow_weights};

/// The float parameters of a model by id, each a `Tensor<B, D>` stored as `Any`.
type Params = HashMap<ParamId, Box<dyn Any + Send>>;

/// A slot holding the slow weights of the last epoch's end, shared by the optimizer (writer,
/// [`SlowValidation`]) and the model (reader, as a `#[module(skip)]` field).
///
/// It holds the parameters by id, not a model: a stored model would hold the slot itself (its
/// skipped field) and never be freed. A skipped field also keeps its type when Burn turns the
/// model into its validation form, so the slot cannot name the backend: the tensors are stored
/// as `Any` and read back as the backend's they were stored for.
#[derive(Clone, Default)]
pub struct SlowSlot(Arc<Mutex<Option<Params>>>);

impl std::fmt::Debug for SlowSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlowSlot")
    }
}

impl SlowSlot {
    /// Stores the float parameters of `model` (replacing what the slot held).
    pub fn set<B: Backend, M: Module<B>>(&self, model: &M) {
        let mut collect = Collect(HashMap::new());
        model.visit(&mut collect);
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(collect.0);
    }

    /// `model` with the stored parameters in place of its own (by id; a parameter the slot does
    /// not hold for this backend keeps its value), or `None` while the slot is empty.
    pub fn apply<B: Backend, M: Module<B>>(&self, model: M) -> Option<M> {
        let slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let params = slot.as_ref()?;
        Some(model.map(&mut Apply(params)))
    }

    /// Whether the slot holds parameters.
    pub fn is_filled(&self) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }
}

struct Collect(Params);

impl<B: Backend> ModuleVisitor<B> for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.0.insert(param.id, Box::new(param.val()));
    }
}

struct Apply<'a>(&'a Params);

impl<B: Backend> ModuleMapper<B> for Apply<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let value = self
            .0
            .get(&id)
            .and_then(|stored| stored.downcast_ref::<Tensor<B, D>>())
            .cloned()
            .unwrap_or(tensor);
        Param::from_mapped_value(id, value, mapper)
    }
}

/// A Lookahead module optimizer that, after the last step of each epoch, stores the slow
/// weights (in the model's validation form) in a [`SlowSlot`]. Its record is the wrapped
/// optimizer's.
#[derive(Clone)]
pub struct SlowValidation<O, P, M, B>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: SimpleOptimizer<B::InnerBackend>,
    P: SyncPolicy<B::InnerBackend, O>,
{
    optim: OptimizerAdaptor<Lookahead<O, P>, M, B>,
    per_epoch: usize,
    steps: usize,
    slot: SlowSlot,
}

impl<O, P, M, B> SlowValidation<O, P, M, B>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: SimpleOptimizer<B::InnerBackend>,
    P: SyncPolicy<B::InnerBackend, O>,
{
    /// Wraps `optim`; every `per_epoch` steps (counted from this value's creation: start it at
    /// an epoch's beginning, also when resuming) the slow-weight model goes to `slot`.
    pub fn new(
        optim: OptimizerAdaptor<Lookahead<O, P>, M, B>,
        per_epoch: usize,
        slot: SlowSlot,
    ) -> Self {
        Self {
            optim,
            per_epoch: per_epoch.max(1),
            steps: 0,
            slot,
        }
    }

    /// The wrapped optimizer.
    pub fn inner(&self) -> &OptimizerAdaptor<Lookahead<O, P>, M, B> {
        &self.optim
    }

    /// Counts a step; at an epoch's end stores the slow weights (in their validation form).
    fn after_step(&mut self, module: &M) {
        self.steps += 1;
        if self.steps.is_multiple_of(self.per_epoch) {
            self.slot.set(&slow_weights(&self.optim, module).valid());
        }
    }
}

impl<O, P, M, B> Optimizer<M, B> for SlowValidation<O, P, M, B>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: SimpleOptimizer<B::InnerBackend>,
    P: SyncPolicy<B::InnerBackend, O>,
{
    type Record = <OptimizerAdaptor<Lookahead<O, P>, M, B> as Optimizer<M, B>>::Record;

    fn step(&mut self, lr: LearningRate, module: M, grads: GradientsParams) -> M {
        let module = self.optim.step(lr, module, grads);
        self.after_step(&module);
        module
    }

    fn step_multi(&mut self, lr: LearningRate, module: M, grads: MultiGradientsParams) -> M {
        let module = self.optim.step_multi(lr, module, grads);
        self.after_step(&module);
        module
    }

    fn to_record(&self) -> Self::Record {
        self.optim.to_record()
    }

    fn load_record(mut self, record: Self::Record) -> Self {
        self.optim = self.optim.load_record(record);
        self
    }
}
