//! A Burn [`DataLoader`] whose every epoch is a pure function of (seed, epoch): the shuffle, the
//! augmentation and mixup of epoch `e` are the same whether the run went through epochs
//! `1..e` or was resumed from a checkpoint at `e - 1`. (Burn's own loader draws each epoch's
//! order from one generator that advances, so a resumed run would see other batches.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::Dataset;
use burn::tensor::backend::Backend;
use data::{ImageBatch, ImageBatcher, ImageDataset, ImageItem};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Mixes a seed and an epoch into a new seed (SplitMix64's output function).
pub fn mix_seed(seed: u64, salt: u64) -> u64 {
    data::mix64(seed ^ salt.wrapping_mul(data::GOLDEN_GAMMA))
}

/// Batches of an [`ImageDataset`] (a subset of it, by index), shuffled per epoch or not.
pub struct EpochLoader<B: Backend> {
    dataset: ImageDataset,
    indices: Arc<Vec<usize>>,
    batcher: ImageBatcher,
    batch_size: usize,
    shuffle: bool,
    drop_last: bool,
    epoch: Arc<AtomicUsize>,
    device: B::Device,
}

impl<B: Backend> Clone for EpochLoader<B> {
    fn clone(&self) -> Self {
        Self {
            dataset: self.dataset.clone(),
            indices: self.indices.clone(),
            batcher: self.batcher.clone(),
            batch_size: self.batch_size,
            shuffle: self.shuffle,
            drop_last: self.drop_last,
            epoch: self.epoch.clone(),
            device: self.device.clone(),
        }
    }
}

impl<B: Backend> EpochLoader<B> {
    /// Training batches: shuffled each epoch, the batcher's randomness re-seeded each epoch, the
    /// last incomplete batch dropped (as fastai does; a batch of one breaks batch norm).
    pub fn train(
        dataset: ImageDataset,
        indices: Vec<usize>,
        batcher: ImageBatcher,
        batch_size: usize,
        device: B::Device,
    ) -> Self {
        Self {
            dataset,
            indices: Arc::new(indices),
            batcher,
            batch_size: batch_size.max(1),
            shuffle: true,
            drop_last: true,
            epoch: Arc::new(AtomicUsize::new(0)),
            device,
        }
    }

    /// Validation batches: in order, every item, no randomness.
    pub fn valid(
        dataset: ImageDataset,
        indices: Vec<usize>,
        batcher: ImageBatcher,
        batch_size: usize,
        device: B::Device,
    ) -> Self {
        Self {
            shuffle: false,
            drop_last: false,
            ..Self::train(dataset, indices, batcher, batch_size, device)
        }
    }

    /// Sets the number of epochs already done (the next `iter()` is epoch `epochs_done + 1`).
    pub fn set_epochs_done(&self, epochs_done: usize) {
        self.epoch.store(epochs_done, Ordering::SeqCst);
    }

    /// Batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        let n = self.indices.len();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// Items per epoch (after dropping the last incomplete batch).
    pub fn items_per_epoch(&self) -> usize {
        if self.drop_last {
            self.batches_per_epoch() * self.batch_size
        } else {
            self.indices.len()
        }
    }

    /// The dataset indices of epoch `epoch` (1-based), in batch order.
    pub fn epoch_order(&self, epoch: usize) -> Vec<usize> {
        let mut order = self.indices.as_ref().clone();
        if self.shuffle {
            let mut rng = StdRng::seed_from_u64(mix_seed(self.batcher.seed, epoch as u64));
            order.shuffle(&mut rng);
        }
        order.truncate(self.items_per_epoch());
        order
    }
}

struct EpochIter<'a, B: Backend> {
    loader: &'a EpochLoader<B>,
    batcher: ImageBatcher,
    order: Vec<usize>,
    position: usize,
}

