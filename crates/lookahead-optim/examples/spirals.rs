//! Lookahead(SGD) against SGD on a real (generated) problem: classifying three interleaved
//! spirals with a small MLP, on the Flex CPU backend.
//!
//! ```text
//! cargo run --release --example spirals -p lookahead-optim
//! ```
//!
//! Both runs start from the same weights and see the same batches; the table prints the train
//! loss and the held-out accuracy, Lookahead's measured on its slow weights.

use burn::backend::{Autodiff, Flex};
use burn::module::{AutodiffModule, Module};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, ElementConversion, Int, Tensor};
use lookahead_optim::{InnerStatePolicy, LookaheadConfig, slow_weights};

type B = Autodiff<Flex>;

const CLASSES: usize = 3;
const STEPS: usize = 3000;
const LR: f64 = 0.1;

#[derive(Module, Debug)]
struct Mlp<B: Backend> {
    input: Linear<B>,
    hidden: Linear<B>,
    output: Linear<B>,
    relu: Relu,
}

impl<B: Backend> Mlp<B> {
    fn new(device: &B::Device) -> Self {
        Self {
            input: LinearConfig::new(2, 64).init(device),
            hidden: LinearConfig::new(64, 64).init(device),
            output: LinearConfig::new(64, CLASSES).init(device),
            relu: Relu::new(),
        }
    }

    fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let x = self.relu.forward(self.input.forward(x));
        let x = self.relu.forward(self.hidden.forward(x));
        self.output.forward(x)
    }
}

/// `n` points of three spirals: point i belongs to arm i mod 3, at radius t ~ U(0, 1) and angle
/// 2π·arm/3 + 3π·t, plus Gaussian noise.
fn spirals<B: Backend>(n: usize, device: &B::Device) -> (Tensor<B, 2>, Tensor<B, 1, Int>) {
    let labels = Tensor::<B, 1, Int>::arange(0..n as i64, device).remainder_scalar(CLASSES as i64);
    let t = Tensor::<B, 1>::random([n], Distribution::Uniform(0.0, 1.0), device);
    let angle = labels
        .clone()
        .float()
        .mul_scalar(2.0 * std::f64::consts::PI / CLASSES as f64)
        + t.clone().mul_scalar(3.0 * std::f64::consts::PI);
    let noise = || Tensor::<B, 1>::random([n], Distribution::Normal(0.0, 0.04), device);
    let x = t.clone() * angle.clone().cos() + noise();
    let y = t * angle.sin() + noise();
    (Tensor::stack(vec![x, y], 1), labels)
}

fn accuracy<B: Backend>(model: &Mlp<B>, x: Tensor<B, 2>, y: Tensor<B, 1, Int>) -> f64 {
    let predicted = model.forward(x).argmax(1).squeeze_dim::<1>(1);
    let correct: f64 = predicted
        .equal(y.clone())
        .float()
        .sum()
        .into_scalar()
        .elem();
    correct / y.dims()[0] as f64
}

/// Trains with `optim`; returns the final model and the loss every 500 steps.
fn train<O: Optimizer<Mlp<B>, B>>(
    mut model: Mlp<B>,
    optim: &mut O,
    data: &[(Tensor<B, 2>, Tensor<B, 1, Int>)],
) -> (Mlp<B>, Vec<f32>) {
    let loss_fn = CrossEntropyLossConfig::new().init(&model.input.weight.device());
    let mut losses = Vec::new();
    for (step, (x, y)) in data.iter().cycle().take(STEPS).enumerate() {
        let loss = loss_fn.forward(model.forward(x.clone()), y.clone());
        if (step + 1) % 500 == 0 {
            losses.push(loss.clone().into_scalar());
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(LR, model, grads);
    }
    (model, losses)
}

/// The two runs' losses every 500 steps and held-out accuracies: (SGD, Lookahead(SGD)).
struct Outcome {
    sgd_losses: Vec<f32>,
    la_losses: Vec<f32>,
    sgd_acc: f64,
    la_acc: f64,
}

fn run() -> Outcome {
    let device = Default::default();
    Flex::seed(&device, 42);
    let batches: Vec<_> = (0..20).map(|_| spirals::<B>(128, &device)).collect();
    let (test_x, test_y) = spirals::<Flex>(3000, &device);
    let model = Mlp::<B>::new(&device);
    let sgd = || {
        SgdConfig::new()
            .with_momentum(Some(MomentumConfig::new()))
            .build()
    };

    let mut plain = SgdConfig::new()
        .with_momentum(Some(MomentumConfig::new()))
        .init::<B, Mlp<B>>();
    let (sgd_model, sgd_losses) = train(model.clone(), &mut plain, &batches);

    let mut lookahead = LookaheadConfig::new()
        .with_k(5)
        .with_alpha(0.5)
        .with_inner_state(InnerStatePolicy::Keep)
        .init::<B, Mlp<B>, _>(sgd())
        .expect("a valid Lookahead configuration");
    let (la_model, la_losses) = train(model, &mut lookahead, &batches);
    let la_eval = slow_weights(&lookahead, &la_model);

    Outcome {
        sgd_losses,
        la_losses,
        sgd_acc: accuracy(&sgd_model.valid(), test_x.clone(), test_y.clone()),
        la_acc: accuracy(&la_eval.valid(), test_x, test_y),
    }
}

fn main() {
    let outcome = run();
    println!("three spirals, MLP 2-64-64-3, {STEPS} steps of batch 128, lr {LR}, momentum 0.9");
    println!(
        "{:>6}  {:>12}  {:>22}",
        "step", "SGD loss", "Lookahead(SGD) loss"
    );
    for (i, (a, b)) in outcome
        .sgd_losses
        .iter()
        .zip(&outcome.la_losses)
        .enumerate()
    {
        println!("{:>6}  {:>12.4}  {:>22.4}", (i + 1) * 500, a, b);
    }
    println!(
        "held-out accuracy (3000 points): SGD {:.1} %, Lookahead(SGD, slow weights) {:.1} %",
        100.0 * outcome.sgd_acc,
        100.0 * outcome.la_acc
    );
}

/// The example runs under `cargo test --all-targets` (as `cargo xtask test` does): both
/// optimizers learn the spirals (chance: 33 %).
#[cfg(test)]
mod tests {
    #[test]
    fn both_optimizers_learn_the_spirals() {
        let outcome = super::run();
        for losses in [&outcome.sgd_losses, &outcome.la_losses] {
            assert!(losses.last() < losses.first(), "{losses:?}");
        }
        assert!(outcome.sgd_acc > 0.9, "SGD {}", outcome.sgd_acc);
        assert!(outcome.la_acc > 0.9, "Lookahead {}", outcome.la_acc);
    }
}
