//! The kernels a backend brings of its own equal Burn's generic composition: a convolution's
//! forward pass and gradients, and (LibTorch) ReLU's gradient.
//!
//! Burn's autodiff asks the backend for the input and the weight gradient of `conv2d`
//! (`conv2d_x_backward`, `conv2d_weight_backward`). NdArray keeps Burn's generic composition (a
//! transposed convolution, and a convolution of the input by the output gradient); the `tch`
//! backend (the patched copy in `vendor/burn-tch`: LibTorch's own `convolution_backward`) and
//! Flex have their own kernels. Each shape below stresses one thing they must agree on: a
//! stride that leaves input rows unused, padding, 1×1 kernels, groups, dilation.
#![allow(clippy::unwrap_used)]

use burn::backend::{Autodiff, Flex, NdArray};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Tensor, TensorData};

/// One convolution: input `[n, c_in, h, w]`, `c_out` filters of `k × k`, and its options.
struct Case {
    input: [usize; 4],
    c_out: usize,
    k: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
    groups: usize,
}

const CASES: [Case; 6] = [
    // ResNet's 3×3 convolution.
    Case {
        input: [2, 8, 9, 9],
        c_out: 16,
        k: 3,
        stride: 1,
        padding: 1,
        dilation: 1,
        groups: 1,
    },
    // Downsampling with an odd side: the last input row and column reach no output.
    Case {
        input: [2, 8, 9, 9],
        c_out: 16,
        k: 3,
        stride: 2,
        padding: 1,
        dilation: 1,
        groups: 1,
    },
    // The 1×1 shortcut with stride 2.
    Case {
        input: [3, 8, 8, 8],
        c_out: 4,
        k: 1,
        stride: 2,
        padding: 0,
        dilation: 1,
        groups: 1,
    },
    // No padding, non-square input.
    Case {
        input: [1, 3, 7, 10],
        c_out: 5,
        k: 3,
        stride: 1,
        padding: 0,
        dilation: 1,
        groups: 1,
    },
    // Groups.
    Case {
        input: [2, 6, 6, 6],
        c_out: 4,
        k: 3,
        stride: 1,
        padding: 1,
        dilation: 1,
        groups: 2,
    },
    // Dilation.
    Case {
        input: [2, 4, 9, 9],
        c_out: 3,
        k: 3,
        stride: 1,
        padding: 2,
        dilation: 2,
        groups: 1,
    },
];

/// Deterministic values in [-1, 1) (the same on every backend).
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// The input and weight gradients of `sum(conv2d(x, w) · g)` for a fixed `g`, in f32.
fn gradients<B: AutodiffBackend>(case: &Case) -> (Vec<f32>, Vec<f32>) {
    gradients_in::<B>(case, DType::F32)
}

/// As [`gradients`], computed in `dtype`.
fn gradients_in<B: AutodiffBackend>(case: &Case, dtype: DType) -> (Vec<f32>, Vec<f32>) {
    let device = B::Device::default();
    let [n, c_in, h, w] = case.input;
    let w_shape = [case.c_out, c_in / case.groups, case.k, case.k];
    let tensor = |shape: [usize; 4], seed| {
        let len = shape.iter().product();
        let data = TensorData::new(values(len, seed), shape);
        Tensor::<B, 4>::from_data(data, (&device, dtype))
    };
    let x = tensor([n, c_in, h, w], 1).require_grad();
    let weight = tensor(w_shape, 2).require_grad();
    let options = ConvOptions::new(
        [case.stride; 2],
        [case.padding; 2],
        [case.dilation; 2],
        case.groups,
    );
    let y = conv2d(x.clone(), weight.clone(), None, options);
    let g = tensor(y.dims(), 3);
    let grads = (y * g).sum().backward();
    let read = |t: Tensor<B::InnerBackend, 4>| {
        let data = t.into_data();
        assert_eq!(data.dtype, dtype, "the gradient's dtype");
        data.convert::<f32>().to_vec::<f32>().unwrap()
    };
    (
        read(x.grad(&grads).unwrap()),
        read(weight.grad(&grads).unwrap()),
    )
}

fn assert_close(name: &str, index: usize, got: &[f32], want: &[f32]) {
    assert_close_to(name, index, got, want, 1e-4);
}

