//! Batch normalisation computed over channel rows: Burn's [`BatchNorm`] module (its γ, β, running
//! statistics, momentum and ε, so records and checkpoints are unchanged), a faster forward.
//!
//! Burn's `BatchNorm::forward` reduces through a transposed copy (`swap_dims(0, 1)` + reshape)
//! and applies `[1, C, 1, 1]` statistics to `[N, C, H, W]` activations by broadcasting over the
//! batch dimension, which Flex runs through its strided element-by-element fallback: on a CIFAR
//! ResNet-18 step this was 64 % of Flex's time (`cargo bench -p models --bench profile`). Here
//! the activations are viewed, without a copy, as `N·C` rows of `H·W` values, and every
//! per-channel value is first repeated into one value per row (`[N·C, 1]`, a few hundred
//! numbers). Every reduction then runs along the contiguous last dimension and every broadcast
//! is a per-row scalar, which all backends (Flex's SIMD fast path included) run at memory speed,
//! forward and, through autodiff, backward. Training mode is Burn's: autodiff enabled.
//!
//! Math (Ioffe & Szegedy 2015, as PyTorch's `BatchNorm2d` and Burn's module), for channel `c`:
//! * `μ_c = mean_{n,h,w} x`: the mean over `n` of the row means (rows have equal lengths);
//! * `σ²_c = mean_{n,h,w} (x − μ_c)²`, the biased variance, computed from the centred values;
//! * `y = (x − μ_c) · γ_c / √(σ²_c + ε) + β_c`;
//! * running statistics: `r ← (1 − m)·r + m·s` for `s ∈ {μ, σ²·n/(n − 1)}`, n the values per
//!   channel: PyTorch's `BatchNorm` (and so fastai's) keeps the *unbiased* variance of the batch
//!   in its running variance while it normalises with the biased one; Burn's module keeps the
//!   biased one (found by the step-by-step comparison with PyTorch, `experiments/tests/
//!   torch_steps.rs`: it moves only what inference computes, by a factor of n/(n − 1), 1/127 on
//!   the 128 values per channel of a head BatchNorm);
//! * inference: `y = x · a_c + b_c` with `a = γ / √(r_σ² + ε)`, `b = β − r_μ · a`.

use burn::nn::BatchNorm;
use burn::prelude::*;
use burn::tensor::FloatDType;

use crate::precision::to_f32;

/// Batch normalisation of `x` (`[batch, channels, …]`, rank ≥ 2) with `bn`'s parameters, in f32
/// whatever `x`'s dtype (as under autocast), the result cast back to it. In training mode
/// (autodiff enabled) it normalises with the batch statistics and updates `bn`'s running
/// statistics; otherwise it uses the running statistics.
///
/// ```
/// use burn::backend::{Autodiff, NdArray};
/// use burn::nn::BatchNormConfig;
/// use burn::tensor::Tensor;
///
/// let device = Default::default();
/// let bn = BatchNormConfig::new(1).init::<Autodiff<NdArray>>(&device);
/// let x = Tensor::<Autodiff<NdArray>, 4>::from_floats([[[[1.0, 3.0]]], [[[5.0, 7.0]]]], &device);
/// // Training mode: mean 4, variance 5; (x − 4)/√5.
/// let y = models::batch_norm(&bn, x).into_data().to_vec::<f32>().unwrap();
/// assert!((y[0] + 3.0 / 5f32.sqrt()).abs() < 1e-5);
/// ```
pub fn batch_norm<B: Backend, const D: usize>(bn: &BatchNorm<B>, x: Tensor<B, D>) -> Tensor<B, D> {
    const { assert!(D >= 2, "batch norm needs [batch, channels, ...]") };
    let (x, dtype) = to_f32(x);
    let y = normalise(bn, x);
    if dtype == FloatDType::F32 {
        y
    } else {
        y.cast(dtype)
    }
}

/// [`batch_norm`] in f32: LibTorch's fused kernels when training on `Autodiff<LibTorch>`,
/// else the row formulation (training or inference).
fn normalise<B: Backend, const D: usize>(bn: &BatchNorm<B>, x: Tensor<B, D>) -> Tensor<B, D> {
    let training = B::ad_enabled(&x.device());
    #[cfg(feature = "tch")]
    let x = match training {
        true => match crate::batch_norm_tch::train(bn, x) {
            Ok((y, mean, var)) => {
                let count = x_count(&y);
                update_running(bn, mean, var, count);
                return y;
            }
            Err(x) => x,
        },
        false => x,
    };
    let dims = x.dims();
    let (batch, channels) = (dims[0], dims[1]);
    let rows = x.reshape([batch * channels, dims[2..].iter().product::<usize>()]);
    let y = if training {
        train(bn, rows, batch)
    } else {
        inference(bn, rows, batch)
    };
    y.reshape(dims)
}

