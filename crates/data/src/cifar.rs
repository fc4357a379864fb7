//! CIFAR-10 and CIFAR-100, official binary version, from the extracted folder or the `.tar.gz`.

use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};
use crate::images::ImageSet;
use crate::source::read_named;
use crate::split::Split;

const PIXELS: usize = 3 * 32 * 32;

/// Which CIFAR-100 label to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Cifar100Label {
    /// The 100 fine classes (default).
    Fine,
    /// The 20 superclasses.
    Coarse,
}

/// Reads CIFAR-10 from `source`: the folder holding `cifar-10-batches-bin/`, that folder itself,
/// or `cifar-10-binary.tar.gz`. Train = `data_batch_1..5.bin` (50,000 images), test =
/// `test_batch.bin` (10,000). Records are 1 label byte + 1024 R, 1024 G, 1024 B bytes.
pub fn read_cifar10(source: &Path, split: Split) -> Result<ImageSet> {
    let files: Vec<String> = match split {
        Split::Train => (1..=5)
            .map(|i| format!("cifar-10-batches-bin/data_batch_{i}.bin"))
            .collect(),
        Split::Test => vec!["cifar-10-batches-bin/test_batch.bin".into()],
    };
    let mut names: Vec<&str> = files.iter().map(String::as_str).collect();
    names.push("cifar-10-batches-bin/batches.meta.txt");
    let mut read = read_named(source, &names, &hint("cifar10"))?;
    let (meta_path, meta) = read.pop().expect("meta file requested");
    let classes = class_names(&meta_path, &meta, 10)?;
    parse_all(read, &classes, 10_000, 1, 0)
}

/// Reads CIFAR-100 from `source`: the folder holding `cifar-100-binary/`, that folder itself, or
/// `cifar-100-binary.tar.gz`. Train = `train.bin` (50,000), test = `test.bin` (10,000). Records
/// are coarse label byte, fine label byte, 3072 pixel bytes.
pub fn read_cifar100(source: &Path, split: Split, label: Cifar100Label) -> Result<ImageSet> {
    let file = match split {
        Split::Train => "cifar-100-binary/train.bin",
        Split::Test => "cifar-100-binary/test.bin",
    };
    let names_file = match label {
        Cifar100Label::Fine => "cifar-100-binary/fine_label_names.txt",
        Cifar100Label::Coarse => "cifar-100-binary/coarse_label_names.txt",
    };
    let mut read = read_named(source, &[file, names_file], &hint("cifar100"))?;
    let (meta_path, meta) = read.pop().expect("names file requested");
    let count = if label == Cifar100Label::Fine {
        100
    } else {
        20
    };
    let classes = class_names(&meta_path, &meta, count)?;
    let max_records = if split == Split::Train {
        50_000
    } else {
        10_000
    };
    let offset = if label == Cifar100Label::Fine { 1 } else { 0 };
    parse_all(read, &classes, max_records, 2, offset)
}

fn hint(dataset: &str) -> String {
    format!(
        "Run `cargo xtask download {dataset}`, or `cargo xtask import {dataset} <archive>` with an archive you have"
    )
}

/// Class names, one per non-empty line.
fn class_names(path: &Path, bytes: &[u8], expected: usize) -> Result<Vec<String>> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| DataError::format(path, format!("not UTF-8: {e}")))?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.len() != expected {
        return Err(DataError::format(
            path,
            format!("{} class names, expected {expected}", names.len()),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = names.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(DataError::format(
            path,
            format!("class `{twice}` is named twice: the {expected} classes need distinct names"),
        ));
    }
    Ok(names)
}

/// Parses record files of `header` label bytes (the label used at `label_offset`) followed by
/// the 3072 pixel bytes.
fn parse_all(
    files: Vec<(PathBuf, Vec<u8>)>,
    classes: &[String],
    max_records: usize,
    header: usize,
    label_offset: usize,
) -> Result<ImageSet> {
    let record_len = header + PIXELS;
    let mut set = ImageSet {
        channels: 3,
        height: 32,
        width: 32,
        pixels: Vec::new(),
        labels: Vec::new(),
        classes: classes.to_vec(),
    };
    for (path, bytes) in files {
        let size = bytes.len();
        if size % record_len != 0 || size / record_len > max_records || size == 0 {
            let complete = size / record_len;
            let detail = if size == 0 {
                "the file is empty".to_string()
            } else if size % record_len != 0 {
                format!(
                    "truncated: record {complete} is incomplete ({} of {record_len} bytes)",
                    size % record_len
                )
            } else {
                format!("oversized: {complete} records, at most {max_records}")
            };
            return Err(DataError::Size {
                path,
                size: size as u64,
                expected: format!(
                    "a multiple of {record_len} bytes, at most {max_records} records; {detail}"
                ),
            });
        }
        set.pixels.reserve(size / record_len * PIXELS);
        for (index, record) in bytes.chunks_exact(record_len).enumerate() {
            let label = record[label_offset];
            if label as usize >= classes.len() {
                return Err(DataError::Label {
                    path,
                    record: index,
                    label: label as u32,
                    classes: classes.len(),
                });
            }
            set.labels.push(label as u16);
            set.pixels.extend_from_slice(&record[header..]);
        }
    }
    Ok(set)
}
