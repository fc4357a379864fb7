//! A copy of the model carrying Lookahead's slow weights, for validation and inference.

use burn::module::{AutodiffModule, ModuleMapper, Param};
use burn::optim::Optimizer;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;

use burn::optim::SimpleOptimizer;

use crate::{Lookahead, SyncPolicy};

/// Returns a copy of `model` whose parameters hold Lookahead's slow weights φ.
///
/// Between syncs the fast weights θ are mid-way through an exploration; optax recommends the
/// slow weights for testing and inference (timm instead forces a sync at each epoch end, which
/// changes training). Parameters that have not been stepped yet keep their value (their φ is
/// θ0). Neither `optim` nor `model` is modified, so training continues exactly as it would have.
pub fn slow_weights<B, M, O, P>(optim: &OptimizerAdaptor<Lookahead<O, P>, M, B>, model: &M) -> M
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: SimpleOptimizer<B::InnerBackend>,
    P: SyncPolicy<B::InnerBackend, O>,
{
    let records = optim.to_record();
    model
        .clone()
        .map(&mut SlowWeightMapper::<O, P, M, B> { records })
}

type Records<O, P, M, B> = <OptimizerAdaptor<Lookahead<O, P>, M, B> as Optimizer<M, B>>::Record;

struct SlowWeightMapper<O, P, M, B>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: SimpleOptimizer<B::InnerBackend>,
    P: SyncPolicy<B::InnerBackend, O>,
{
    records: Records<O, P, M, B>,
}

impl<O, P, M, B> ModuleMapper<B> for SlowWeightMapper<O, P, M, B>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: SimpleOptimizer<B::InnerBackend>,
    P: SyncPolicy<B::InnerBackend, O>,
{
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(record) = self.records.remove(&id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let slow = record.into_state::<D>().slow.to_device(&tensor.device());
        let mut value = Tensor::from_inner(slow);
        if tensor.is_require_grad() {
            value = value.require_grad();
        }
        Param::from_mapped_value(id, value, mapper)
    }
}
