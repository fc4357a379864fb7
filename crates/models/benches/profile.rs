//! Where a CIFAR ResNet-18 training step (batch 64, forward + backward + SGD-momentum step, as
//! in the `throughput` bench) spends its time, per op family, on each CPU backend and in native
//! PyTorch (`torch_profile.py`, the same families with the same shapes), side by side in one run.
//!
//! Each family is timed on its own over the shapes of the network's 20 convolutions:
//! * conv forward, conv backward (input gradient; 19 layers, the stem's input needs none), conv
//!   backward (weight gradient): the backend's own kernels (`ModuleOps::conv2d`,
//!   `conv2d_x_backward`, `conv2d_weight_backward`; in PyTorch `aten::convolution_backward`);
//! * BatchNorm (train mode; [`models::batch_norm`], what the model runs) and ReLU + residual
//!   add: forward and backward through autodiff, started by `(y · g).sum().backward()` with a
//!   random `g` (identically in PyTorch); below the table, Burn's own `BatchNorm::forward` on the
//!   same shapes, which `models` ran before (not part of the step);
//! * the optimizer: one SGD-momentum step over the 11.2 M parameters;
//! * the rest (autodiff bookkeeping, allocation, copies, pooling, head, loss): the step's time
//!   minus the families'.
//!
//! ```text
//! cargo bench -p models --bench profile                  # flex (+ tch with --features tch)
//! cargo bench -p models --bench profile -- --quick       # batch 2: a smoke test
//! cargo bench -p models --bench profile -- --only flex    # some of the columns
//! ```

use std::time::Instant;

use burn::backend::{Autodiff, Flex};
use burn::nn::BatchNormConfig;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Distribution, Int, Tensor, activation};
use models::{ResNet, ResNetConfig};

#[path = "support/args.rs"]
mod args;
#[path = "support/pytorch.rs"]
mod pytorch;

/// The op families, in the order of the table.
const FAMILIES: [&str; 7] = [
    "conv forward",
    "conv backward, input",
    "conv backward, weight",
    "BatchNorm fwd+bwd",
    "ReLU + add fwd+bwd",
    "optimizer step",
    "rest (autodiff, alloc, head…)",
];

/// One convolution of the CIFAR ResNet-18: channels in and out, kernel, stride, input side.
#[derive(Clone, Copy)]
struct Conv {
    cin: usize,
    cout: usize,
    kernel: usize,
    stride: usize,
    side: usize,
}

impl Conv {
    fn out_side(&self) -> usize {
        self.side / self.stride
    }
}

/// The 20 convolutions of the CIFAR ResNet-18 (3×3 stem, four stages of two basic blocks, 1×1
/// stride-2 downsampling at stages 2–4), each followed by a BatchNorm.
fn resnet18_convs() -> Vec<Conv> {
    let conv = |cin, cout, kernel, stride, side| Conv {
        cin,
        cout,
        kernel,
        stride,
        side,
    };
    let mut convs = vec![conv(3, 64, 3, 1, 32)];
    convs.extend((0..4).map(|_| conv(64, 64, 3, 1, 32)));
    for (channels, side) in [(128, 32), (256, 16), (512, 8)] {
        convs.push(conv(channels / 2, channels, 3, 2, side));
        convs.extend((0..3).map(|_| conv(channels, channels, 3, 1, side / 2)));
        convs.push(conv(channels / 2, channels, 1, 2, side));
    }
    convs
}

/// Seconds per call of `f` over `reps` calls, after one untimed call.
fn seconds<F: FnMut()>(reps: usize, mut f: F) -> f64 {
    f();
    let start = Instant::now();
    for _ in 0..reps {
        f();
    }
    start.elapsed().as_secs_f64() / reps as f64
}

fn random<B: Backend, const D: usize>(shape: [usize; D], device: &B::Device) -> Tensor<B, D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

