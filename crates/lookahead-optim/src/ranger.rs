//! Ranger: Lookahead over RAdam, with fastai's defaults.

use burn::config::Config;
use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::tensor::backend::AutodiffBackend;

use crate::{ConfigError, InnerStatePolicy, Lookahead, LookaheadConfig, RAdam, RAdamConfig};

/// Configuration of Ranger = Lookahead(RAdam). Defaults are fastai's `ranger`:
/// k = 6, α = 0.5, β = (0.95, 0.99), ε = 1e-6, weight decay 0.01 (decoupled).
#[derive(Config, Debug)]
pub struct RangerConfig {
    /// Lookahead's k. Default 6.
    #[config(default = 6)]
    pub k: usize,
    /// Lookahead's α. Default 0.5.
    #[config(default = 0.5)]
    pub alpha: f64,
    /// RAdam's β1 (fastai's `mom`). Default 0.95.
    #[config(default = 0.95)]
    pub beta_1: f64,
    /// RAdam's β2 (fastai's `sqr_mom`). Default 0.99.
    #[config(default = 0.99)]
    pub beta_2: f64,
    /// RAdam's ε. Default 1e-6.
    #[config(default = 1e-6)]
    pub epsilon: f64,
    /// Decoupled weight decay. Default 0.01.
    #[config(default = 0.01)]
    pub weight_decay: f64,
    /// Inner-state policy at each sync. Default [`InnerStatePolicy::Keep`] (fastai's).
    #[config(default = "InnerStatePolicy::Keep")]
    pub inner_state: InnerStatePolicy,
    /// Gradient clipping. Default none.
    pub grad_clipping: Option<GradientClippingConfig>,
}

impl RangerConfig {
    /// The inner RAdam's configuration.
    pub fn radam(&self) -> RAdamConfig {
        RAdamConfig::new()
            .with_beta_1(self.beta_1)
            .with_beta_2(self.beta_2)
            .with_epsilon(self.epsilon)
            .with_weight_decay(self.weight_decay)
            .with_decoupled_weight_decay(true)
    }

    /// The outer Lookahead's configuration.
    pub fn lookahead(&self) -> LookaheadConfig {
        LookaheadConfig::new()
            .with_k(self.k)
            .with_alpha(self.alpha)
            .with_inner_state(self.inner_state)
            .with_grad_clipping(self.grad_clipping.clone())
    }

    /// The module optimizer, after validating both halves.
    pub fn init<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
    ) -> Result<OptimizerAdaptor<Lookahead<RAdam>, M, B>, ConfigError> {
        self.lookahead().init(self.radam().build()?)
    }
}

/// Ranger with fastai's defaults ([`RangerConfig::new`]).
///
/// ```
/// use burn::backend::{Autodiff, NdArray};
/// use burn::nn::Linear;
/// type B = Autodiff<NdArray>;
/// let optim = lookahead_optim::ranger::<B, Linear<B>>();
/// assert_eq!(optim.optim().k(), 6);
/// ```
pub fn ranger<B: AutodiffBackend, M: AutodiffModule<B>>() -> OptimizerAdaptor<Lookahead<RAdam>, M, B>
{
    RangerConfig::new()
        .init()
        .expect("fastai's Ranger defaults are a valid configuration")
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, NdArray};
    use burn::nn::Linear;

    #[test]
    fn defaults_are_fastais() {
        let optim = ranger::<Autodiff<NdArray>, Linear<Autodiff<NdArray>>>();
        assert_eq!((optim.optim().k(), optim.optim().alpha()), (6, 0.5));
        let radam = RangerConfig::new().radam();
        assert_eq!(
            (
                radam.beta_1,
                radam.beta_2,
                radam.epsilon,
                radam.weight_decay
            ),
            (0.95, 0.99, 1e-6, 0.01)
        );
        assert!(radam.decoupled_weight_decay);
    }

    #[test]
    fn invalid_ranger_is_refused() {
        let err = RangerConfig::new()
            .with_k(0)
            .init::<Autodiff<NdArray>, Linear<Autodiff<NdArray>>>()
            .err()
            .unwrap();
        assert!(err.to_string().contains("`k`"), "{err}");
    }
}