impl<B: Backend> Iterator for EpochIter<'_, B> {
    type Item = ImageBatch<B>;

    fn next(&mut self) -> Option<ImageBatch<B>> {
        if self.position >= self.order.len() {
            return None;
        }
        let end = (self.position + self.loader.batch_size).min(self.order.len());
        let items: Vec<ImageItem> = self.order[self.position..end]
            .iter()
            .filter_map(|&i| self.loader.dataset.get(i))
            .collect();
        self.position = end;
        Some(self.batcher.batch(items, &self.loader.device))
    }
}

impl<B: Backend> DataLoaderIterator<ImageBatch<B>> for EpochIter<'_, B> {
    fn progress(&self) -> Progress {
        Progress::new(self.position, self.order.len())
    }
}

impl<B: Backend> DataLoader<B, ImageBatch<B>> for EpochLoader<B> {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<ImageBatch<B>> + 'a> {
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        let mut batcher = self.batcher.clone();
        if self.shuffle {
            batcher.seed = mix_seed(self.batcher.seed, (epoch as u64) << 32);
        }
        Box::new(EpochIter {
            loader: self,
            batcher,
            order: self.epoch_order(epoch),
            position: 0,
        })
    }

    fn num_items(&self) -> usize {
        self.items_per_epoch()
    }

    fn to_device(&self, device: &B::Device) -> Arc<dyn DataLoader<B, ImageBatch<B>>> {
        Arc::new(Self {
            device: device.clone(),
            ..self.clone()
        })
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<B, ImageBatch<B>>> {
        let end = end.min(self.indices.len());
        let start = start.min(end);
        // A slice (one device's share of the epoch) counts its own epochs, from where the
        // whole loader stands, so that each epoch is still a function of (seed, epoch).
        Arc::new(Self {
            indices: Arc::new(self.indices[start..end].to_vec()),
            epoch: Arc::new(AtomicUsize::new(self.epoch.load(Ordering::SeqCst))),
            ..self.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use data::{Augment, ImageSet, Mix, Normalize};

    fn dataset(n: usize) -> ImageDataset {
        ImageDataset::from(ImageSet {
            channels: 1,
            height: 4,
            width: 4,
            pixels: (0..n * 16).map(|i| (i % 251) as u8).collect(),
            labels: (0..n).map(|i| (i % 3) as u16).collect(),
            classes: vec!["a".into(), "b".into(), "c".into()],
        })
    }

    fn loader() -> EpochLoader<NdArray> {
        let batcher = ImageBatcher {
            augment: Augment::PadCropFlip { pad: 1 },
            normalize: Normalize::identity(1),
            mix: Mix::Mixup { alpha: 0.4 },
            seed: 7,
        };
        EpochLoader::train(
            dataset(10),
            (0..10).collect(),
            batcher,
            4,
            Default::default(),
        )
    }

    fn epoch_data(loader: &EpochLoader<NdArray>) -> Vec<Vec<f32>> {
        loader
            .iter()
            .map(|b| b.images.into_data().to_vec::<f32>().unwrap())
            .collect()
    }

    #[test]
    fn epochs_differ_and_replay_after_a_resume() {
        let first = loader();
        assert_eq!((first.batches_per_epoch(), first.num_items()), (2, 8));
        let e1 = epoch_data(&first);
        let e2 = epoch_data(&first);
        assert_eq!(e1.len(), 2);
        assert_ne!(e1, e2, "each epoch has its own order and augmentation");
        let resumed = loader();
        resumed.set_epochs_done(1);
        assert_eq!(epoch_data(&resumed), e2, "epoch 2 replays after a resume");
        let order = first.epoch_order(3);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 8);
    }

    #[test]
    fn validation_keeps_every_item_in_order() {
        let batcher = ImageBatcher::eval(Augment::None, Normalize::identity(1));
        let valid = EpochLoader::<NdArray>::valid(
            dataset(10),
            (0..10).collect(),
            batcher,
            4,
            Default::default(),
        );
        let sizes: Vec<usize> = valid.iter().map(|b| b.targets.dims()[0]).collect();
        assert_eq!(sizes, vec![4, 4, 2]);
        assert_eq!(valid.epoch_order(5), (0..10).collect::<Vec<_>>());
        assert_eq!(valid.slice(2, 5).num_items(), 3);
    }
}