/// Conv forward, input-gradient and weight-gradient seconds, summed over the layers.
fn conv_families<B: Backend>(batch: usize, reps: usize, device: &B::Device) -> [f64; 3] {
    let mut total = [0.0; 3];
    for (i, c) in resnet18_convs().into_iter().enumerate() {
        let x = random::<B, 4>([batch, c.cin, c.side, c.side], device).into_primitive();
        let w = random::<B, 4>([c.cout, c.cin, c.kernel, c.kernel], device).into_primitive();
        let g =
            random::<B, 4>([batch, c.cout, c.out_side(), c.out_side()], device).into_primitive();
        let (x, w, g) = (x.tensor(), w.tensor(), g.tensor());
        let pad = c.kernel / 2;
        let options = || ConvOptions::new([c.stride; 2], [pad; 2], [1, 1], 1);
        let sync = || B::sync(device).expect("sync");
        total[0] += seconds(reps, || {
            B::conv2d(x.clone(), w.clone(), None, options());
            sync();
        });
        if i > 0 {
            total[1] += seconds(reps, || {
                B::conv2d_x_backward(x.clone(), w.clone(), g.clone(), options());
                sync();
            });
        }
        total[2] += seconds(reps, || {
            B::conv2d_weight_backward(x.clone(), w.clone(), g.clone(), options());
            sync();
        });
    }
    total
}

/// Forward and backward of `f` on a tracked input of `shape`, started by `(f(x) · g).sum()`.
fn autodiff_seconds<B: AutodiffBackend>(
    shape: [usize; 4],
    reps: usize,
    device: &B::Device,
    f: impl Fn(Tensor<B, 4>) -> Tensor<B, 4>,
) -> f64 {
    let x = random::<B, 4>(shape, device).require_grad();
    let g = random::<B, 4>(shape, device);
    seconds(reps, || {
        let grads = (f(x.clone()) * g.clone()).sum().backward();
        drop(grads);
        B::sync(device).expect("sync");
    })
}

/// BatchNorm (train mode) and ReLU + residual add, forward and backward, summed over layers; and
/// Burn's `BatchNorm::forward` on the same shapes.
fn elementwise_families<B: AutodiffBackend>(
    batch: usize,
    reps: usize,
    device: &B::Device,
) -> [f64; 3] {
    let mut total = [0.0; 3];
    for (i, c) in resnet18_convs().into_iter().enumerate() {
        let shape = [batch, c.cout, c.out_side(), c.out_side()];
        let norm = BatchNormConfig::new(c.cout).init::<B>(device);
        total[0] += autodiff_seconds(shape, reps, device, |x| models::batch_norm(&norm, x));
        total[2] += autodiff_seconds(shape, reps, device, |x| norm.forward(x));
        let downsample = c.kernel == 1;
        if !downsample {
            // Every conv's BatchNorm is followed by a ReLU; every second one (i = 2, 4, …), the
            // block's output, by a residual add before it.
            let residual = i > 0 && i % 2 == 0;
            let other = random::<B, 4>(shape, device);
            total[1] += autodiff_seconds(shape, reps, device, |x| {
                let x = if residual { x + other.clone() } else { x };
                activation::relu(x)
            });
        }
    }
    total
}

/// One SGD-momentum step over the model's parameters, and one whole training step.
fn step_seconds<B: AutodiffBackend>(batch: usize, reps: usize, device: &B::Device) -> [f64; 2] {
    B::seed(device, 0);
    let model: ResNet<B> = ResNetConfig::cifar_resnet18(10)
        .init(device)
        .expect("valid config");
    let mut optim = SgdConfig::new()
        .with_momentum(Some(MomentumConfig::new()))
        .init::<B, ResNet<B>>();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let images = random::<B, 4>([batch, 3, 32, 32], device);
    let labels = Tensor::<B, 1, Int>::random([batch], Distribution::Uniform(0.0, 10.0), device);
    let gradients = |model: &ResNet<B>| {
        let loss = loss_fn.forward(model.forward(images.clone()), labels.clone());
        GradientsParams::from_grads(loss.backward(), model)
    };
    // The optimizer alone: each rep's gradients are computed untimed, then the step is timed
    // (the first rep warms up).
    let mut model = Some(model);
    let mut optimizer = 0.0;
    for rep in 0..=reps {
        let current = model.take().expect("model");
        let grads = gradients(&current);
        let start = Instant::now();
        let current = optim.step(0.01, current, grads);
        B::sync(device).expect("sync");
        if rep > 0 {
            optimizer += start.elapsed().as_secs_f64() / reps as f64;
        }
        model = Some(current);
    }
    let whole = seconds(reps, || {
        let current = model.take().expect("model");
        let grads = gradients(&current);
        model = Some(optim.step(0.01, current, grads));
        B::sync(device).expect("sync");
    });
    [optimizer, whole]
}