/// Per-channel values `[channels]` repeated into one value per row: `[batch·channels, 1]`.
fn per_row<B: Backend>(values: Tensor<B, 1>, batch: usize) -> Tensor<B, 2> {
    let channels = values.dims()[0];
    values
        .reshape([1, channels])
        .repeat_dim(0, batch)
        .reshape([batch * channels, 1])
}

/// Per-channel mean `[channels]` of `rows` (`[batch·channels, len]`).
fn channel_mean<B: Backend>(rows: Tensor<B, 2>, batch: usize) -> Tensor<B, 1> {
    let channels = rows.dims()[0] / batch;
    rows.mean_dim(1)
        .reshape([batch, channels])
        .mean_dim(0)
        .reshape([channels])
}

/// Training mode: batch statistics, running statistics updated.
fn train<B: Backend>(bn: &BatchNorm<B>, rows: Tensor<B, 2>, batch: usize) -> Tensor<B, 2> {
    let count = rows.dims()[1] * batch;
    let mean = channel_mean(rows.clone(), batch);
    let centred = rows - per_row(mean.clone(), batch);
    let var = channel_mean(centred.clone().square(), batch);
    update_running(bn, mean, var.clone(), count);
    let scale = bn.gamma.val() / var.add_scalar(bn.epsilon).sqrt();
    centred * per_row(scale, batch) + per_row(bn.beta.val(), batch)
}

/// Values per channel of `[batch, channels, …]` activations.
#[cfg(feature = "tch")]
fn x_count<B: Backend, const D: usize>(x: &Tensor<B, D>) -> usize {
    let dims = x.dims();
    dims[0] * dims[2..].iter().product::<usize>()
}

/// `r ← (1 − m)·r + m·s` for the running mean and variance (detached: not part of the graph),
/// the batch's biased variance `var` of `count` values per channel made unbiased first, as
/// PyTorch's running variance is.
fn update_running<B: Backend>(
    bn: &BatchNorm<B>,
    mean: Tensor<B, 1>,
    var: Tensor<B, 1>,
    count: usize,
) {
    let device = mean.device();
    let m = bn.momentum;
    let unbiased = match count {
        0 | 1 => var,
        n => var.mul_scalar(n as f64 / (n - 1) as f64),
    };
    for (running, batch_value) in [(&bn.running_mean, mean), (&bn.running_var, unbiased)] {
        let old = running.value_sync().to_device(&device);
        running.update(
            old.mul_scalar(1.0 - m)
                .add(batch_value.detach().mul_scalar(m))
                .detach(),
        );
    }
}

