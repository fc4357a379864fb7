//! Helpers shared by the crate's unit tests: the test backends, SGD with momentum, and
//! per-tensor runs on a diagonal quadratic.

use burn::backend::{Autodiff, NdArray};
use burn::optim::momentum::MomentumConfig;
use burn::optim::{Sgd, SgdConfig, SimpleOptimizer};
use burn::tensor::{Tensor, TensorData};

/// The per-tensor test backend.
pub(crate) type TB = NdArray;
/// The autodiff test backend.
pub(crate) type AB = Autodiff<NdArray>;

/// Burn's SGD with momentum 0.9, no dampening.
pub(crate) fn sgd_momentum(nesterov: bool) -> Sgd<TB> {
    let momentum = MomentumConfig::new()
        .with_momentum(0.9)
        .with_dampening(0.0)
        .with_nesterov(nesterov);
    SgdConfig::new().with_momentum(Some(momentum)).build()
}

/// A 1-D tensor holding `values`.
pub(crate) fn tensor1(values: &[f32]) -> Tensor<TB, 1> {
    Tensor::from_data(
        TensorData::new(values.to_vec(), [values.len()]),
        &Default::default(),
    )
}

/// The values of a 1-D tensor.
pub(crate) fn values(t: &Tensor<TB, 1>) -> Vec<f32> {
    t.to_data().to_vec::<f32>().expect("f32 tensor")
}

/// Per-tensor steps on f(x) = ½ Σ a_i x_i² (gradient a ⊙ x); the value after each step,
/// plus the final state.
pub(crate) fn run_quadratic<O: SimpleOptimizer<TB>>(
    optim: &O,
    x0: &[f32],
    a: &[f32],
    lr: f64,
    steps: usize,
) -> (Vec<Vec<f32>>, Option<O::State<1>>) {
    let a = tensor1(a);
    let mut x = tensor1(x0);
    let mut state = None;
    let mut trajectory = Vec::new();
    for _ in 0..steps {
        let grad = x.clone() * a.clone();
        let (next, next_state) = optim.step(lr, x, grad, state);
        trajectory.push(values(&next));
        (x, state) = (next, next_state);
    }
    (trajectory, state)
}
