//! A Burn [`DataLoader`] whose every epoch is a pure function of (seed, epoch): the shuffle, the
//! augmentation and mixup of epoch `e` are the same whether the run went through epochs
//! `1..e` or was resumed from a checkpoint at `e - 1`. (Burn's own loader draws each epoch's
//! order from one generator that advances, so a resumed run would see other batches.) Batches
//! are built ahead on worker threads ([`Prefetch`]) while the device runs the step; a batch is a
//! function of its items and the epoch's seed alone, so they are the same for any number of
//! workers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::Dataset;
use burn::tensor::backend::Backend;
use data::{HostBatch, ImageBatch, ImageBatcher, ImageDataset, ImageItem};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use data::Prefetch;

/// Mixes a seed and an epoch into a new seed (SplitMix64's output function).
pub fn mix_seed(seed: u64, salt: u64) -> u64 {
    data::mix64(seed ^ salt.wrapping_mul(data::GOLDEN_GAMMA))
}

/// One node's share of every batch in a multi-node run: node `rank` of `count` takes the
/// `rank`-th of `count` equal, contiguous parts of each global batch (so the nodes' shards of
/// an epoch are disjoint and together are the single-process epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This node's rank.
    pub rank: usize,
    /// Nodes.
    pub count: usize,
}

impl Shard {
    /// The whole of every batch (one process).
    pub const WHOLE: Shard = Shard { rank: 0, count: 1 };

    /// This node's part of each `global_batch`-sized batch of `order` (the last batch, if
    /// shorter, is split the same way, by `len / count`).
    pub fn select(&self, order: &[usize], global_batch: usize) -> Vec<usize> {
        order
            .chunks(global_batch.max(1))
            .flat_map(|batch| {
                let part = batch.len() / self.count;
                &batch[self.rank * part..(self.rank + 1) * part]
            })
            .copied()
            .collect()
    }
}

/// Batches of an [`ImageDataset`] (a subset of it, by index), shuffled per epoch or not.
pub struct EpochLoader<B: Backend> {
    dataset: ImageDataset,
    indices: Arc<Vec<usize>>,
    batcher: ImageBatcher,
    /// The global batch (all nodes together); this loader yields its shard's part of each.
    batch_size: usize,
    shard: Shard,
    shuffle: bool,
    drop_last: bool,
    epoch: Arc<AtomicUsize>,
    /// Threads building batches ahead (0: on the training thread).
    workers: usize,
    device: B::Device,
}