/// Inference mode: `x · a + b` from the running statistics.
fn inference<B: Backend>(bn: &BatchNorm<B>, rows: Tensor<B, 2>, batch: usize) -> Tensor<B, 2> {
    let device = rows.device();
    let mean = bn.running_mean.value().to_device(&device);
    let var = bn.running_var.value().to_device(&device);
    let scale = bn.gamma.val() / var.add_scalar(bn.epsilon).sqrt();
    let shift = bn.beta.val() - mean * scale.clone();
    rows * per_row(scale, batch) + per_row(shift, batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, NdArray};
    use burn::nn::BatchNormConfig;
    use burn::tensor::{Distribution, Tolerance};

    type B = NdArray;
    type A = Autodiff<NdArray>;

    /// Two channels, two images of 1×2 pixels; channel 0 holds 1, 3 | 5, 7, channel 1 2, 2 | 2, 6.
    fn example<Bk: Backend>(device: &Bk::Device) -> Tensor<Bk, 4> {
        Tensor::from_floats(
            [[[[1.0, 3.0]], [[2.0, 2.0]]], [[[5.0, 7.0]], [[2.0, 6.0]]]],
            device,
        )
    }

    #[test]
    fn training_normalises_with_the_batch_statistics_by_hand() {
        let device = Default::default();
        let mut bn = BatchNormConfig::new(2).init::<A>(&device);
        bn.gamma = bn.gamma.map(|_| Tensor::from_floats([2.0, 1.0], &device));
        bn.beta = bn.beta.map(|_| Tensor::from_floats([0.5, -1.0], &device));
        let y = batch_norm(&bn, example::<A>(&device));
        // Channel 0: μ 4, σ² 5. Channel 1: μ 3, σ² 3 (values 2, 2, 2, 6: deviations −1, −1, −1, 3).
        let s0 = 2.0 / (5.0f32 + 1e-5).sqrt();
        let s1 = 1.0 / (3.0f32 + 1e-5).sqrt();
        let expected = Tensor::<A, 4>::from_floats(
            [
                [[[-3.0 * s0 + 0.5, -s0 + 0.5]], [[-s1 - 1.0, -s1 - 1.0]]],
                [[[s0 + 0.5, 3.0 * s0 + 0.5]], [[-s1 - 1.0, 3.0 * s1 - 1.0]]],
            ],
            &device,
        );
        y.into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-5));
        // Running statistics, momentum 0.1, 4 values per channel (variance unbiased, ×4/3):
        // 0.9·0 + 0.1·4, 0.9·0 + 0.1·3; 0.9·1 + 0.1·5·4/3, 0.9·1 + 0.1·3·4/3.
        // `value_sync`: `value` returns the value before this thread's last update.
        bn.running_mean
            .value_sync()
            .into_data()
            .assert_approx_eq::<f32>(&TensorData::from([0.4f32, 0.3]), Tolerance::absolute(1e-6));
        bn.running_var
            .value_sync()
            .into_data()
            .assert_approx_eq::<f32>(
                &TensorData::from([0.9f32 + 0.5 * 4.0 / 3.0, 1.3]),
                Tolerance::absolute(1e-6),
            );
    }

    #[test]
    fn inference_uses_the_running_statistics_by_hand() {
        let device = Default::default();
        let mut bn = BatchNormConfig::new(2).init::<B>(&device);
        bn.gamma = bn.gamma.map(|_| Tensor::from_floats([2.0, 1.0], &device));
        bn.running_mean = burn::module::RunningState::new(Tensor::from_floats([1.0, 2.0], &device));
        bn.running_var = burn::module::RunningState::new(Tensor::from_floats([4.0, 1.0], &device));
        let y = batch_norm(&bn, example::<B>(&device));
        // Channel 0: (x − 1)·2/2; channel 1: (x − 2)·1/1 (ε = 1e-5 aside).
        let expected = Tensor::<B, 4>::from_floats(
            [[[[0.0, 2.0]], [[0.0, 0.0]]], [[[4.0, 6.0]], [[0.0, 4.0]]]],
            &device,
        );
        y.into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-4));
    }

    /// Outputs, input and parameter gradients, and the running mean equal Burn's module's (rank
    /// 4 as after a conv, rank 2 as in fastai's head); the running variance is Burn's with the
    /// batch's variance made unbiased (PyTorch's): r = 0.9 + 0.1·σ²·n/(n − 1) where Burn's is
    /// 0.9 + 0.1·σ².
    #[test]
    fn agrees_with_burns_batch_norm_forward_and_backward() {
        let device = Default::default();
        <A as Backend>::seed(&device, 3);
        check_against_burn::<4>([4, 3, 5, 6], &device);
        check_against_burn::<2>([8, 5], &device);
    }

    fn check_against_burn<const D: usize>(shape: [usize; D], device: &Device<A>) {
        let channels = shape[1];
        let mut ours = BatchNormConfig::new(channels).init::<A>(device);
        let random =
            |shape: [usize; 1]| Tensor::random(shape, Distribution::Normal(0.0, 1.0), device);
        ours.gamma = ours.gamma.map(|_| random([channels]).require_grad());
        ours.beta = ours.beta.map(|_| random([channels]).require_grad());
        // A clone would share the running statistics (`RunningState` is reference-counted).
        let mut burns = BatchNormConfig::new(channels).init::<A>(device);
        burns.gamma = ours.gamma.clone();
        burns.beta = ours.beta.clone();
        let x =
            Tensor::<A, D>::random(shape, Distribution::Normal(1.0, 2.0), device).require_grad();
        let g = Tensor::<A, D>::random(shape, Distribution::Normal(0.0, 1.0), device);
        let tolerance = Tolerance::absolute(1e-5);
        let y_ours = batch_norm(&ours, x.clone());
        let y_burn = burns.forward(x.clone());
        y_ours
            .clone()
            .into_data()
            .assert_approx_eq::<f32>(&y_burn.clone().into_data(), tolerance);
        let grads_ours = (y_ours * g.clone()).sum().backward();
        let grads_burn = (y_burn * g).sum().backward();
        let grad = |t: &Tensor<A, D>, grads| t.grad(grads).expect("gradient").into_data();
        grad(&x, &grads_ours).assert_approx_eq::<f32>(&grad(&x, &grads_burn), tolerance);
        for (a, b) in [(&ours.gamma, &burns.gamma), (&ours.beta, &burns.beta)] {
            let ga = a.val().grad(&grads_ours).expect("gradient").into_data();
            let gb = b.val().grad(&grads_burn).expect("gradient").into_data();
            ga.assert_approx_eq::<f32>(&gb, tolerance);
        }
        let n = (shape[0] * shape[2..].iter().product::<usize>()) as f64;
        let unbiased = |burns: Tensor<A, 1>| {
            burns
                .sub_scalar(0.9)
                .mul_scalar(n / (n - 1.0))
                .add_scalar(0.9)
        };
        for (a, b) in [
            (
                ours.running_mean.value_sync(),
                burns.running_mean.value_sync(),
            ),
            (
                ours.running_var.value_sync(),
                unbiased(burns.running_var.value_sync()),
            ),
        ] {
            // `value_sync`: `value` would return the value before this thread's update.
            assert!(
                a.clone().abs().sum().into_scalar() > 0.1,
                "running statistics moved"
            );
            a.into_data()
                .assert_approx_eq::<f32>(&b.into_data(), tolerance);
        }
    }
}
