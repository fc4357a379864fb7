//! Training throughput (forward + backward + SGD-momentum step on random data) on each CPU
//! backend, side by side in one run, for two models: the CIFAR ResNet-18 (batch 64, 32×32,
//! where convolutions dominate) and the quick suite's micro ResNet (width 1/8, one block per
//! stage, ImageNet stem; batch 128 of 28×28 grey images, where per-op overhead dominates).
//! Backends: Flex, NdArray (ResNet-18 only: 100× slower), and Burn's LibTorch backend when built
//! with the `tch` feature (`cargo xtask bench` does once `cargo xtask setup libtorch` has run),
//! and native PyTorch on the same machine when `python3 -c "import torch"` works (set `PYTHON`
//! to choose the interpreter).
//!
//! ```text
//! cargo bench -p models                 # 3 rounds of 1 warm-up + 5 steps (micro: 20); ndarray: 1 step
//! cargo bench -p models -- --quick      # small batches, 1 step each: a smoke test
//! cargo bench -p models -- --only tch,pytorch   # some of the rows
//! cargo bench -p models -- --model micro        # one of the tables (resnet18, micro)
//! ```

use std::time::Instant;

use burn::backend::{Autodiff, Flex, NdArray};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Int, Tensor};
use models::{ResNet, ResNetConfig, Stem};

#[path = "support/args.rs"]
mod args;
#[path = "support/pytorch.rs"]
mod pytorch;

/// One model and its input, as `torch_resnet18.py --model <name>` builds it too.
#[derive(Clone, Copy)]
struct Model {
    name: &'static str,
    title: &'static str,
    channels: usize,
    side: usize,
    batch: usize,
    steps: usize,
}

impl Model {
    fn config(&self) -> ResNetConfig {
        match self.name {
            "micro" => ResNetConfig::tiny(10, self.channels).with_stem(Stem::ImageNet),
            _ => ResNetConfig::cifar_resnet18(10),
        }
    }
}

const MODELS: [Model; 2] = [
    Model {
        name: "resnet18",
        title: "CIFAR ResNet-18 (11,173,962 params)",
        channels: 3,
        side: 32,
        batch: 64,
        steps: 5,
    },
    Model {
        name: "micro",
        title: "micro ResNet (quick suite, 78,178 params)",
        channels: 1,
        side: 28,
        batch: 128,
        steps: 20,
    },
];

