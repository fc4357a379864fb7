//! The dataset of a run, read from disk (or the embedded Fashion-MNIST), with the study's
//! augmentation and normalisation per dataset.

use std::path::Path;

use anyhow::bail;
use data::{
    Augment, Cifar100Label, ImageBatcher, ImageDataset, ImagenetteOptions, Mix, Normalize, Split,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use study::config::{DatasetKind, TrainConfig, Transforms};

/// Seed of the subset drawn by `train_limit`/`valid_limit`: fixed, so every seed of a suite
/// trains on the same images.
const SUBSET_SEED: u64 = 0x5eed_5eed;

/// A run's data: both splits, the indices used, and how batches are made.
pub struct RunData {
    /// Training images.
    pub train: ImageDataset,
    /// Indices of `train` used (all, or `train_limit` of them).
    pub train_indices: Vec<usize>,
    /// Validation images.
    pub valid: ImageDataset,
    /// Indices of `valid` used.
    pub valid_indices: Vec<usize>,
    /// Number of classes.
    pub classes: usize,
    /// Image channels.
    pub channels: usize,
    /// Training batches (the loader re-seeds it each epoch).
    pub train_batcher: ImageBatcher,
    /// Validation batches.
    pub valid_batcher: ImageBatcher,
    /// Where the data came from, for the summary.
    pub source: String,
    /// The catalogue variant read (`imagenette2-160` for `imagenette`, …), for the summary.
    pub variant: &'static str,
}

fn subset(len: usize, limit: Option<usize>) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..len).collect();
    if let Some(limit) = limit.filter(|&l| l < len) {
        indices.shuffle(&mut StdRng::seed_from_u64(SUBSET_SEED));
        indices.truncate(limit);
        indices.sort_unstable();
    }
    indices
}

/// Both splits of a dataset and how they are transformed: the study's augmentation and
/// normalisation per dataset.
struct Splits {
    train: ImageDataset,
    valid: ImageDataset,
    augment: Augment,
    valid_augment: Augment,
    normalize: Normalize,
}

/// Reads both splits of `kind` from `path` (Imagenette at `image_size`, cached under `dir`).
fn read_splits(
    kind: &DatasetKind,
    path: &Path,
    image_size: usize,
    dir: &Path,
) -> anyhow::Result<Splits> {
    let (train, valid, augment, valid_augment, normalize) = match kind {
        DatasetKind::FashionMnistEmbedded => {
            let (train, valid) = data::embedded_fashion_mnist_split()?;
            let flip = Augment::PadCropFlip { pad: 2 };
            (
                train.into(),
                valid.into(),
                flip,
                Augment::None,
                Normalize::fashion_mnist(),
            )
        }
        DatasetKind::FashionMnist => (
            data::read_fashion_mnist(path, Split::Train)?.into(),
            data::read_fashion_mnist(path, Split::Test)?.into(),
            Augment::PadCropFlip { pad: 2 },
            Augment::None,
            Normalize::fashion_mnist(),
        ),
        DatasetKind::Cifar10 => (
            data::read_cifar10(path, Split::Train)?.into(),
            data::read_cifar10(path, Split::Test)?.into(),
            Augment::PadCropFlip { pad: 4 },
            Augment::None,
            Normalize::cifar10(),
        ),
        DatasetKind::Cifar100 => (
            data::read_cifar100(path, Split::Train, Cifar100Label::Fine)?.into(),
            data::read_cifar100(path, Split::Test, Cifar100Label::Fine)?.into(),
            Augment::PadCropFlip { pad: 4 },
            Augment::None,
            Normalize::cifar100(),
        ),
        DatasetKind::Imagenette(_) => {
            let size = image_size;
            let options = ImagenetteOptions::new(size, dir);
            let train = data::read_imagenette(path, Split::Train, &options)?;
            let valid = data::read_imagenette(path, Split::Test, &options)?;
            for why in [&train.stale_cache, &valid.stale_cache]
                .into_iter()
                .flatten()
            {
                crate::console::line(format!("warning: image cache {why}"));
            }
            (
                train.set.into(),
                valid.set.into(),
                Augment::imagenette_train(size),
                Augment::CenterCrop { size },
                Normalize::imagenet(),
            )
        }
    };
    Ok(Splits {
        train,
        valid,
        augment,
        valid_augment,
        normalize,
    })
}

/// fastai v1's transforms in place of the study's (same output size), without normalisation.
fn fastai_v1(
    study: &Augment,
    config: &TrainConfig,
    channels: usize,
) -> (Augment, Augment, Normalize) {
    let flip = config.flip;
    let (train, valid) = match *study {
        Augment::RandomResizedCropFlip { size, .. } => (
            Augment::FastaiV1 {
                size,
                train: true,
                flip,
            },
            Augment::FastaiV1 {
                size,
                train: false,
                flip,
            },
        ),
        _ => (Augment::FastaiV1PadCrop { pad: 4, flip }, Augment::None),
    };
    (train, valid, Normalize::identity(channels))
}

