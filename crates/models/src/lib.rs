//! ResNet and fastai-style XResNet model families for [Burn](https://burn.dev), generic over
//! every backend (NdArray, Flex, Wgpu, Cuda, with or without autodiff).
//!
//! * [`ResNetConfig`]: torchvision's ResNet-18/34/50 (7×7 stem, strided 1×1 conv-BN shortcuts,
//!   kaiming-normal fan_out init, optional zero-init of each block's last BN), and with
//!   [`Stem::Cifar`] the CIFAR ResNet-18 of the Lookahead paper.
//!   With [`Head::FastaiV1`] it carries fastai v1's `cnn_learner` head ([`FastaiHead`]), as
//!   the seed study's models did.
//! * [`XResNetConfig`]: fastai's XResNet-18/34/50 (three 3×3 stem convs, AvgPool + 1×1 conv
//!   shortcuts, last BN of each block zero-initialised, ReLU or Mish, dropout before the head).
//! * [`batch_norm`]: every BatchNorm of both families runs Burn's `BatchNorm` module through this
//!   function, which computes the same normalisation over channel rows (19× faster than the
//!   module's own forward on Flex, 1.5× on LibTorch: `docs/cpu-speed.md`).
//!
//! Both build the same [`ResNet`] module: `forward(images) -> logits`, global average pooling
//! before the classifier (any input size that survives the strides), and
//! [`ResNet::param_count`]. Parameter counts equal the reference implementations' (see the
//! tests). `tiny(..)` configurations (width 1/8, one block per stage) train in seconds on a CPU.
//!
//! ```
//! use burn::backend::NdArray;
//! use burn::tensor::{Distribution, Tensor};
//! use models::ResNetConfig;
//!
//! let device = Default::default();
//! let model = ResNetConfig::tiny(10, 3).init::<NdArray>(&device).unwrap();
//! let images = Tensor::<NdArray, 4>::random([2, 3, 32, 32], Distribution::Default, &device);
//! assert_eq!(model.forward(images).dims(), [2, 10]);
//! ```

mod batch_norm;
#[cfg(feature = "tch")]
mod batch_norm_tch;
mod error;
mod fastai_head;
mod layers;
mod network;
mod precision;
mod resnet;
mod xresnet;

pub use batch_norm::batch_norm;
pub use error::ConfigError;
pub use fastai_head::{FASTAI_HIDDEN, FastaiHead, concat_pool};
pub use layers::{Activation, ConvBn, ResidualBlock};
pub use network::{ResNet, XResNet};
pub use precision::{compute_copy, to_f32};
pub use resnet::{Head, ResNetConfig, ResNetVariant, Stem};
pub use xresnet::{XResNetConfig, XResNetVariant};
