//! Mixed precision: the forward and backward passes in half precision (bf16 or f16) over f32
//! master weights, the scheme PyTorch's autocast uses.
//!
//! The module keeps its parameters in f32; these are the weights every optimizer (and
//! Lookahead's slow weights) sees. Each training step works on [`compute_copy`] of the module:
//! the same module with its convolution and linear weights cast to the compute dtype. A cast is
//! an ordinary differentiable operation, so the backward pass carries each gradient back through
//! the cast to the f32 parameter (`d cast(w) / d w` is the identity, cast back to f32): the
//! optimizer receives f32 gradients and updates f32 weights.
//!
//! BatchNorm stays in f32, as under autocast: [`compute_copy`] leaves every `BatchNorm`'s
//! γ, β and running statistics untouched, and [`ConvBn`](crate::ConvBn) hands BatchNorm its input
//! cast to f32 and casts the result back to the compute dtype.
//!
//! ```
//! use burn::backend::{Autodiff, Flex};
//! use burn::tensor::{DType, Distribution, FloatDType, Tensor};
//! use models::{ResNetConfig, compute_copy};
//!
//! type B = Autodiff<Flex>;
//! let device = Default::default();
//! let model = ResNetConfig::tiny(10, 3).init::<B>(&device).unwrap();
//! let images = Tensor::<B, 4>::random([2, 3, 32, 32], Distribution::Default, &device);
//! let half = compute_copy(&model, FloatDType::BF16);
//! let logits = half.forward(images.cast(FloatDType::BF16));
//! assert_eq!(logits.dtype(), DType::BF16);
//! ```

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{FloatDType, Tensor};

/// A copy of `module` whose float parameters are cast to `dtype`, except those inside a
/// `BatchNorm` (γ, β and running statistics stay in f32).
///
/// Under autodiff the copy's parameters are connected to the original's, so gradients of a loss
/// computed with the copy land on the original (f32) parameters. With `FloatDType::F32` the copy
/// is the module itself, unchanged.
pub fn compute_copy<B: Backend, M: Module<B>>(module: &M, dtype: FloatDType) -> M {
    // A lazily initialised parameter would initialise separately in the clone, and its gradient
    // would then never reach the original: initialise them all in place first.
    module.visit(&mut Initialize);
    if dtype == FloatDType::F32 {
        return module.clone();
    }
    module.clone().map(&mut CastOutsideBatchNorm {
        dtype,
        batch_norm_depth: 0,
    })
}

/// Casts `x` to f32 for an operation that must run in full precision and returns the dtype to
/// cast its result back to.
pub fn to_f32<B: Backend, const D: usize>(x: Tensor<B, D>) -> (Tensor<B, D>, FloatDType) {
    let dtype: FloatDType = x.dtype().into();
    if dtype == FloatDType::F32 {
        (x, dtype)
    } else {
        (x.cast(FloatDType::F32), dtype)
    }
}

/// Initialises every float parameter it visits.
struct Initialize;

impl<B: Backend> ModuleVisitor<B> for Initialize {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let _ = param.val();
    }
}

/// Casts the float parameters it visits, skipping those inside a `BatchNorm` container.
struct CastOutsideBatchNorm {
    dtype: FloatDType,
    batch_norm_depth: usize,
}

impl<B: Backend> ModuleMapper<B> for CastOutsideBatchNorm {
    fn enter_module(&mut self, _name: &str, container_type: &str) {
        if container_type == "Struct:BatchNorm" || self.batch_norm_depth > 0 {
            self.batch_norm_depth += 1;
        }
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.batch_norm_depth = self.batch_norm_depth.saturating_sub(1);
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        if self.batch_norm_depth > 0 {
            return param;
        }
        let dtype = self.dtype;
        // `Param::map` keeps the id and does not detach: the cast stays in the autodiff graph.
        param.map(|tensor| tensor.cast(dtype))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ResNetConfig;
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::{DType, Distribution};

    type B = Autodiff<Flex>;

    /// Collects every float parameter's dtype and counts the conv-BN pairs.
    struct Dtypes(Vec<DType>, usize);
    impl<B: Backend> ModuleVisitor<B> for Dtypes {
        fn enter_module(&mut self, _name: &str, container_type: &str) {
            if container_type == "Struct:ConvBn" {
                self.1 += 1;
            }
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.0.push(param.val().dtype());
        }
    }

    fn dtypes<M: Module<B>>(module: &M) -> Vec<DType> {
        visit(module).0
    }

    fn visit<M: Module<B>>(module: &M) -> Dtypes {
        let mut visitor = Dtypes(Vec::new(), 0);
        module.visit(&mut visitor);
        visitor
    }

    #[test]
    fn convolutions_and_head_are_cast_batch_norm_is_not() {
        let device = Default::default();
        let model = ResNetConfig::tiny(10, 3).init::<B>(&device).unwrap();
        let copy = compute_copy(&model, FloatDType::BF16);
        let (original, cast) = (dtypes(&model), dtypes(&copy));
        assert!(original.iter().all(|d| *d == DType::F32));
        let half = cast.iter().filter(|d| **d == DType::BF16).count();
        let full = cast.iter().filter(|d| **d == DType::F32).count();
        // One conv weight per ConvBn, and the head's weight and bias.
        // The visitor enters each ConvBn twice (as a Vec item and as the struct).
        let conv_bn = visit(&model).1 / 2;
        assert!(conv_bn > 5);
        assert_eq!(
            full,
            4 * conv_bn,
            "γ, β, running mean and variance: {cast:?}"
        );
        assert_eq!(half, conv_bn + 2, "{cast:?}");
        assert!(dtypes(&compute_copy(&model, FloatDType::F32)) == original);
    }

    #[test]
    fn gradients_reach_the_f32_weights_and_match_f32_training() {
        let device = Default::default();
        <B as Backend>::seed(&device, 1);
        let model = ResNetConfig::tiny(10, 3).init::<B>(&device).unwrap();
        let images = Tensor::<B, 4>::random([4, 3, 32, 32], Distribution::Default, &device);
        let loss = |dtype: FloatDType| {
            let copy = compute_copy(&model, dtype);
            let logits = copy
                .forward(images.clone().cast(dtype))
                .cast(FloatDType::F32);
            let loss = logits.powi_scalar(2).mean();
            let grads = loss.backward();
            let weight = model.fc.weight.val();
            let grad = weight
                .grad(&grads)
                .unwrap_or_else(|| panic!("{dtype:?}: the f32 head weight has no gradient"));
            assert_eq!(grad.dtype(), DType::F32);
            grad.into_data().to_vec::<f32>().unwrap()
        };
        let (full, half) = (loss(FloatDType::F32), loss(FloatDType::BF16));
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let diff: Vec<f32> = full.iter().zip(&half).map(|(a, b)| a - b).collect();
        // bf16 keeps 8 bits of mantissa: the gradients agree to a few percent, not bit for bit.
        assert!(norm(&full) > 0.0);
        assert!(
            norm(&diff) < 0.05 * norm(&full),
            "{} vs {}",
            norm(&diff),
            norm(&full)
        );
        assert!(norm(&diff) > 0.0, "the bf16 pass computed in f32");
    }
}
