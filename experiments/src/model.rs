//! The network of a run wrapped for burn-train: [`Classifier`] implements `TrainStep` (mixup and
//! label-smoothing cross-entropy) and `InferenceStep` (plain cross-entropy).

use burn::module::Module;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::train::{ClassificationOutput, InferenceStep, TrainOutput, TrainStep};
use data::{ImageBatch, mixed_cross_entropy};
use models::ResNet;

/// A classifier network and its training loss.
#[derive(Module, Debug)]
pub struct Classifier<B: Backend> {
    /// The network (ResNet or XResNet): images → logits.
    pub net: ResNet<B>,
    /// Label smoothing ε of the training loss.
    pub label_smoothing: f64,
}

impl<B: Backend> Classifier<B> {
    /// Loss (with mixup targets and smoothing when given) and logits of a batch.
    pub fn forward_classification(
        &self,
        batch: ImageBatch<B>,
        train: bool,
    ) -> ClassificationOutput<B> {
        let logits = self.net.forward(batch.images);
        let (mix, smoothing) = if train {
            (batch.mix.as_ref(), self.label_smoothing)
        } else {
            (None, 0.0)
        };
        let loss = mixed_cross_entropy(logits.clone(), batch.targets.clone(), mix, smoothing);
        ClassificationOutput::new(loss, logits, batch.targets)
    }
}

impl<B: AutodiffBackend> TrainStep for Classifier<B> {
    type Input = ImageBatch<B>;
    type Output = ClassificationOutput<B>;

    fn step(&self, batch: ImageBatch<B>) -> TrainOutput<ClassificationOutput<B>> {
        let item = self.forward_classification(batch, true);
        TrainOutput::new(self, item.loss.backward(), item)
    }
}

impl<B: Backend> InferenceStep for Classifier<B> {
    type Input = ImageBatch<B>;
    type Output = ClassificationOutput<B>;

    fn step(&self, batch: ImageBatch<B>) -> ClassificationOutput<B> {
        self.forward_classification(batch, false)
    }
}