/// The seven families' milliseconds per step on backend `B` (the rest: step minus the others),
/// the whole step, then Burn's `BatchNorm` module on the same shapes (not part of the step).
fn profile<B: AutodiffBackend>(batch: usize, reps: usize) -> Vec<f64> {
    let device = B::Device::default();
    let conv = conv_families::<B::InnerBackend>(batch, reps, &device);
    let [batch_norm, relu_add, burn_batch_norm] = elementwise_families::<B>(batch, reps, &device);
    let [optimizer, step] = step_seconds::<B>(batch, reps, &device);
    let mut families: Vec<f64> = conv.into_iter().chain([batch_norm, relu_add]).collect();
    families.push(optimizer);
    let measured: f64 = families.iter().sum();
    families.extend([step - measured, step, burn_batch_norm]);
    families.into_iter().map(|s| s * 1e3).collect()
}

/// PyTorch's figures from `torch_profile.py` (same families), or why there are none.
fn torch_profile(batch: usize, reps: usize) -> Result<Vec<f64>, String> {
    let args = ["--batch", &batch.to_string(), "--reps", &reps.to_string()].map(String::from);
    let value = pytorch::reference("torch_profile.py", &args, "families_ms")?;
    let figures: Vec<f64> = value
        .split(',')
        .filter_map(|f| f.trim().parse().ok())
        .collect();
    if figures.len() == FAMILIES.len() + 1 {
        Ok(figures)
    } else {
        Err(format!("PyTorch printed families_ms={value}"))
    }
}

fn main() {
    // As in `throughput`: without `--bench` (a test run) or with `--quick`, a smoke test.
    let quick =
        std::env::args().any(|a| a == "--quick") || !std::env::args().any(|a| a == "--bench");
    let (batch, reps) = if quick { (2, 1) } else { (64, 2) };
    println!("CIFAR ResNet-18 training step, batch {batch}: milliseconds per step by op family");
    let runs = args::Only::from_args();
    let mut columns: Vec<(&str, Vec<f64>)> = Vec::new();
    #[cfg(feature = "tch")]
    if runs.wants("tch") {
        columns.push((
            "tch",
            profile::<Autodiff<burn::backend::LibTorch>>(batch, reps),
        ));
    }
    if runs.wants("flex") {
        columns.push(("flex", profile::<Autodiff<Flex>>(batch, reps)));
    }
    if runs.wants("pytorch") {
        match torch_profile(batch, reps) {
            Ok(figures) => columns.push(("pytorch", figures)),
            Err(why) => println!("pytorch: {why}"),
        }
    }
    print!("{:<32}", "family");
    for (name, _) in &columns {
        print!(" {name:>10} {:>6}", "%");
    }
    println!();
    for (row, family) in FAMILIES.iter().chain(&["whole step"]).enumerate() {
        print!("{family:<32}");
        for (_, figures) in &columns {
            let total = figures[FAMILIES.len()];
            print!(
                " {:>10.1} {:>6.1}",
                figures[row],
                100.0 * figures[row] / total
            );
        }
        println!();
    }
    print!("{:<32}", "(Burn's BatchNorm module)");
    for (_, figures) in &columns {
        match figures.get(FAMILIES.len() + 1) {
            Some(ms) => print!(" {ms:>10.1} {:>6}", ""),
            None => print!(" {:>10} {:>6}", "-", ""),
        }
    }
    println!();
}