fn assert_close_to(name: &str, index: usize, got: &[f32], want: &[f32], tolerance: f32) {
    assert_eq!(got.len(), want.len(), "{name}, case {index}: lengths");
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= tolerance * (1.0 + b.abs()),
            "{name}, case {index}, element {i}: {a} against the generic {b}"
        );
    }
}

fn agrees_with_generic<B: AutodiffBackend>(name: &str) {
    for (index, case) in CASES.iter().enumerate() {
        let (x_want, w_want) = gradients::<Autodiff<NdArray>>(case);
        let (x_got, w_got) = gradients::<B>(case);
        assert_close(&format!("{name} input gradient"), index, &x_got, &x_want);
        assert_close(&format!("{name} weight gradient"), index, &w_got, &w_want);
    }
}

#[test]
fn flex_gradients_equal_the_generic_ones() {
    agrees_with_generic::<Autodiff<Flex>>("Flex");
}

/// The forward pass agrees too (Flex and LibTorch have their own kernels for it).
#[test]
fn forward_passes_equal_ndarrays() {
    fn forward<B: burn::tensor::backend::Backend>(case: &Case) -> Vec<f32> {
        let device = Default::default();
        let [n, c_in, h, w] = case.input;
        let w_shape = [case.c_out, c_in / case.groups, case.k, case.k];
        let tensor = |shape: [usize; 4], seed| {
            let len = shape.iter().product();
            Tensor::<B, 4>::from_data(TensorData::new(values(len, seed), shape), &device)
        };
        let options = ConvOptions::new(
            [case.stride; 2],
            [case.padding; 2],
            [case.dilation; 2],
            case.groups,
        );
        let y = conv2d(
            tensor([n, c_in, h, w], 1),
            tensor(w_shape, 2),
            None,
            options,
        );
        y.into_data().to_vec::<f32>().unwrap()
    }
    for (index, case) in CASES.iter().enumerate() {
        let want = forward::<NdArray>(case);
        assert_close("Flex forward", index, &forward::<Flex>(case), &want);
        #[cfg(feature = "tch")]
        assert_close(
            "LibTorch forward",
            index,
            &forward::<burn::backend::LibTorch>(case),
            &want,
        );
    }
}

/// Flex's kernels run in the tensors' own type: f64 (its own GEMM), bf16 (through f32).
#[test]
fn flex_gradients_in_f64_and_bf16_equal_the_generic_ones() {
    for (dtype, tolerance) in [(DType::F64, 1e-4), (DType::BF16, 5e-2)] {
        for (index, case) in CASES.iter().enumerate() {
            let (x_want, w_want) = gradients::<Autodiff<NdArray>>(case);
            let (x_got, w_got) = gradients_in::<Autodiff<Flex>>(case, dtype);
            let name = format!("Flex {dtype:?}");
            assert_close_to(
                &format!("{name} input gradient"),
                index,
                &x_got,
                &x_want,
                tolerance,
            );
            assert_close_to(
                &format!("{name} weight gradient"),
                index,
                &w_got,
                &w_want,
                tolerance,
            );
        }
    }
}

#[cfg(feature = "tch")]
#[test]
fn libtorch_gradients_equal_the_generic_ones() {
    agrees_with_generic::<Autodiff<burn::backend::LibTorch>>("LibTorch");
}

/// The generic reference is itself right: a finite difference of one weight on NdArray.
#[test]
fn the_generic_reference_matches_a_finite_difference() {
    type B = NdArray;
    let case = &CASES[1];
    let (_, w_grad) = gradients::<Autodiff<B>>(case);
    let device = Default::default();
    let [n, c_in, h, w] = case.input;
    let w_shape = [case.c_out, c_in, case.k, case.k];
    let x = Tensor::<B, 4>::from_data(
        TensorData::new(values(n * c_in * h * w, 1), [n, c_in, h, w]),
        &device,
    );
    let loss = |weights: Vec<f32>| {
        let weight = Tensor::<B, 4>::from_data(TensorData::new(weights, w_shape), &device);
        let options = ConvOptions::new([case.stride; 2], [case.padding; 2], [1; 2], 1);
        let y = conv2d(x.clone(), weight, None, options);
        let g = Tensor::<B, 4>::from_data(
            TensorData::new(values(y.dims().iter().product(), 3), y.dims()),
            &device,
        );
        f64::from((y * g).sum().into_scalar())
    };
    let base = values(w_shape.iter().product(), 2);
    let at = 37;
    let eps = 0.5;
    let (mut up, mut down) = (base.clone(), base);
    up[at] += eps;
    down[at] -= eps;
    let numeric = (loss(up) - loss(down)) / (2.0 * f64::from(eps));
    assert!(
        (numeric - f64::from(w_grad[at])).abs() < 1e-2,
        "{numeric} vs {}",
        w_grad[at]
    );
}

