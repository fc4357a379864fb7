//! RAdam, rectified Adam (Liu et al. 2019, "On the Variance of the Adaptive Learning Rate and
//! Beyond"), as a Burn per-tensor optimizer.

use burn::config::Config;
use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{LearningRate, SimpleOptimizer};
use burn::record::Record;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};

use crate::ConfigError;

/// Configuration of [`RAdam`].
#[derive(Config, Debug)]
pub struct RAdamConfig {
    /// Decay of the first moment (β1). Default 0.9.
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay of the second moment (β2). Default 0.999.
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// Added to the denominator √v̂ for stability. Default 1e-8 (PyTorch's; fastai's Ranger uses 1e-6).
    #[config(default = 1e-8)]
    pub epsilon: f64,
    /// Weight decay factor. Default 0 (none).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// `true`: decoupled weight decay θ ← θ(1 − lr·wd) before the update (AdamW-style, fastai's
    /// default); `false`: L2, g ← g + wd·θ (PyTorch's `RAdam` default). Default `true`.
    #[config(default = true)]
    pub decoupled_weight_decay: bool,
    /// The adaptive step is used only while the variance-tractability length ρ_t exceeds this
    /// threshold; below it the step is SGD with bias-corrected momentum. Default 5 (PyTorch and
    /// fastai); the paper's Algorithm 2 uses 4.
    #[config(default = 5.0)]
    pub rectification_threshold: f64,
    /// Gradient clipping applied by the adaptor before each step. Default none.
    pub grad_clipping: Option<GradientClippingConfig>,
}

impl RAdamConfig {
    /// Checks β1, β2 ∈ [0, 1), ε ≥ 0, weight decay ≥ 0; errors name the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, beta) in [("beta_1", self.beta_1), ("beta_2", self.beta_2)] {
            if !(0.0..1.0).contains(&beta) {
                return Err(ConfigError::out_of_range(field, beta, "must be in [0, 1)"));
            }
        }
        for (field, value) in [
            ("epsilon", self.epsilon),
            ("weight_decay", self.weight_decay),
        ] {
            if !(value >= 0.0 && value.is_finite()) {
                return Err(ConfigError::out_of_range(
                    field,
                    value,
                    "must be finite and >= 0",
                ));
            }
        }
        Ok(())
    }

    /// The per-tensor optimizer, after validation.
    pub fn build(&self) -> Result<RAdam, ConfigError> {
        self.validate()?;
        Ok(RAdam {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            weight_decay: self.weight_decay,
            decoupled: self.decoupled_weight_decay,
            threshold: self.rectification_threshold,
        })
    }

    /// The module optimizer (Burn's [`OptimizerAdaptor`]), after validation.
    pub fn init<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
    ) -> Result<OptimizerAdaptor<RAdam, M, B>, ConfigError> {
        let mut optim = OptimizerAdaptor::from(self.build()?);
        if let Some(clipping) = &self.grad_clipping {
            optim = optim.with_grad_clipping(clipping.init());
        }
        Ok(optim)
    }
}

/// Rectified Adam. Built with [`RAdamConfig::build`] or [`RAdamConfig::init`].
///
/// At step t (from 1), with gradient g:
/// m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², ρ∞ = 2/(1−β2) − 1,
/// ρ_t = ρ∞ − 2t·β2^t / (1−β2^t). If ρ_t > threshold:
/// r_t = √((ρ_t−4)(ρ_t−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρ_t)) and
/// θ ← θ − lr·r_t·m̂ / (√v̂ + ε) with m̂ = m/(1−β1^t), v̂ = v/(1−β2^t);
/// otherwise θ ← θ − lr·m̂ (the variance of the adaptive rate is intractable that early).
#[derive(Clone, Debug)]
pub struct RAdam {
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    weight_decay: f64,
    decoupled: bool,
    threshold: f64,
}

/// Per-parameter state of [`RAdam`].
#[derive(Record, Clone)]
pub struct RAdamState<B: Backend, const D: usize> {
    /// Steps taken (t of the last step).
    pub time: usize,
    /// First moment m (a first-moment buffer for Lookahead's pullback).
    pub moment_1: Tensor<B, D>,
    /// Second moment v.
    pub moment_2: Tensor<B, D>,
}

impl RAdam {
    /// The rectification term r_t of step `time`, or `None` while ρ_t is at or below the
    /// threshold (then the step is SGD with bias-corrected momentum).
    fn rectification(&self, time: usize) -> Option<f64> {
        let t = time as f64;
        let beta_2_t = self.beta_2.powf(t);
        let rho_inf = 2.0 / (1.0 - self.beta_2) - 1.0;
        let rho_t = rho_inf - 2.0 * t * beta_2_t / (1.0 - beta_2_t);
        (rho_t > self.threshold).then(|| {
            ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                .sqrt()
        })
    }
}

