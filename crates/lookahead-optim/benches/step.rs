//! Cost of one optimizer step over a ResNet-18-sized parameter set, Lookahead vs its inner
//! optimizer, measured side by side (interleaved rounds), on Flex (CPU) and, with the
//! `bench-wgpu` feature, on wgpu (a CubeCL backend: the GPU, or Mesa's lavapipe on a CPU).
//!
//! ```text
//! cargo bench -p lookahead-optim                                # full: 15 rounds per optimizer
//! cargo bench -p lookahead-optim --features bench-wgpu          # and the wgpu table
//! cargo bench -p lookahead-optim -- --quick                     # 2 rounds, a smoke test
//! ```
//!
//! Parameters: the 62 tensors of the CIFAR ResNet-18 of the Lookahead paper (11,173,962
//! parameters: 3×3 convolutions, 1×1 shortcuts, BatchNorm γ/β, the 512→10 classifier). Each
//! timed sample is k = 5 consecutive steps (one full Lookahead cycle, so the sync is amortised;
//! only the steps are timed, not the making of fresh gradient buffers between them);
//! the table reports the median per-step time and the ratio to the inner optimizer, for every
//! inner-state policy (keep, reset, pullback, zero-moments) over SGD with momentum and Adam.

use std::time::{Duration, Instant};

use burn::backend::{Autodiff, Flex};
use burn::module::{Module, Param};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, Optimizer, SgdConfig, SimpleOptimizer};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use lookahead_optim::{InnerStatePolicy, LookaheadConfig};

const K: usize = 5;

#[derive(Module, Debug)]
struct ParamSet<B: Backend> {
    convs: Vec<Param<Tensor<B, 4>>>,
    vectors: Vec<Param<Tensor<B, 1>>>,
    matrices: Vec<Param<Tensor<B, 2>>>,
}

/// The parameter shapes of kuangliu's CIFAR ResNet-18.
fn resnet18_shapes() -> (Vec<[usize; 4]>, Vec<usize>, Vec<[usize; 2]>) {
    let mut convs = vec![[64, 3, 3, 3]];
    let mut vectors = vec![64, 64];
    let mut c_in = 64;
    for (stage, c_out) in [64, 128, 256, 512].into_iter().enumerate() {
        for block in 0..2 {
            convs.push([c_out, c_in, 3, 3]);
            convs.push([c_out, c_out, 3, 3]);
            vectors.extend([c_out; 4]);
            if block == 0 && stage > 0 {
                convs.push([c_out, c_in, 1, 1]);
                vectors.extend([c_out; 2]);
            }
            c_in = c_out;
        }
    }
    vectors.push(10);
    (convs, vectors, vec![[10, 512]])
}

fn random<I: Backend, const D: usize>(shape: [usize; D]) -> Tensor<I, D> {
    Tensor::random(shape, Distribution::Normal(0.0, 0.01), &Default::default())
}

/// A parameter of the given shape, and (in `grads`) a closure registering a fixed gradient for it.
fn param<I: Backend, const D: usize>(
    shape: [usize; D],
    grads: &mut Vec<GradFn>,
) -> Param<Tensor<Autodiff<I>, D>> {
    let param = Param::from_tensor(Tensor::from_inner(random::<I, D>(shape)).require_grad());
    let (id, grad) = (param.id, random::<I, D>(shape));
    // A fresh buffer per step, as backward produces: a shared one would defeat in-place updates.
    grads.push(Box::new(move |gp: &mut GradientsParams| {
        gp.register(id, grad.clone().mul_scalar(1.0))
    }));
    param
}

fn param_set<I: Backend>() -> (ParamSet<Autodiff<I>>, Vec<GradFn>) {
    let (convs, vectors, matrices) = resnet18_shapes();
    let mut grads = Vec::new();
    let set = ParamSet {
        convs: convs.into_iter().map(|s| param(s, &mut grads)).collect(),
        vectors: vectors
            .into_iter()
            .map(|s| param::<I, 1>([s], &mut grads))
            .collect(),
        matrices: matrices.into_iter().map(|s| param(s, &mut grads)).collect(),
    };
    assert_eq!(
        set.num_params(),
        11_173_962,
        "CIFAR ResNet-18 parameter count"
    );
    (set, grads)
}

type GradFn = Box<dyn Fn(&mut GradientsParams)>;

