//! Burn integration: a [`Dataset`] of images and a [`Batcher`] that augments, normalises and
//! mixes them into tensors on any device.

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rayon::prelude::*;

use crate::augment::{Augment, transform_into};
use crate::images::{Image, ImageSet, VarImageSet};
use crate::mixup::{Mix, MixTargets, apply_mix};
use crate::normalize::Normalize;
use crate::seed::splitmix64;

/// One image and its label, as a [`Dataset`] item.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageItem {
    /// Index in the dataset (seeds the augmentation of the batch it lands in).
    pub index: usize,
    /// Class index.
    pub label: u16,
    /// The image, C×H×W u8.
    pub image: Image,
}

#[derive(Debug)]
enum Store {
    Fixed(ImageSet),
    Var(VarImageSet),
}

/// A Burn [`Dataset`] over images held in memory (fixed-size or not). Cloning shares the data.
#[derive(Debug, Clone)]
pub struct ImageDataset {
    store: Arc<Store>,
}

impl ImageDataset {
    /// Class names.
    pub fn classes(&self) -> &[String] {
        match &*self.store {
            Store::Fixed(s) => &s.classes,
            Store::Var(s) => &s.classes,
        }
    }
}

impl From<ImageSet> for ImageDataset {
    fn from(set: ImageSet) -> Self {
        Self {
            store: Arc::new(Store::Fixed(set)),
        }
    }
}

impl From<VarImageSet> for ImageDataset {
    fn from(set: VarImageSet) -> Self {
        Self {
            store: Arc::new(Store::Var(set)),
        }
    }
}

impl Dataset<ImageItem> for ImageDataset {
    fn get(&self, index: usize) -> Option<ImageItem> {
        match &*self.store {
            Store::Fixed(set) => (index < set.len()).then(|| ImageItem {
                index,
                label: set.labels[index],
                image: Image {
                    channels: set.channels,
                    height: set.height,
                    width: set.width,
                    pixels: set.image(index).to_vec(),
                },
            }),
            Store::Var(set) => set.images.get(index).map(|image| ImageItem {
                index,
                label: set.labels[index],
                image: image.clone(),
            }),
        }
    }

    fn len(&self) -> usize {
        match &*self.store {
            Store::Fixed(set) => set.len(),
            Store::Var(set) => set.images.len(),
        }
    }
}

/// A batch of images `[n, c, h, w]`, their classes, and the mixing targets (training with mixup
/// or CutMix only).
#[derive(Debug, Clone)]
pub struct ImageBatch<B: Backend> {
    /// Normalised, augmented (and mixed) images.
    pub images: Tensor<B, 4>,
    /// Class indices.
    pub targets: Tensor<B, 1, Int>,
    /// Partner classes and λ, when mixed.
    pub mix: Option<MixTargets<B>>,
}

/// A batch on the host, before it becomes tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct HostBatch {
    /// `[n, c, h, w]`.
    pub shape: [usize; 4],
    /// Normalised pixels.
    pub images: Vec<f32>,
    /// Class indices.
    pub targets: Vec<u16>,
    /// Partner classes and λ, when mixed.
    pub mix: Option<(Vec<u16>, Vec<f32>)>,
}

/// Augments, normalises and mixes items into batches. Deterministic: the randomness of a batch
/// derives from `seed` and the dataset indices of its items, so the same seed and the same
/// loader order give the same batches, whatever the number of workers.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageBatcher {
    /// Per-image augmentation.
    pub augment: Augment,
    /// Normalisation.
    pub normalize: Normalize,
    /// Batch mixing.
    pub mix: Mix,
    /// Seed of all randomness.
    pub seed: u64,
}

impl ImageBatcher {
    /// Validation/evaluation batches: the given crop, no randomness, no mixing.
    pub fn eval(augment: Augment, normalize: Normalize) -> Self {
        Self {
            augment,
            normalize,
            mix: Mix::None,
            seed: 0,
        }
    }

    /// The batch on the host (used by [`Batcher::batch`], and by the benchmarks).
    pub fn batch_host(&self, items: &[ImageItem]) -> HostBatch {
        let n = items.len();
        let first = items.first().map(|i| &i.image);
        let channels = first.map_or(3, |i| i.channels);
        let (oh, ow) = first.map_or((0, 0), |i| self.augment.output_size(i.height, i.width));
        let len = channels * oh * ow;
        let batch_seed = items.iter().fold(splitmix64(self.seed), |acc, item| {
            splitmix64(acc ^ item.index as u64)
        });
        let mut images = vec![0f32; n * len];
        images
            .par_chunks_mut(len.max(1))
            .zip(items.par_iter())
            .enumerate()
            .for_each(|(pos, (out, item))| {
                let mut rng = StdRng::seed_from_u64(splitmix64(batch_seed ^ pos as u64));
                let img = &item.image;
                transform_into(
                    &self.augment,
                    &img.pixels,
                    img.channels,
                    (img.height, img.width),
                    (oh, ow),
                    &self.normalize,
                    &mut rng,
                    out,
                );
            });
        let mut rng = StdRng::seed_from_u64(splitmix64(batch_seed ^ 0x004d_4958_5550));
        let plan = apply_mix(self.mix, &mut images, (n, channels, oh, ow), &mut rng);
        let targets: Vec<u16> = items.iter().map(|i| i.label).collect();
        let mix = plan.map(|p| (p.partner.iter().map(|&j| targets[j]).collect(), p.lambda));
        HostBatch {
            shape: [n, channels, oh, ow],
            images,
            targets,
            mix,
        }
    }
}

impl HostBatch {
    /// The batch as tensors on `device`: the host → device upload, the only step of a batch
    /// that needs the backend (a prefetching loader prepares the host batch on another thread).
    pub fn into_batch<B: Backend>(self, device: &B::Device) -> ImageBatch<B> {
        let n = self.shape[0];
        let ints = |v: &[u16]| {
            let data: Vec<i64> = v.iter().map(|&t| t as i64).collect();
            Tensor::<B, 1, Int>::from_data(TensorData::new(data, [n]), device)
        };
        ImageBatch {
            images: Tensor::from_data(TensorData::new(self.images, self.shape), device),
            targets: ints(&self.targets),
            mix: self.mix.map(|(partner, lambda)| MixTargets {
                partner_targets: ints(&partner),
                lambda: Tensor::from_data(TensorData::new(lambda, [n]), device),
            }),
        }
    }
}

impl<B: Backend> Batcher<B, ImageItem, ImageBatch<B>> for ImageBatcher {
    fn batch(&self, items: Vec<ImageItem>, device: &B::Device) -> ImageBatch<B> {
        self.batch_host(&items).into_batch(device)
    }
}
