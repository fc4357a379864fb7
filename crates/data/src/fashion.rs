//! Fashion-MNIST: the 10k test set committed in `datasets/fashion-mnist-t10k/` (embedded in the
//! binary, so the main job runs offline out of the box), and the full dataset when present.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{DataError, Result};
use crate::idx::{FASHION_MNIST_CLASSES, idx_image_set, read_idx_dataset};
use crate::images::ImageSet;
use crate::split::Split;

const IMAGES: &[u8] =
    include_bytes!("../../../datasets/fashion-mnist-t10k/t10k-images-idx3-ubyte.gz");
const LABELS: &[u8] =
    include_bytes!("../../../datasets/fashion-mnist-t10k/t10k-labels-idx1-ubyte.gz");
const IMAGES_SHA256: &str = "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa";
const LABELS_SHA256: &str = "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05";

/// Where Debian's `dataset-fashion-mnist` package installs the full dataset.
pub const DEBIAN_FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

/// Lowercase hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The committed Fashion-MNIST test set: 10,000 images 28×28, 1,000 per class. The embedded
/// bytes are checked against the SHA-256 sums in `datasets/fashion-mnist-t10k/SHA256SUMS`.
pub fn embedded_fashion_mnist() -> Result<ImageSet> {
    let dir = Path::new("datasets/fashion-mnist-t10k");
    let images = dir.join("t10k-images-idx3-ubyte.gz");
    let labels = dir.join("t10k-labels-idx1-ubyte.gz");
    for (path, bytes, expected) in [
        (&images, IMAGES, IMAGES_SHA256),
        (&labels, LABELS, LABELS_SHA256),
    ] {
        let actual = sha256_hex(bytes);
        if actual != expected {
            return Err(DataError::Checksum {
                path: path.clone(),
                kind: "sha256",
                expected: expected.into(),
                actual,
            });
        }
    }
    idx_image_set((&images, IMAGES), (&labels, LABELS), &FASHION_MNIST_CLASSES)
}

/// The embedded set split deterministically: image `i` goes to validation when `i % 5 == 4`
/// (2,000 images), else to training (8,000). Returns (train, valid).
pub fn embedded_fashion_mnist_split() -> Result<(ImageSet, ImageSet)> {
    let all = embedded_fashion_mnist()?;
    let (valid, train): (Vec<usize>, Vec<usize>) = (0..all.len()).partition(|i| i % 5 == 4);
    Ok((all.subset(&train), all.subset(&valid)))
}

/// The folder holding the full Fashion-MNIST: `<data_dir>/fashion-mnist` if it has the files,
/// else Debian's package folder if installed.
pub fn find_full_fashion_mnist(data_dir: &Path) -> Option<PathBuf> {
    [
        data_dir.join("fashion-mnist"),
        PathBuf::from(DEBIAN_FASHION_MNIST),
    ]
    .into_iter()
    .find(|dir| {
        dir.join("train-images-idx3-ubyte.gz").is_file()
            || dir.join("train-images-idx3-ubyte").is_file()
    })
}

/// The full Fashion-MNIST (60,000 train / 10,000 test) from `dir`.
/// Refused: images of another size than Fashion-MNIST's 28×28 (a valid IDX file of another
/// dataset, or a damaged header).
pub fn read_fashion_mnist(dir: &Path, split: Split) -> Result<ImageSet> {
    let set = read_idx_dataset(
        dir,
        split,
        &FASHION_MNIST_CLASSES,
        "Run `cargo xtask download fashion-mnist`, or `apt-get install dataset-fashion-mnist`",
    )?;
    if (set.channels, set.height, set.width) != (1, 28, 28) {
        return Err(DataError::format(
            dir,
            format!(
                "the {split:?} images are {}×{} pixels ({} channel(s)); Fashion-MNIST's are 28×28, \
                 one channel",
                set.height, set.width, set.channels
            ),
        ));
    }
    Ok(set)
}
