//! fastai v1's `cnn_learner` head (`create_head(nf, nc)` with its defaults `ps=0.5`,
//! `concat_pool=True`, `lin_ftrs=None`), as the seed study's models had it.
//!
//! fastai's head is `AdaptiveConcatPool2d → Flatten → BN1d(2·nf) → Dropout(0.25) →
//! Linear(2·nf, 512) → ReLU → BN1d(512) → Dropout(0.5) → Linear(512, classes)`. Here the
//! part up to the second BatchNorm is [`FastaiHead`]; the last dropout and linear layer are the
//! network's own `dropout` (p = 0.5) and `fc`, so the classifier keeps one name in every model.

use burn::module::{Initializer, Module, Param};
use burn::nn::pool::AdaptiveAvgPool2d;
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;

use crate::batch_norm;

/// Width of the hidden layer of fastai's head (`lin_ftrs = [512]`).
pub const FASTAI_HIDDEN: usize = 512;

/// fastai's head from the pooled features to the hidden layer (see the module doc).
#[derive(Module, Debug)]
pub struct FastaiHead<B: Backend> {
    /// BatchNorm1d over the concatenated max and average pools (2·nf features).
    pub bn_pool: BatchNorm<B>,
    /// Dropout p = 0.25 (fastai's `ps/2` for the first layer).
    pub dropout: Dropout,
    /// Linear 2·nf → 512, kaiming-normal weights, zero bias.
    pub linear: Linear<B>,
    /// BatchNorm1d(512) after the ReLU.
    pub bn_hidden: BatchNorm<B>,
}

/// A linear layer initialised as fastai's `apply_init(head, nn.init.kaiming_normal_)`:
/// weights N(0, 2/fan_in) (PyTorch's `kaiming_normal_` defaults: fan_in, gain √2), bias 0.
pub(crate) fn kaiming_linear<B: Backend>(
    inputs: usize,
    outputs: usize,
    device: &B::Device,
) -> Linear<B> {
    let mut linear = LinearConfig::new(inputs, outputs)
        .with_initializer(Initializer::KaimingNormal {
            gain: 2.0_f64.sqrt(),
            fan_out_only: false,
        })
        .init(device);
    linear.bias = Some(Param::from_tensor(Tensor::zeros([outputs], device)));
    linear
}

impl<B: Backend> FastaiHead<B> {
    /// The head over `features` body channels (nf: 512 for ResNet-18/34, 2048 for ResNet-50).
    pub fn new(features: usize, device: &B::Device) -> Self {
        Self {
            bn_pool: BatchNormConfig::new(2 * features).init(device),
            dropout: DropoutConfig::new(0.25).init(),
            linear: kaiming_linear(2 * features, FASTAI_HIDDEN, device),
            bn_hidden: BatchNormConfig::new(FASTAI_HIDDEN).init(device),
        }
    }

    /// Hidden features `[batch, 512]` of body features `[batch, nf, h, w]`. Under mixed
    /// precision the BatchNorms run in f32, as in [`ConvBn`](crate::ConvBn).
    pub fn forward(&self, x: Tensor<B, 4>, avg: &AdaptiveAvgPool2d) -> Tensor<B, 2> {
        let x = batch_norm(&self.bn_pool, concat_pool(x, avg));
        let x = relu(self.linear.forward(self.dropout.forward(x)));
        batch_norm(&self.bn_hidden, x)
    }

    /// BatchNorm running statistics (mean and variance) held by the head: not parameters.
    pub fn running_stats(&self) -> usize {
        2 * (self.bn_pool.gamma.shape().num_elements()
            + self.bn_hidden.gamma.shape().num_elements())
    }
}

/// fastai's `AdaptiveConcatPool2d` + `Flatten`: `cat([max_pool(x), avg_pool(x)], 1)`, max first,
/// `[batch, 2·channels]`.
pub fn concat_pool<B: Backend>(x: Tensor<B, 4>, avg: &AdaptiveAvgPool2d) -> Tensor<B, 2> {
    let max = x.clone().flatten::<3>(2, 3).max_dim(2).flatten::<2>(1, 2);
    let mean = avg.forward(x).flatten::<2>(1, 3);
    Tensor::cat(vec![max, mean], 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::nn::pool::AdaptiveAvgPool2dConfig;

    type B = NdArray;

    #[test]
    fn concat_pool_puts_the_max_before_the_mean() {
        let device = Default::default();
        // Two channels of 2×2: [1, 2, 3, 6] and [-1, -2, -3, -2].
        let x = Tensor::<B, 1>::from_floats([1., 2., 3., 6., -1., -2., -3., -2.], &device)
            .reshape([1, 2, 2, 2]);
        let pooled = concat_pool(x, &AdaptiveAvgPool2dConfig::new([1, 1]).init());
        let values: Vec<f32> = pooled.into_data().to_vec().unwrap();
        assert_eq!(values, vec![6.0, -1.0, 3.0, -2.0]);
    }

    #[test]
    fn head_linears_are_kaiming_normal_with_zero_bias() {
        let device = Default::default();
        <B as Backend>::seed(&device, 3);
        let head = FastaiHead::<B>::new(512, &device);
        let weights: Vec<f32> = head.linear.weight.val().into_data().to_vec().unwrap();
        let n = weights.len() as f64;
        let mean = weights.iter().map(|&w| w as f64).sum::<f64>() / n;
        let std = (weights
            .iter()
            .map(|&w| (w as f64 - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        // N(0, 2/1024): std 0.0442 over 524,288 draws (standard error ≈ 4e-5).
        assert!((std - (2.0_f64 / 1024.0).sqrt()).abs() < 5e-4, "std {std}");
        assert!(mean.abs() < 5e-4, "mean {mean}");
        assert_eq!(head.running_stats(), 2 * (1024 + 512));
        let bias: Vec<f32> = head
            .linear
            .bias
            .unwrap()
            .val()
            .into_data()
            .to_vec()
            .unwrap();
        assert!(bias.iter().all(|&b| b == 0.0));
    }
}