/// A benchmarked optimizer: its name and a closure running `K` steps, returning their time.
struct Case {
    name: String,
    run: Box<dyn FnMut() -> Duration>,
    samples: Vec<Duration>,
}

fn case<I: Backend, O: SimpleOptimizer<I> + 'static>(
    name: &str,
    optim: OptimizerAdaptor<O, ParamSet<Autodiff<I>>, Autodiff<I>>,
) -> Case {
    let (model, grads) = param_set::<I>();
    let mut model = Some(model);
    let mut optim = optim;
    let run = move || {
        let device = Default::default();
        let mut elapsed = Duration::ZERO;
        for _ in 0..K {
            let mut gp = GradientsParams::new();
            grads.iter().for_each(|g| g(&mut gp));
            I::sync(&device).expect("sync");
            let start = Instant::now();
            // The model is moved into the step, as in a training loop, so that backends can
            // update tensors in place.
            model = model.take().map(|m| optim.step(1e-3, m, gp));
            I::sync(&device).expect("sync");
            elapsed += start.elapsed();
        }
        elapsed
    };
    Case {
        name: name.to_string(),
        run: Box::new(run),
        samples: Vec::new(),
    }
}

fn median(samples: &[Duration]) -> Duration {
    let mut s = samples.to_vec();
    s.sort();
    s[s.len() / 2]
}

/// SGD with momentum and Adam, each alone and inside Lookahead with every inner-state policy.
fn cases<I: Backend>() -> Vec<Case> {
    let sgd = || {
        SgdConfig::new()
            .with_momentum(Some(MomentumConfig::new()))
            .build::<I>()
    };
    let adam = || AdamConfig::new().build();
    let la = |policy| LookaheadConfig::new().with_k(K).with_inner_state(policy);
    use InnerStatePolicy::*;
    let policies = [
        ("keep", Keep),
        ("reset", Reset),
        ("pullback", Pullback),
        ("zero-moments", ZeroMoments),
    ];
    let mut cases = vec![case::<I, _>("SGD-momentum", OptimizerAdaptor::from(sgd()))];
    for (word, policy) in policies {
        let optim = la(policy).init(sgd()).expect("valid");
        cases.push(case::<I, _>(&format!("Lookahead(SGD) {word}"), optim));
    }
    cases.push(case::<I, _>("Adam", OptimizerAdaptor::from(adam())));
    for (word, policy) in policies {
        let optim = la(policy).init(adam()).expect("valid");
        cases.push(case::<I, _>(&format!("Lookahead(Adam) {word}"), optim));
    }
    cases
}

/// Runs every case `rounds` times, interleaved, and prints the table under `backend`'s name.
fn table<I: Backend>(backend: &str, rounds: usize) {
    let mut cases = cases::<I>();
    // Warm-up: one full cycle each (allocations, first-step state creation, kernel compiles).
    cases.iter_mut().for_each(|c| {
        (c.run)();
    });
    for _ in 0..rounds {
        for c in cases.iter_mut() {
            let t = (c.run)();
            c.samples.push(t);
        }
    }
    println!(
        "optimizer step over 11,173,962 parameters (CIFAR ResNet-18 shapes), {backend} backend,"
    );
    println!("median of {rounds} samples of k = {K} steps, per step; ratio vs the inner optimizer");
    println!("{:<30} {:>12} {:>8}", "optimizer", "ms/step", "ratio");
    let mut base = Duration::ZERO;
    for c in &cases {
        let per_step = median(&c.samples) / K as u32;
        if !c.name.starts_with("Lookahead") {
            base = per_step;
        }
        println!(
            "{:<30} {:>12.2} {:>8.3}",
            c.name,
            per_step.as_secs_f64() * 1e3,
            per_step.as_secs_f64() / base.as_secs_f64()
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this without it, as a
    // smoke test: then (or with `--quick`) fewer rounds.
    let quick =
        std::env::args().any(|a| a == "--quick") || !std::env::args().any(|a| a == "--bench");
    let rounds = if quick { 2 } else { 15 };
    let momentum = if cfg!(feature = "patched-burn-optim") {
        "on the device (patched burn-optim)"
    } else {
        "through a host copy (burn-optim as published; feature patched-burn-optim moves it)"
    };
    println!("SGD's velocity at a Pullback sync: {momentum}");
    table::<Flex>("Flex", rounds);
    #[cfg(feature = "bench-wgpu")]
    {
        println!();
        table::<burn::backend::Wgpu>("wgpu", rounds);
    }
}
