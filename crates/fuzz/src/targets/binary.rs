//! Binary targets: IDX (raw and gzipped), CIFAR-10's binary batches in a folder and in a
//! `.tar.gz`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use data::{FASHION_MNIST_CLASSES, ImageSet, Split, idx_image_set, read_cifar10};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use super::{Target, Verdict, split_choice, with_choice};
use crate::mutate::{Encoding, Field, Layout, Rng, mutate_bytes};

/// The oracle of every image reader: what it accepted is consistent.
fn check_set(set: &ImageSet) {
    let n = set.labels.len();
    assert!(
        set.height > 0 && set.width > 0,
        "accepted {}×{} images",
        set.height,
        set.width
    );
    assert_eq!(
        set.pixels.len(),
        n * set.channels * set.height * set.width,
        "pixels ≠ header"
    );
    let classes = set.classes.len();
    assert!(
        set.labels.iter().all(|&l| (l as usize) < classes),
        "label ≥ {classes} accepted"
    );
}

pub(super) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = GzEncoder::new(Vec::new(), Compression::fast());
    out.write_all(bytes).expect("in memory");
    out.finish().expect("in memory")
}

pub(super) fn gunzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut out).ok()?;
    Some(out)
}

/// A gzip stream's layout: header, and the CRC-32 and length of its trailer.
pub(super) fn gzip_layout(len: usize) -> Layout {
    let trailer = len.saturating_sub(8);
    Layout {
        fields: vec![
            Field {
                offset: trailer,
                width: 4,
                encoding: Encoding::Little,
            },
            Field {
                offset: trailer + 4,
                width: 4,
                encoding: Encoding::Little,
            },
        ],
        boundaries: vec![10, trailer, trailer + 4, len],
    }
}

/// The layout of an IDX file of `ndims` dimensions and `len` bytes: its magic and sizes.
pub(super) fn idx_layout(ndims: usize, len: usize) -> Layout {
    let fields = (0..=ndims)
        .map(|d| Field {
            offset: 4 * d,
            width: 4,
            encoding: Encoding::Big,
        })
        .collect();
    Layout {
        fields,
        boundaries: vec![4, 4 + 4 * ndims, len],
    }
}

/// IDX images (3 of 4×3) and labels, raw or gzipped; the mutated one is chosen by the input's
/// first byte. Oracle: [`check_set`].
pub struct Idx {
    seeds: Vec<Vec<u8>>,
    images: Vec<u8>,
    labels: Vec<u8>,
}

pub(super) fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out.extend(data);
    out
}

impl Idx {
    pub fn new() -> anyhow::Result<Self> {
        let images = idx(
            data::IMAGES_MAGIC,
            &[3, 4, 3],
            &(0..36).collect::<Vec<u8>>(),
        );
        let labels = idx(data::LABELS_MAGIC, &[3], &[0, 9, 4]);
        let seeds = vec![
            with_choice(0, &images),
            with_choice(1, &labels),
            with_choice(0, &gzip(&images)),
            with_choice(1, &gzip(&labels)),
        ];
        Ok(Self {
            seeds,
            images,
            labels,
        })
    }
}

impl Target for Idx {
    fn seeds(&self) -> &[Vec<u8>] {
        &self.seeds
    }

    fn mutate(&self, seed: &[u8], rng: &mut Rng) -> Vec<u8> {
        let (choice, bytes) = split_choice(seed, 2);
        let layout = match bytes.starts_with(&[0x1f, 0x8b]) {
            true => gzip_layout(bytes.len()),
            false => idx_layout(if choice == 0 { 3 } else { 1 }, bytes.len()),
        };
        with_choice(choice, &mutate_bytes(bytes, &layout, rng))
    }

    fn run(&mut self, input: &[u8]) -> Verdict {
        let (choice, bytes) = split_choice(input, 2);
        let (images, labels) = match choice {
            0 => (bytes, &self.labels[..]),
            _ => (&self.images[..], bytes),
        };
        let path = Path::new("fuzz-idx");
        let result = idx_image_set((path, images), (path, labels), &FASHION_MNIST_CLASSES);
        if let Ok(set) = &result {
            check_set(set);
        }
        Verdict::from(&result)
    }
}

const RECORD: usize = 1 + 3072;
pub(super) const META: &str =
    "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";

/// A CIFAR-10 test batch of `n` records.
pub(super) fn cifar_batch(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|r| std::iter::once(r as u8 % 10).chain((0..3072).map(move |i| (i + r) as u8)))
        .collect()
}

/// The layout of a batch: each record's label, and the record boundaries.
pub(super) fn batch_layout(len: usize) -> Layout {
    let records = len / RECORD;
    Layout {
        fields: (0..records)
            .map(|r| Field {
                offset: r * RECORD,
                width: 1,
                encoding: Encoding::Byte,
            })
            .collect(),
        boundaries: (0..=records).map(|r| r * RECORD).collect(),
    }
}