/// Images per second over `steps` timed steps, after `warmup` untimed ones.
fn train_throughput<B: AutodiffBackend>(model: &Model, warmup: usize, steps: usize) -> f64 {
    let device = B::Device::default();
    B::seed(&device, 0);
    let mut net: ResNet<B> = model.config().init(&device).expect("valid config");
    let mut optim = SgdConfig::new()
        .with_momentum(Some(MomentumConfig::new()))
        .init::<B, ResNet<B>>();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let shape = [model.batch, model.channels, model.side, model.side];
    let images = Tensor::<B, 4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let labels =
        Tensor::<B, 1, Int>::random([model.batch], Distribution::Uniform(0.0, 10.0), &device);
    let mut step = |net: ResNet<B>| {
        let loss = loss_fn.forward(net.forward(images.clone()), labels.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        let net = optim.step(0.01, net, grads);
        B::sync(&device).expect("sync");
        net
    };
    for _ in 0..warmup {
        net = step(net);
    }
    let start = Instant::now();
    for _ in 0..steps {
        net = step(net);
    }
    (model.batch * steps) as f64 / start.elapsed().as_secs_f64()
}

/// PyTorch's figure, or why there is none.
fn torch_throughput(model: &Model, steps: usize) -> Result<f64, String> {
    let args = [
        "--model",
        model.name,
        "--batch",
        &model.batch.to_string(),
        "--steps",
        &steps.to_string(),
    ]
    .map(String::from);
    let value = pytorch::reference("torch_resnet18.py", &args, "images_per_sec")?;
    value
        .parse()
        .map_err(|_| format!("PyTorch printed images_per_sec={value}"))
}

/// Rounds per table: every backend (and PyTorch) runs once per round, one after the other, and
/// each row is its median round, so a slow spell of this shared machine hits every row alike.
const ROUNDS: usize = 3;

/// The median of `values` (NaN when empty).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One round of every backend asked for: images/s per backend, and PyTorch's figure.
fn round(
    model: &Model,
    quick: bool,
    first: bool,
    runs: &args::Only,
) -> Vec<(&'static str, Result<f64, String>)> {
    let (warmup, steps) = if quick { (0, 1) } else { (1, model.steps) };
    let mut rows: Vec<(&'static str, Result<f64, String>)> = Vec::new();
    #[cfg(feature = "tch")]
    if runs.wants("tch") {
        let ips = train_throughput::<Autodiff<burn::backend::LibTorch>>(model, warmup, steps);
        rows.push(("tch", Ok(ips)));
    }
    if runs.wants("flex") {
        rows.push((
            "flex",
            Ok(train_throughput::<Autodiff<Flex>>(model, warmup, steps)),
        ));
    }
    // NdArray: one step, in the first round only (a step of the ResNet-18 takes minutes).
    if first && runs.wants("ndarray") && model.name == "resnet18" {
        rows.push((
            "ndarray",
            Ok(train_throughput::<Autodiff<NdArray>>(model, 0, 1)),
        ));
    }
    if runs.wants("pytorch") {
        rows.push(("pytorch", torch_throughput(model, steps)));
    }
    rows
}

/// One model's table: each backend asked for, then PyTorch, with the ratios.
fn table(model: &Model, quick: bool, runs: &args::Only) {
    let rounds = if quick { 1 } else { ROUNDS };
    let (b, c, side) = (model.batch, model.channels, model.side);
    println!(
        "{}, batch {b} of {c}×{side}×{side}, forward+backward+SGD-momentum, median of {rounds} \
         interleaved rounds",
        model.title
    );
    let results: Vec<_> = (0..rounds)
        .map(|r| round(model, quick, r == 0, runs))
        .collect();
    let names: Vec<&str> = results[0].iter().map(|(name, _)| *name).collect();
    let figure = |name: &str| -> Result<f64, String> {
        let mut values = Vec::new();
        for (_, result) in results.iter().flatten().filter(|(n, _)| *n == name) {
            values.push(result.clone()?);
        }
        match values.is_empty() {
            true => Err(format!("{name} did not run")),
            false => Ok(median(values)),
        }
    };
    let torch = figure("pytorch");
    let flex = figure("flex").unwrap_or(f64::NAN);
    println!(
        "{:<10} {:>12} {:>12} {:>12}",
        "backend", "images/s", "vs flex", "vs PyTorch"
    );
    for name in names {
        match figure(name) {
            Ok(ips) => {
                let vs_torch = torch
                    .as_ref()
                    .map(|t| format!("{:.3}", ips / t))
                    .unwrap_or_else(|_| "-".into());
                println!("{name:<10} {ips:>12.2} {:>12.3} {vs_torch:>12}", ips / flex);
            }
            Err(why) => println!("{name:<10} -            ({why})"),
        }
    }
    if !runs.wants("pytorch") {
        println!("pytorch    -            (not asked for: --only)");
    }
    println!();
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this without it, as a
    // smoke test: then (or with `--quick`) fewer, smaller rounds.
    let quick =
        std::env::args().any(|a| a == "--quick") || !std::env::args().any(|a| a == "--bench");
    let runs = args::Only::from_args();
    let wanted = args::value_of("--model");
    for model in MODELS
        .into_iter()
        .filter(|m| wanted.as_ref().is_none_or(|w| w == m.name))
    {
        let model = if quick {
            Model { batch: 2, ..model }
        } else {
            model
        };
        table(&model, quick, &runs);
    }
}
