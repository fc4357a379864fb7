//! Datasets for lookahead-burn: readers of the official formats, augmentation, mixup, Burn
//! integration and downloads.
//!
//! * [`read_cifar10`] / [`read_cifar100`]: the official binary version, from the extracted folder
//!   or straight from the `.tar.gz`, held in memory as u8.
//! * [`parse_idx`] / [`read_fashion_mnist`]: IDX files (MNIST, Fashion-MNIST), gzipped or raw;
//!   [`embedded_fashion_mnist_split`]: the Fashion-MNIST test set committed in `datasets/`, the
//!   default offline dataset.
//! * [`read_imagenette`]: `imagenette2[-320|-160]` and Imagewoof layouts, parallel decoding,
//!   shortest-side resize, a cache of decoded images, noisy labels, optional skipping of corrupt
//!   JPEGs.
//! * [`Augment`], [`Normalize`], [`Mix`]: pad-crop-flip, random-resized-crop, center crop,
//!   per-dataset normalisation, fastai's mixup, timm's CutMix; [`mixed_cross_entropy`] with
//!   label smoothing.
//! * [`ImageDataset`] and [`ImageBatcher`]: a Burn `Dataset` and `Batcher` producing
//!   [`ImageBatch`]es on any device.
//! * [`DATASETS`], [`DatasetKind`], [`locate`]: the one catalogue of datasets (names, URLs,
//!   checksums, archive and folder names) and where a dataset is on disk.
//! * [`download`] / [`import`]: official URLs, checksums, progress bar, atomic rename.
//!
//! Feature `burn` (default) adds the Burn integration ([`ImageDataset`], [`ImageBatcher`], the
//! mixup losses); without it the crate is Burn-free, for `xtask`.
//!
//! ```
//! # #[cfg(feature = "burn")] {
//! use burn::backend::NdArray;
//! use burn::data::dataloader::batcher::Batcher;
//! use burn::data::dataset::Dataset;
//! use data::{Augment, ImageBatcher, ImageDataset, Mix, Normalize, embedded_fashion_mnist_split};
//!
//! let (train, valid) = embedded_fashion_mnist_split().unwrap();
//! assert_eq!((train.len(), valid.len()), (8000, 2000));
//! let dataset = ImageDataset::from(train);
//! let batcher = ImageBatcher {
//!     augment: Augment::PadCropFlip { pad: 2 },
//!     normalize: Normalize::fashion_mnist(),
//!     mix: Mix::Mixup { alpha: 0.4 },
//!     seed: 42,
//! };
//! let items = (0..16).filter_map(|i| dataset.get(i)).collect();
//! let batch: data::ImageBatch<NdArray> = batcher.batch(items, &Default::default());
//! assert_eq!(batch.images.dims(), [16, 1, 28, 28]);
//! assert!(batch.mix.is_some());
//! # }
//! ```

mod atomic;
mod augment;
#[cfg(feature = "burn")]
mod batcher;
mod catalog;
mod cifar;
mod download;
mod error;
mod fashion;
#[cfg(feature = "burn")]
pub mod fastai_v1;
mod idx;
mod imagenette;
mod images;
#[cfg(feature = "burn")]
mod mixup;
mod normalize;
mod prefetch;
mod seed;
mod source;
mod split;

pub use atomic::{AtomicFile, FAULT_ENV, write_atomic, write_atomic_with};
pub use augment::Augment;
#[cfg(feature = "burn")]
pub use batcher::{HostBatch, ImageBatch, ImageBatcher, ImageDataset, ImageItem};
pub use catalog::{
    Check, DATA_DIR_ENV, DATASETS, DatasetKind, DatasetSpec, EMBEDDED_FASHION_MNIST_DIR,
    IMAGENETTE_DEFAULT, Located, RemoteFile, data_dir, dataset_spec, locate,
};
pub use cifar::{Cifar100Label, read_cifar10, read_cifar100};
pub use download::{download, import, verify};
pub use error::{DataError, Result};
pub use fashion::{
    DEBIAN_FASHION_MNIST, embedded_fashion_mnist, embedded_fashion_mnist_split,
    find_full_fashion_mnist, read_fashion_mnist,
};
pub use idx::{
    FASHION_MNIST_CLASSES, IMAGES_MAGIC, IdxArray, LABELS_MAGIC, idx_image_set, parse_idx,
    read_idx_dataset,
};
pub use imagenette::{
    Imagenette, ImagenetteOptions, LabelNoise, MAX_IMAGE_SIDE, decode_resized, read_imagenette,
};
pub use images::{Image, ImageSet, VarImageSet};
#[cfg(feature = "burn")]
pub use mixup::{Mix, MixPlan, MixTargets, mixed_cross_entropy, smoothed_cross_entropy};
pub use normalize::Normalize;
pub use prefetch::{DEPTH as PREFETCH_DEPTH, Prefetch};
pub use seed::{GOLDEN_GAMMA, mix64, splitmix64};
pub use source::{MAX_FILE_BYTES, check_regular, read_regular, read_text};
pub use split::Split;