/// The oracle of a CIFAR read: the set matches the batch it came from.
fn check_cifar(set: &ImageSet, batch_len: usize) {
    check_set(set);
    assert_eq!(set.labels.len() * RECORD, batch_len, "records ≠ file size");
}

/// `read_cifar10` on a folder: the test batch (3 records) or the class names, chosen by the
/// input's first byte.
pub struct Cifar {
    seeds: Vec<Vec<u8>>,
    root: PathBuf,
}

impl Cifar {
    pub fn new(work: &Path) -> anyhow::Result<Self> {
        let root = work.join("cifar");
        std::fs::create_dir_all(root.join("cifar-10-batches-bin"))?;
        let seeds = vec![
            with_choice(0, &cifar_batch(3)),
            with_choice(1, META.as_bytes()),
        ];
        Ok(Self { seeds, root })
    }
}

impl Target for Cifar {
    fn seeds(&self) -> &[Vec<u8>] {
        &self.seeds
    }

    fn mutate(&self, seed: &[u8], rng: &mut Rng) -> Vec<u8> {
        let (choice, bytes) = split_choice(seed, 2);
        with_choice(
            choice,
            &mutate_bytes(bytes, &batch_layout(bytes.len()), rng),
        )
    }

    fn run(&mut self, input: &[u8]) -> Verdict {
        let (choice, bytes) = split_choice(input, 2);
        let (batch, meta) = match choice {
            0 => (bytes.to_vec(), META.as_bytes()),
            _ => (cifar_batch(3), bytes),
        };
        let dir = self.root.join("cifar-10-batches-bin");
        std::fs::write(dir.join("test_batch.bin"), &batch).expect("writable");
        std::fs::write(dir.join("batches.meta.txt"), meta).expect("writable");
        let result = read_cifar10(&self.root, Split::Test);
        if let Ok(set) = &result {
            check_cifar(set, batch.len());
        }
        Verdict::from(&result)
    }
}

/// A tar of CIFAR-10's test batch and class names.
fn cifar_tar(batch: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, bytes) in [
        ("cifar-10-batches-bin/batches.meta.txt", META.as_bytes()),
        ("cifar-10-batches-bin/test_batch.bin", batch),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, bytes)?;
    }
    Ok(tar.into_inner()?)
}

/// The layout of [`cifar_tar`]: each member header's size field and the 512-byte blocks.
fn tar_layout(len: usize) -> Layout {
    let meta_blocks = META.len().div_ceil(512);
    let second = 512 * (1 + meta_blocks);
    Layout {
        fields: [0, second]
            .iter()
            .map(|h| Field {
                offset: h + 124,
                width: 12,
                encoding: Encoding::Octal,
            })
            .collect(),
        boundaries: (0..=len / 512).map(|b| 512 * b).collect(),
    }
}

/// `read_cifar10` on `cifar-10-binary.tar.gz`: half the mutants edit the tar (member sizes,
/// block truncation) and gzip it again, half edit the gzip stream (its CRC and length too).
pub struct CifarArchive {
    seeds: Vec<Vec<u8>>,
    path: PathBuf,
}

impl CifarArchive {
    pub fn new(work: &Path) -> anyhow::Result<Self> {
        let path = work.join("cifar-10-binary.tar.gz");
        Ok(Self {
            seeds: vec![gzip(&cifar_tar(&cifar_batch(2))?)],
            path,
        })
    }
}

impl Target for CifarArchive {
    fn seeds(&self) -> &[Vec<u8>] {
        &self.seeds
    }

    fn mutate(&self, seed: &[u8], rng: &mut Rng) -> Vec<u8> {
        match (rng.below(2), gunzip(seed)) {
            (0, Some(tar)) => gzip(&mutate_bytes(&tar, &tar_layout(tar.len()), rng)),
            _ => mutate_bytes(seed, &gzip_layout(seed.len()), rng),
        }
    }

    fn run(&mut self, input: &[u8]) -> Verdict {
        std::fs::write(&self.path, input).expect("writable");
        let result = read_cifar10(&self.path, Split::Test);
        if let Ok(set) = &result {
            check_set(set);
            // What was accepted is what the archive's gzip stream really holds.
            let tar = gunzip(input).expect("an accepted archive decompresses");
            let batch = tar::Archive::new(&tar[..])
                .entries()
                .ok()
                .and_then(|e| {
                    // The reader keeps the last member of a name.
                    e.filter_map(|e| {
                        let mut e = e.ok()?;
                        let name = e.path().ok()?.to_string_lossy().into_owned();
                        let mut bytes = Vec::new();
                        (name.ends_with("test_batch.bin") && e.read_to_end(&mut bytes).is_ok())
                            .then_some(bytes)
                    })
                    .last()
                })
                .expect("an accepted archive holds the batch");
            check_cifar(set, batch.len());
        }
        Verdict::from(&result)
    }
}