/// LibTorch's ReLU backward (`threshold_backward`, in the patched copy) against Burn's default
/// (a comparison and a masked fill, NdArray), with exact zeros in the input.
#[cfg(feature = "tch")]
#[test]
fn libtorch_relu_gradient_equals_the_generic_one() {
    fn relu_grad<B: AutodiffBackend>() -> Vec<f32> {
        let device = Default::default();
        let mut x = values(64, 5);
        x[..8].fill(0.0);
        let x = Tensor::<B, 1>::from_data(TensorData::new(x, [64]), &device).require_grad();
        let g = Tensor::<B, 1>::from_data(TensorData::new(values(64, 6), [64]), &device);
        let grads = (burn::tensor::activation::relu(x.clone()) * g)
            .sum()
            .backward();
        x.grad(&grads).unwrap().into_data().to_vec::<f32>().unwrap()
    }
    let want = relu_grad::<Autodiff<NdArray>>();
    assert_eq!(relu_grad::<Autodiff<burn::backend::LibTorch>>(), want);
}

/// `models::batch_norm` in training mode on LibTorch (its fused kernels, forward and backward)
/// against the generic path (NdArray): output, the gradients of x, γ and β, and the running
/// statistics; rank 4 (after a convolution) and rank 2 (fastai's head).
#[cfg(feature = "tch")]
#[test]
fn libtorch_batch_norm_equals_the_generic_one() {
    use burn::nn::BatchNormConfig;

    /// y, dx, dγ, dβ, running mean, running variance.
    fn run<B: AutodiffBackend, const D: usize>(shape: [usize; D]) -> [Vec<f32>; 6] {
        let device = Default::default();
        let channels = shape[1];
        let len = shape.iter().product();
        let mut bn = BatchNormConfig::new(channels).init::<B>(&device);
        let param = |seed| {
            let data = TensorData::new(values(channels, seed), [channels]);
            Tensor::<B, 1>::from_data(data, &device).require_grad()
        };
        bn.gamma = bn.gamma.map(|_| param(7));
        bn.beta = bn.beta.map(|_| param(8));
        let x = Tensor::<B, D>::from_data(TensorData::new(values(len, 9), shape), &device)
            .mul_scalar(3.0)
            .add_scalar(0.5)
            .detach()
            .require_grad();
        let y = models::batch_norm(&bn, x.clone());
        let g = Tensor::<B, D>::from_data(TensorData::new(values(len, 10), shape), &device);
        let grads = (y.clone() * g).sum().backward();
        let flat = |t: Tensor<B::InnerBackend, 1>| t.into_data().to_vec::<f32>().unwrap();
        let flat_d = |t: Tensor<B::InnerBackend, D>| flat(t.reshape([len]));
        [
            flat_d(y.inner()),
            flat_d(x.grad(&grads).unwrap()),
            flat(bn.gamma.val().grad(&grads).unwrap()),
            flat(bn.beta.val().grad(&grads).unwrap()),
            flat(bn.running_mean.value_sync().inner()),
            flat(bn.running_var.value_sync().inner()),
        ]
    }
    fn compare<const D: usize>(shape: [usize; D]) {
        let want = run::<Autodiff<NdArray>, D>(shape);
        let got = run::<Autodiff<burn::backend::LibTorch>, D>(shape);
        let names = ["y", "dx", "dγ", "dβ", "running mean", "running var"];
        for ((name, got), want) in names.iter().zip(&got).zip(&want) {
            assert_close(
                &format!("LibTorch batch norm {name}, rank {D}"),
                0,
                got,
                want,
            );
        }
    }
    // The type `models` recognises for the fused path is the one tested here.
    use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
    use std::any::TypeId;
    assert_eq!(
        TypeId::of::<Autodiff<burn::backend::LibTorch>>(),
        TypeId::of::<Autodiff<burn::backend::LibTorch<f32>, NoCheckpointing>>()
    );
    compare([4, 3, 5, 6]);
    compare([8, 5]);
}
