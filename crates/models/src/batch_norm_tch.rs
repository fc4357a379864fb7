//! Training-mode batch norm on Burn's LibTorch backend through LibTorch's fused kernels
//! (`native_batch_norm` and its backward, from the patched `burn-tch` in `vendor/`), as PyTorch
//! runs it: one kernel forward and one backward instead of [`crate::batch_norm`]'s dozen
//! elementwise ops and reductions each way. Burn's backend traits have no batch-norm op, so this
//! is a custom autodiff op on `Autodiff<LibTorch>`, chosen at run time by type: every other
//! backend keeps the generic path. Same math (biased batch variance, ε inside the root); the
//! caller updates the running statistics from the returned batch mean and variance.

use std::any::Any;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::libtorch::{TchTensor, lookahead_burn as native};
use burn::backend::{Autodiff, LibTorch};
use burn::nn::BatchNorm;
use burn::prelude::*;
use burn::tensor::TensorPrimitive;

/// The one backend this path serves (f32, no gradient checkpointing: what `experiments` runs).
type A = Autodiff<LibTorch<f32>, NoCheckpointing>;

/// `(y, batch mean, biased batch variance)` when `B` is `Autodiff<LibTorch>`; otherwise `x`
/// back, untouched.
#[allow(clippy::type_complexity)]
pub(crate) fn train<B: Backend, const D: usize>(
    bn: &BatchNorm<B>,
    x: Tensor<B, D>,
) -> Result<(Tensor<B, D>, Tensor<B, 1>, Tensor<B, 1>), Tensor<B, D>> {
    let Some(bn) = (bn as &dyn Any).downcast_ref::<BatchNorm<A>>() else {
        return Err(x);
    };
    let x: Tensor<A, D> = cast(x);
    let (y, mean, var) = train_libtorch(bn, x);
    Ok((cast(y), cast(mean), cast(var)))
}

/// A tensor of backend `From` as backend `To`, the same type (checked by the callers' downcast).
fn cast<From: Backend, To: Backend, const D: usize>(tensor: Tensor<From, D>) -> Tensor<To, D> {
    match (Box::new(tensor) as Box<dyn Any>).downcast::<Tensor<To, D>>() {
        Ok(tensor) => *tensor,
        Err(_) => unreachable!("`From` and `To` are one backend: the caller downcast its module"),
    }
}

fn train_libtorch<const D: usize>(
    bn: &BatchNorm<A>,
    x: Tensor<A, D>,
) -> (Tensor<A, D>, Tensor<A, 1>, Tensor<A, 1>) {
    let eps = bn.epsilon;
    let primitive = |t: Tensor<A, 1>| t.into_primitive().tensor();
    let [x_ad, gamma, beta] = [
        x.into_primitive().tensor(),
        primitive(bn.gamma.val()),
        primitive(bn.beta.val()),
    ];
    let (y, mean, invstd) =
        native::batch_norm_train(&x_ad.primitive, &gamma.primitive, &beta.primitive, eps);
    let nodes = [x_ad.node.clone(), gamma.node.clone(), beta.node.clone()];
    let y = match NativeBatchNorm
        .prepare::<NoCheckpointing>(nodes)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let state = (
                x_ad.primitive,
                gamma.primitive,
                mean.clone(),
                invstd.clone(),
                eps,
            );
            prep.finish(state, y)
        }
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    // σ² = 1/invstd² − ε, as the statistics the generic path returns (outside the graph).
    let inner = |t: TchTensor| Tensor::<LibTorch, 1>::from_primitive(TensorPrimitive::Float(t));
    let var = inner(invstd).powi_scalar(-2).sub_scalar(eps);
    (
        Tensor::from_primitive(TensorPrimitive::Float(y)),
        Tensor::from_inner(inner(mean)),
        Tensor::from_inner(var),
    )
}

/// The backward step: LibTorch's `native_batch_norm_backward` for whichever of x, γ, β need a
/// gradient.
#[derive(Debug)]
struct NativeBatchNorm;

impl Backward<LibTorch, 3> for NativeBatchNorm {
    /// x, γ, the batch mean and inverse standard deviation, ε.
    type State = (TchTensor, TchTensor, TchTensor, TchTensor, f64);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<LibTorch>(&ops.node);
        let (x, gamma, mean, invstd, eps) = ops.state;
        let want = ops.parents.each_ref().map(Option::is_some);
        let computed = native::batch_norm_backward(&grad, &x, &gamma, &mean, &invstd, eps, want);
        for (parent, grad) in ops.parents.into_iter().zip(computed) {
            if let (Some(node), Some(grad)) = (parent, grad) {
                grads.register::<LibTorch>(node.id, grad);
            }
        }
    }
}