impl<B: Backend> SimpleOptimizer<B> for RAdam {
    type State<const D: usize> = RAdamState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        mut tensor: Tensor<B, D>,
        mut grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        if self.weight_decay > 0.0 {
            if self.decoupled {
                tensor = tensor.mul_scalar(1.0 - lr * self.weight_decay);
            } else {
                grad = grad + tensor.clone().mul_scalar(self.weight_decay);
            }
        }
        let (time, moment_1, moment_2) = match state {
            Some(s) => (
                s.time + 1,
                s.moment_1.mul_scalar(self.beta_1) + grad.clone().mul_scalar(1.0 - self.beta_1),
                s.moment_2.mul_scalar(self.beta_2) + grad.square().mul_scalar(1.0 - self.beta_2),
            ),
            // m0 = v0 = 0.
            None => (
                1,
                grad.clone().mul_scalar(1.0 - self.beta_1),
                grad.square().mul_scalar(1.0 - self.beta_2),
            ),
        };
        let t = time as f64;
        let bias_1 = 1.0 - self.beta_1.powf(t);
        let update = match self.rectification(time) {
            Some(r) => {
                let bias_2 = 1.0 - self.beta_2.powf(t);
                let denom = moment_2
                    .clone()
                    .div_scalar(bias_2)
                    .sqrt()
                    .add_scalar(self.epsilon);
                moment_1.clone().div(denom).mul_scalar(lr * r / bias_1)
            }
            None => moment_1.clone().mul_scalar(lr / bias_1),
        };
        let state = RAdamState {
            time,
            moment_1,
            moment_2,
        };
        (tensor - update, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        RAdamState {
            time: state.time,
            moment_1: state.moment_1.to_device(device),
            moment_2: state.moment_2.to_device(device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::run_quadratic;

    /// f(x) = x²/2 from x0 = 1, lr 0.1, β = (0.9, 0.999), ε = 1e-8. Reference computed in f64
    /// with this Python transcription of Algorithm 2, with threshold 5 (PyTorch, fastai):
    /// `m=b1*m+(1-b1)*g; v=b2*v+(1-b2)*g*g; rt=rinf-2*t*b2**t/(1-b2**t)`;
    /// `x -= lr*r*(m/(1-b1**t))/(sqrt(v/(1-b2**t))+eps)` if rt > 5 else `x -= lr*m/(1-b1**t)`.
    /// ρ_t = 1.0, 2.0, 3.0, 4.0, 4.996 for t = 1..5 (momentum SGD), 5.994 at t = 6 (adaptive).
    const REFERENCE: [f64; 8] = [
        0.9,
        0.8052631578947369,
        0.7157700524373665,
        0.6314866300895146,
        0.5523641951018982,
        0.549920978846868,
        0.5468629523972642,
        0.5432781648505424,
    ];

    #[test]
    fn matches_reference_before_and_after_rectification() {
        let radam = RAdamConfig::new().build().unwrap();
        assert!(radam.rectification(5).is_none());
        assert!(radam.rectification(6).is_some());
        let (trajectory, state) = run_quadratic(&radam, &[1.0], &[1.0], 0.1, 8);
        for (t, (got, expected)) in trajectory.iter().zip(REFERENCE).enumerate() {
            assert!(
                (got[0] as f64 - expected).abs() < 1e-6,
                "t = {}: {} vs {expected}",
                t + 1,
                got[0]
            );
        }
        assert_eq!(state.unwrap().time, 8);
    }

    #[test]
    fn weight_decay_decoupled_and_l2() {
        // First step, below the threshold: update = lr·m̂ = lr·g.
        let step = |decoupled| {
            let radam = RAdamConfig::new()
                .with_weight_decay(0.1)
                .with_decoupled_weight_decay(decoupled)
                .build()
                .unwrap();
            run_quadratic(&radam, &[2.0], &[1.0], 0.5, 1).0[0][0]
        };
        // decoupled: x(1 − lr·wd) − lr·g = 2·0.95 − 0.5·2 = 0.9
        assert!((step(true) - 0.9).abs() < 1e-6);
        // L2: x − lr·(g + wd·x) = 2 − 0.5·2.2 = 0.9 as well on step 1; differs on step 2.
        assert!((step(false) - 0.9).abs() < 1e-6);
    }

    #[test]
    fn invalid_configs_name_the_field() {
        let err = RAdamConfig::new().with_beta_2(1.0).build().unwrap_err();
        assert!(err.to_string().contains("`beta_2`"), "{err}");
        let err = RAdamConfig::new()
            .with_weight_decay(-1.0)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("`weight_decay`"), "{err}");
    }
}
