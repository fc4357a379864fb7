//! Cost of one optimizer step over a ResNet-18-sized parameter set, Lookahead vs its inner
//! optimizer, measured side by side (interleaved rounds) on the Flex CPU backend.
//!
//! ```text
//! cargo bench -p lookahead-optim            # full: 7 rounds of 2·k steps per optimizer
//! cargo bench -p lookahead-optim -- --quick # 2 rounds, for a smoke test
//! ```
//!
//! Parameters: the 62 tensors of the CIFAR ResNet-18 of the Lookahead paper (11,173,962
//! parameters: 3×3 convolutions, 1×1 shortcuts, BatchNorm γ/β, the 512→10 classifier). Each
//! timed sample is k = 5 consecutive steps (one full Lookahead cycle, so the sync is amortised;
//! only the steps are timed, not the making of fresh gradient buffers between them);
//! the table reports the median per-step time and the ratio to the inner optimizer.

use std::time::{Duration, Instant};

use burn::backend::{Autodiff, Flex};
use burn::module::{Module, Param};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, Optimizer, SgdConfig, SimpleOptimizer};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use lookahead_optim::{InnerStatePolicy, LookaheadConfig};

type B = Autodiff<Flex>;
type Inner = Flex;
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

fn random<const D: usize>(shape: [usize; D]) -> Tensor<Inner, D> {
    Tensor::random(shape, Distribution::Normal(0.0, 0.01), &Default::default())
}

/// A parameter of the given shape, and (in `grads`) a closure registering a fixed gradient for it.
fn param<const D: usize>(shape: [usize; D], grads: &mut Vec<GradFn>) -> Param<Tensor<B, D>> {
    let param = Param::from_tensor(Tensor::from_inner(random(shape)).require_grad());
    let (id, grad) = (param.id, random(shape));
    // A fresh buffer per step, as backward produces: a shared one would defeat in-place updates.
    grads.push(Box::new(move |gp: &mut GradientsParams| {
        gp.register(id, grad.clone().mul_scalar(1.0))
    }));
    param
}

fn param_set() -> (ParamSet<B>, Vec<GradFn>) {
    let (convs, vectors, matrices) = resnet18_shapes();
    let mut grads = Vec::new();
    let set = ParamSet {
        convs: convs.into_iter().map(|s| param(s, &mut grads)).collect(),
        vectors: vectors
            .into_iter()
            .map(|s| param([s], &mut grads))
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

fn case<O: SimpleOptimizer<Inner> + 'static>(
    name: &str,
    optim: OptimizerAdaptor<O, ParamSet<B>, B>,
) -> Case {
    let (model, grads) = param_set();
    let mut model = Some(model);
    let mut optim = optim;
    let run = move || {
        let device = Default::default();
        let mut elapsed = Duration::ZERO;
        for _ in 0..K {
            let mut gp = GradientsParams::new();
            grads.iter().for_each(|g| g(&mut gp));
            Inner::sync(&device).expect("sync");
            let start = Instant::now();
            // The model is moved into the step, as in a training loop, so that backends can
            // update tensors in place.
            model = model.take().map(|m| optim.step(1e-3, m, gp));
            Inner::sync(&device).expect("sync");
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

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this without it, as a
    // smoke test: then (or with `--quick`) fewer, smaller rounds.
    let quick =
        std::env::args().any(|a| a == "--quick") || !std::env::args().any(|a| a == "--bench");
    let rounds = if quick { 2 } else { 7 };
    let sgd = || {
        SgdConfig::new()
            .with_momentum(Some(MomentumConfig::new()))
            .build::<Inner>()
    };
    let adam = || AdamConfig::new().build();
    let la = |policy| LookaheadConfig::new().with_k(K).with_inner_state(policy);
    use InnerStatePolicy::*;
    let mut cases = vec![
        case("SGD-momentum", OptimizerAdaptor::from(sgd())),
        case("Lookahead(SGD) keep", la(Keep).init(sgd()).expect("valid")),
        case(
            "Lookahead(SGD) reset",
            la(Reset).init(sgd()).expect("valid"),
        ),
        case(
            "Lookahead(SGD) pullback",
            la(Pullback).init(sgd()).expect("valid"),
        ),
        case("Adam", OptimizerAdaptor::from(adam())),
        case(
            "Lookahead(Adam) keep",
            la(Keep).init(adam()).expect("valid"),
        ),
        case(
            "Lookahead(Adam) reset",
            la(Reset).init(adam()).expect("valid"),
        ),
        case(
            "Lookahead(Adam) pullback",
            la(Pullback).init(adam()).expect("valid"),
        ),
    ];
    // Warm-up: one full cycle each (allocations, first-step state creation).
    cases.iter_mut().for_each(|c| {
        (c.run)();
    });
    for _ in 0..rounds {
        for c in cases.iter_mut() {
            let t = (c.run)();
            c.samples.push(t);
        }
    }
    println!("optimizer step over 11,173,962 parameters (CIFAR ResNet-18 shapes), Flex backend,");
    println!("median of {rounds} samples of k = {K} steps, per step; ratio vs the inner optimizer");
    println!("{:<26} {:>12} {:>8}", "optimizer", "ms/step", "ratio");
    let mut base = Duration::ZERO;
    for c in &cases {
        let per_step = median(&c.samples) / K as u32;
        if !c.name.starts_with("Lookahead") {
            base = per_step;
        }
        println!(
            "{:<26} {:>12.2} {:>8.3}",
            c.name,
            per_step.as_secs_f64() * 1e3,
            per_step.as_secs_f64() / base.as_secs_f64()
        );
    }
}
