//! IDX files (MNIST, Fashion-MNIST), gzipped or raw.

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::error::{DataError, Result};
use crate::images::ImageSet;
use crate::source::{MAX_FILE_BYTES, read_file};
use crate::split::Split;

/// IDX magic number of unsigned-byte, 3-dimensional arrays (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// IDX magic number of unsigned-byte, 1-dimensional arrays (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Fashion-MNIST's class names.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// An unsigned-byte IDX array.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    /// Dimensions, outermost first.
    pub dims: Vec<usize>,
    /// Row-major values.
    pub data: Vec<u8>,
}

/// Decodes IDX bytes (gzip-compressed or raw, detected by the gzip magic number), checking the
/// magic number against `magic` and the data size against the header.
pub fn parse_idx(path: &Path, bytes: &[u8], magic: u32) -> Result<IdxArray> {
    let raw;
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        // Bounded: a small gzip stream can expand to any size.
        GzDecoder::new(bytes)
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| DataError::format(path, format!("corrupt gzip stream: {e}")))?;
        if out.len() as u64 > MAX_FILE_BYTES {
            return Err(DataError::format(
                path,
                format!("decompresses to more than {MAX_FILE_BYTES} bytes"),
            ));
        }
        raw = out;
        &raw[..]
    } else {
        bytes
    };
    if bytes.len() < 4 {
        return Err(DataError::format(path, "too short for an IDX header"));
    }
    let found = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if found != magic {
        return Err(DataError::format(
            path,
            format!("bad IDX magic number 0x{found:08x}, expected 0x{magic:08x}"),
        ));
    }
    let ndims = (magic & 0xff) as usize;
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err(DataError::format(
            path,
            format!(
                "truncated IDX header ({} bytes, need {header})",
                bytes.len()
            ),
        ));
    }
    let dims: Vec<usize> = (0..ndims)
        .map(|d| {
            let o = 4 + 4 * d;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
        })
        .collect();
    let expected = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    let data = &bytes[header..];
    if expected != Some(data.len()) {
        return Err(DataError::format(
            path,
            format!(
                "size mismatch: header {dims:?} needs {} data bytes, the file has {}",
                expected.map_or("more than 2^64".into(), |n| n.to_string()),
                data.len()
            ),
        ));
    }
    Ok(IdxArray {
        dims,
        data: data.to_vec(),
    })
}

/// Builds an [`ImageSet`] from IDX images and labels, checking that counts agree and labels are
/// below `classes.len()`.
pub fn idx_image_set(
    images: (&Path, &[u8]),
    labels: (&Path, &[u8]),
    classes: &[&str],
) -> Result<ImageSet> {
    let imgs = parse_idx(images.0, images.1, IMAGES_MAGIC)?;
    let lbls = parse_idx(labels.0, labels.1, LABELS_MAGIC)?;
    if imgs.dims[1] == 0 || imgs.dims[2] == 0 {
        return Err(DataError::format(
            images.0,
            format!(
                "images of {}×{} pixels: both sides must be at least 1",
                imgs.dims[1], imgs.dims[2]
            ),
        ));
    }
    if imgs.dims[0] != lbls.dims[0] {
        return Err(DataError::format(
            labels.0,
            format!(
                "{} labels for {} images in {}",
                lbls.dims[0],
                imgs.dims[0],
                images.0.display()
            ),
        ));
    }
    if let Some((record, &label)) = lbls
        .data
        .iter()
        .enumerate()
        .find(|(_, l)| **l as usize >= classes.len())
    {
        return Err(DataError::Label {
            path: labels.0.to_path_buf(),
            record,
            label: label as u32,
            classes: classes.len(),
        });
    }
    Ok(ImageSet {
        channels: 1,
        height: imgs.dims[1],
        width: imgs.dims[2],
        pixels: imgs.data,
        labels: lbls.data.iter().map(|&l| l as u16).collect(),
        classes: classes.iter().map(|c| c.to_string()).collect(),
    })
}

/// Reads MNIST-layout IDX files (`train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`,
/// `t10k-…`) from the folder `dir`.
pub fn read_idx_dataset(
    dir: &Path,
    split: Split,
    classes: &[&str],
    hint: &str,
) -> Result<ImageSet> {
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    let find = |stem: String| -> Result<(PathBuf, Vec<u8>)> {
        for name in [format!("{stem}.gz"), stem.clone()] {
            let path = dir.join(name);
            if path.is_file() {
                let bytes = read_file(&path)?;
                return Ok((path, bytes));
            }
        }
        Err(DataError::Missing {
            path: dir.join(format!("{stem}.gz")),
            hint: hint.to_string(),
        })
    };
    let images = find(format!("{prefix}-images-idx3-ubyte"))?;
    let labels = find(format!("{prefix}-labels-idx1-ubyte"))?;
    idx_image_set((&images.0, &images.1), (&labels.0, &labels.1), classes)
}