impl<B: Backend> Clone for EpochLoader<B> {
    fn clone(&self) -> Self {
        Self {
            dataset: self.dataset.clone(),
            indices: self.indices.clone(),
            batcher: self.batcher.clone(),
            batch_size: self.batch_size,
            shard: self.shard,
            shuffle: self.shuffle,
            drop_last: self.drop_last,
            epoch: self.epoch.clone(),
            workers: self.workers,
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
            shard: Shard::WHOLE,
            shuffle: true,
            drop_last: true,
            epoch: Arc::new(AtomicUsize::new(0)),
            workers: default_workers(),
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

    /// This loader, yielding only `shard`'s part of each batch (the global batch, the epoch's
    /// order and the batch count stay those of one process; `batch_size` must divide by
    /// `shard.count`, which the run checks).
    pub fn sharded(self, shard: Shard) -> Self {
        Self { shard, ..self }
    }

    /// This loader, building its batches on `workers` threads ahead of their use (0: on the
    /// thread that asks for them, one at a time). The batches are the same for any count.
    pub fn with_workers(self, workers: usize) -> Self {
        Self { workers, ..self }
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

    /// Items per epoch over all nodes (after dropping the last incomplete batch): the index
    /// space burn-train's multi-device strategy splits between local devices.
    pub fn items_per_epoch(&self) -> usize {
        if self.drop_last {
            self.batches_per_epoch() * self.batch_size
        } else {
            self.indices.len()
        }
    }

    /// The dataset indices of epoch `epoch` (1-based) that this loader's shard trains on, in
    /// batch order: the permutation is drawn from (seed, epoch) alone, then [`Shard::select`].
    pub fn epoch_order(&self, epoch: usize) -> Vec<usize> {
        let mut order = self.indices.as_ref().clone();
        if self.shuffle {
            let mut rng = StdRng::seed_from_u64(mix_seed(self.batcher.seed, epoch as u64));
            order.shuffle(&mut rng);
        }
        order.truncate(self.items_per_epoch());
        if self.shard == Shard::WHOLE {
            return order;
        }
        self.shard.select(&order, self.batch_size)
    }

    /// Images per batch of this loader's shard.
    fn shard_batch(&self) -> usize {
        (self.batch_size / self.shard.count).max(1)
    }
}

/// The loader's default worker count: the machine's cores.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One epoch's batches, built ahead by a [`Prefetch`] and uploaded to the device when taken.
struct EpochIter<B: Backend> {
    batches: Prefetch<HostBatch>,
    /// Items per batch, and items in the epoch (for the progress).
    batch: usize,
    items: usize,
    position: usize,
    device: B::Device,
}

impl<B: Backend> Iterator for EpochIter<B> {
    type Item = ImageBatch<B>;

    fn next(&mut self) -> Option<ImageBatch<B>> {
        let host = self.batches.next()?;
        self.position = (self.position + self.batch).min(self.items);
        Some(host.into_batch(&self.device))
    }
}

impl<B: Backend> DataLoaderIterator<ImageBatch<B>> for EpochIter<B> {
    fn progress(&self) -> Progress {
        Progress::new(self.position, self.items)
    }
}

impl<B: Backend> DataLoader<B, ImageBatch<B>> for EpochLoader<B> {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<ImageBatch<B>> + 'a> {
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        let mut batcher = self.batcher.clone();
        if self.shuffle {
            // Each node draws its own augmentation and mixup (rank 0's are one process's).
            let salt = ((epoch as u64) << 32) + self.shard.rank as u64;
            batcher.seed = mix_seed(self.batcher.seed, salt);
        }
        let order = Arc::new(self.epoch_order(epoch));
        let (batch, items) = (self.shard_batch(), order.len());
        let dataset = self.dataset.clone();
        let make = move |b: usize| {
            let chunk = &order[b * batch..((b + 1) * batch).min(order.len())];
            let items: Vec<ImageItem> = chunk.iter().filter_map(|&i| dataset.get(i)).collect();
            batcher.batch_host(&items)
        };
        Box::new(EpochIter {
            batches: Prefetch::new(items.div_ceil(batch), self.workers, make),
            batch,
            items,
            position: 0,
            device: self.device.clone(),
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
    fn batches_are_the_same_for_any_number_of_workers() {
        let bits = |workers: usize| -> Vec<Vec<u32>> {
            let l = loader().with_workers(workers);
            (0..3)
                .flat_map(|_| epoch_data(&l))
                .map(|b| b.iter().map(|v| v.to_bits()).collect())
                .collect()
        };
        let inline = bits(0);
        assert_eq!(inline.len(), 6);
        for workers in [1, 2, 3, 7] {
            assert_eq!(bits(workers), inline, "{workers} workers");
        }
    }

    /// Two nodes' shards of an epoch are disjoint, together are the one-process epoch, and
    /// each takes its half of every global batch.
    #[test]
    fn node_shards_split_every_batch() {
        let whole = loader();
        let shards: Vec<EpochLoader<NdArray>> = (0..2)
            .map(|rank| loader().sharded(Shard { rank, count: 2 }))
            .collect();
        for epoch in 1..=3 {
            let order = whole.epoch_order(epoch);
            let (a, b) = (shards[0].epoch_order(epoch), shards[1].epoch_order(epoch));
            assert_eq!((a.len(), b.len()), (4, 4));
            assert_eq!(a, [order[0], order[1], order[4], order[5]]);
            assert_eq!(b, [order[2], order[3], order[6], order[7]]);
        }
        let sizes: Vec<usize> = shards[1].iter().map(|b| b.targets.dims()[0]).collect();
        assert_eq!(sizes, [2, 2]);
        assert_eq!(shards[1].batches_per_epoch(), whole.batches_per_epoch());
        assert_eq!(
            Shard { rank: 2, count: 3 }.select(&[1, 2, 3, 4, 5, 6, 7], 6),
            [5, 6],
            "a last batch shorter than the nodes gives them nothing"
        );
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
