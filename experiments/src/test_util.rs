//! Helpers of the unit tests (compiled in tests only).

use burn::backend::{Autodiff, Flex};
use burn::tensor::{Int, Tensor};
use data::ImageBatch;
use study::config::{ModelKind, Precision};

use crate::model::{BuildModel, Classifier};

/// The unit tests' autodiff backend.
pub type B = Autodiff<Flex>;

/// Fixed images (not the backend's global generator, which parallel tests share).
pub fn batch(device: &burn::tensor::Device<B>) -> ImageBatch<B> {
    let pixels: Vec<f32> = (0..8 * 28 * 28)
        .map(|i| ((i as f32) * 0.7548).sin() + 0.3 * ((i as f32) * 0.0131).cos())
        .collect();
    ImageBatch {
        images: Tensor::<B, 1>::from_floats(pixels.as_slice(), device).reshape([8, 1, 28, 28]),
        targets: Tensor::<B, 1, Int>::from_ints([0, 1, 2, 3, 4, 5, 6, 7], device),
        mix: None,
    }
}

/// A micro ResNet classifier of 10 classes of 1-channel images, seed 7.
pub fn classifier(precision: Precision, loss_scale: f64) -> Classifier<B> {
    let net = ModelKind::MicroResNet
        .build_seeded::<B>(10, 1, 7, &Default::default())
        .expect("the micro ResNet builds");
    Classifier::new(net, 0.0, precision, loss_scale)
}

/// Burn steps in f32 (β1 = 0.85 is 0.85000002 there): agreement to 1e-5 relative, while a
/// momentum left at the spec's value misses by 1e-2 or more.
pub fn assert_close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() < 1e-5 * w.abs().max(1.0),
            "{got:?} vs {want:?}"
        );
    }
}
