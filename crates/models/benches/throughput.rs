//! Training throughput of the CIFAR ResNet-18 (batch 64, 32×32, forward + backward +
//! SGD-momentum step) on each CPU backend, side by side in one run: Flex, NdArray, and Burn's
//! LibTorch backend when built with the `tch` feature (`cargo xtask bench` does once
//! `cargo xtask setup libtorch` has run), and in native PyTorch on the same machine when
//! `python3 -c "import torch"` works (set `PYTHON` to choose the interpreter).
//!
//! ```text
//! cargo bench -p models                 # flex, tch: 1 warm-up + 3 steps; ndarray: 1 step (slow!)
//! cargo bench -p models -- --quick      # batch 2, 1 step each: a smoke test
//! cargo bench -p models -- --only tch,pytorch   # some of the rows
//! ```

use std::time::Instant;

use burn::backend::{Autodiff, Flex, NdArray};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Int, Tensor};
use models::{ResNet, ResNetConfig};

#[path = "support/pytorch.rs"]
mod pytorch;

/// Images per second over `steps` timed steps, after `warmup` untimed ones.
fn train_throughput<B: AutodiffBackend>(batch: usize, warmup: usize, steps: usize) -> f64 {
    let device = B::Device::default();
    B::seed(&device, 0);
    let mut model: ResNet<B> = ResNetConfig::cifar_resnet18(10)
        .init(&device)
        .expect("valid config");
    let mut optim = SgdConfig::new()
        .with_momentum(Some(MomentumConfig::new()))
        .init::<B, ResNet<B>>();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let images =
        Tensor::<B, 4>::random([batch, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
    let labels = Tensor::<B, 1, Int>::random([batch], Distribution::Uniform(0.0, 10.0), &device);
    let mut step = |model: ResNet<B>| {
        let loss = loss_fn.forward(model.forward(images.clone()), labels.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let model = optim.step(0.01, model, grads);
        B::sync(&device).expect("sync");
        model
    };
    for _ in 0..warmup {
        model = step(model);
    }
    let start = Instant::now();
    for _ in 0..steps {
        model = step(model);
    }
    (batch * steps) as f64 / start.elapsed().as_secs_f64()
}

/// PyTorch's figure, or why there is none.
fn torch_throughput(batch: usize, steps: usize) -> Result<f64, String> {
    let args = ["--batch", &batch.to_string(), "--steps", &steps.to_string()].map(String::from);
    let value = pytorch::reference("torch_resnet18.py", &args, "images_per_sec")?;
    value
        .parse()
        .map_err(|_| format!("PyTorch printed images_per_sec={value}"))
}

/// The rows `--only a,b` asks for (backend names and `pytorch`); `None`: every row.
fn only() -> Option<Vec<String>> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == "--only")?;
    let list = args.get(at + 1).map_or("", String::as_str);
    Some(list.split(',').map(|b| b.trim().to_string()).collect())
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this without it, as a
    // smoke test: then (or with `--quick`) fewer, smaller rounds.
    let quick =
        std::env::args().any(|a| a == "--quick") || !std::env::args().any(|a| a == "--bench");
    let (batch, warmup, flex_steps, ndarray_steps) =
        if quick { (2, 0, 1, 1) } else { (64, 1, 3, 1) };
    println!(
        "CIFAR ResNet-18 (11,173,962 params), batch {batch}, 32×32, forward+backward+SGD-momentum"
    );
    // Burn's backends, in the order of the table: LibTorch (when built with it), Flex, NdArray.
    let wanted = only();
    let runs = |name: &str| wanted.as_ref().is_none_or(|w| w.iter().any(|b| b == name));
    let mut backends: Vec<(&str, f64)> = Vec::new();
    #[cfg(feature = "tch")]
    if runs("tch") {
        backends.push((
            "tch",
            train_throughput::<Autodiff<burn::backend::LibTorch>>(batch, warmup, flex_steps),
        ));
    }
    if runs("flex") {
        let flex = train_throughput::<Autodiff<Flex>>(batch, warmup, flex_steps);
        backends.push(("flex", flex));
    }
    if runs("ndarray") {
        backends.push((
            "ndarray",
            train_throughput::<Autodiff<NdArray>>(batch, 0, ndarray_steps),
        ));
    }
    let torch = if runs("pytorch") {
        torch_throughput(batch, flex_steps)
    } else {
        Err("not asked for (--only)".to_string())
    };
    let flex = backends
        .iter()
        .find(|(name, _)| *name == "flex")
        .map_or(f64::NAN, |&(_, ips)| ips);
    println!(
        "{:<10} {:>12} {:>12} {:>12}",
        "backend", "images/s", "vs flex", "vs PyTorch"
    );
    let row = |name: &str, ips: f64| {
        let vs_torch = torch
            .as_ref()
            .map(|t| format!("{:.3}", ips / t))
            .unwrap_or_else(|_| "-".into());
        println!("{name:<10} {ips:>12.2} {:>12.3} {vs_torch:>12}", ips / flex);
    };
    for &(name, ips) in &backends {
        row(name, ips);
    }
    match &torch {
        Ok(t) => row("pytorch", *t),
        Err(why) => println!("pytorch    -            ({why})"),
    }
    let faster = backends
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or("flex", |&(name, _)| name);
    println!("faster CPU backend: {faster}");
}