/// The number of classes, the same in both splits (a class in one split only is named).
fn check_classes(path: &Path, names: &[String], valid_names: &[String]) -> anyhow::Result<usize> {
    let only = |a: &[String], b: &[String]| a.iter().find(|c| !b.contains(c)).cloned();
    if let Some((class, split)) = only(names, valid_names)
        .map(|c| (c, "training"))
        .or_else(|| only(valid_names, names).map(|c| (c, "validation")))
    {
        bail!(
            "{}: class `{}` is in the {split} split only: both splits need the same classes",
            path.display(),
            study::input::shown(&class)
        );
    }
    if names.len() < 2 || valid_names.len() != names.len() {
        bail!(
            "{}: expected the same classes (at least 2) in both splits, got {} and {}",
            path.display(),
            names.len(),
            valid_names.len()
        );
    }
    Ok(names.len())
}

/// Reads the run's dataset. Errors name the file at fault, or the command that gets the data.
pub fn load(config: &TrainConfig) -> anyhow::Result<RunData> {
    let dir = config.data_dir();
    let found = data::locate(&config.dataset, &dir)?;
    let path = found.path;
    let mix = if config.mixup > 0.0 {
        Mix::Mixup {
            alpha: config.mixup,
        }
    } else {
        Mix::None
    };
    let Splits {
        train,
        valid,
        augment,
        valid_augment,
        normalize,
    } = read_splits(&config.dataset, &path, config.image_size, &dir)?;
    let (augment, valid_augment, normalize) = match config.transforms {
        Transforms::Study => (augment, valid_augment, normalize),
        Transforms::FastaiV1 => fastai_v1(&augment, config, normalize.mean.len()),
    };
    let classes = check_classes(&path, train.classes(), valid.classes())?;
    use burn::data::dataset::Dataset;
    let channels = train.get(0).map_or(3, |item| item.image.channels);
    let train_indices = subset(train.len(), config.train_limit);
    let valid_indices = subset(valid.len(), config.valid_limit);
    if train_indices.is_empty() || valid_indices.is_empty() {
        let (split, n) = match train_indices.is_empty() {
            true => ("training", train.len()),
            false => ("validation", valid.len()),
        };
        bail!(
            "{}: the dataset has no {split} image ({n} read): nothing to train on or evaluate",
            path.display()
        );
    }
    if train_indices.len() < config.batch_size {
        bail!(
            "field `batch_size`: {} is more than the {} training images",
            config.batch_size,
            train_indices.len()
        );
    }
    Ok(RunData {
        train,
        train_indices,
        valid,
        valid_indices,
        classes,
        channels,
        train_batcher: ImageBatcher {
            augment,
            normalize: normalize.clone(),
            mix,
            seed: config.seed,
        },
        valid_batcher: ImageBatcher::eval(valid_augment, normalize),
        source: path.display().to_string(),
        variant: found.variant,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_data_names_the_commands() {
        let dir = tempfile::tempdir().unwrap();
        let config = TrainConfig::new()
            .with_dataset(DatasetKind::Cifar10)
            .with_data_dir(Some(dir.path().display().to_string()));
        let message = format!("{:#}", load(&config).err().unwrap());
        assert!(
            message.contains("cargo xtask download cifar10")
                && message.contains("cargo xtask import cifar10"),
            "{message}"
        );
    }

    /// An Imagenette tree whose training split has a class the validation split lacks (and
    /// the other way round): the class is named.
    #[test]
    fn a_class_in_one_split_only_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("imagenette2-160");
        for (split, wnids) in [
            ("train", ["n01440764", "n02102040"]),
            ("val", ["n01440764", "n03000684"]),
        ] {
            for wnid in wnids {
                let folder = root.join(split).join(wnid);
                std::fs::create_dir_all(&folder).unwrap();
                image::RgbImage::from_pixel(40, 32, image::Rgb([90, 120, 30]))
                    .save(folder.join("a.png"))
                    .unwrap();
            }
        }
        let config = TrainConfig::new()
            .with_dataset(DatasetKind::Imagenette(Some("imagenette2-160")))
            .with_image_size(32)
            .with_data_dir(Some(dir.path().display().to_string()));
        let message = format!("{:#}", load(&config).err().unwrap());
        assert!(
            message.contains("is in the training split only")
                && (message.contains("n02102040") || message.contains("springer")),
            "{message}"
        );
    }

    #[test]
    fn the_embedded_set_loads_with_limits() {
        let config = TrainConfig::new()
            .with_train_limit(Some(300))
            .with_valid_limit(Some(100));
        let data = load(&config).unwrap();
        assert_eq!((data.classes, data.channels), (10, 1));
        assert_eq!(
            (data.train_indices.len(), data.valid_indices.len()),
            (300, 100)
        );
    }
}
