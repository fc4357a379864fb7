//! Hostile files (each once a crash or a silent acceptance): sizes read from a file are bounded
//! before they are allocated, checksums are checked, a truncated image is an error, and a cache
//! that does not fit is rebuilt, never trusted.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::Write;
use std::path::Path;

use data::*;
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut out = GzEncoder::new(Vec::new(), Compression::fast());
    out.write_all(bytes).unwrap();
    out.finish().unwrap()
}

fn tar_member(name: &str, declared: u64, data: &[u8]) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    header.set_path(name).unwrap();
    header.set_size(declared);
    header.set_mode(0o644);
    header.set_cksum();
    let mut out = header.as_bytes().to_vec();
    out.extend(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

#[test]
fn archive_members_are_bounded_and_the_gzip_crc_is_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("cifar-10-binary.tar.gz");
    // A member declaring 2^40 bytes: an error naming it, not an allocation of a terabyte.
    let tar = tar_member("cifar-10-batches-bin/test_batch.bin", 1 << 40, &[0; 100]);
    fs::write(&archive, gz(&tar)).unwrap();
    let e = read_cifar10(&archive, Split::Test).unwrap_err().to_string();
    assert!(
        e.contains("test_batch.bin: 1099511627776 bytes, expected at most"),
        "{e}"
    );
    // A valid archive whose gzip CRC-32 is wrong.
    let meta = b"airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";
    let mut batch = vec![3u8];
    batch.extend([7u8; 3072]);
    let mut tar = tar_member("cifar-10-batches-bin/test_batch.bin", 3073, &batch);
    tar.extend(tar_member(
        "cifar-10-batches-bin/batches.meta.txt",
        meta.len() as u64,
        meta,
    ));
    tar.extend([0u8; 1024]);
    let mut bytes = gz(&tar);
    fs::write(&archive, &bytes).unwrap();
    assert_eq!(read_cifar10(&archive, Split::Test).unwrap().labels, vec![3]);
    let crc = bytes.len() - 8;
    bytes[crc] ^= 0xff;
    fs::write(&archive, &bytes).unwrap();
    let e = read_cifar10(&archive, Split::Test).unwrap_err().to_string();
    assert!(e.contains("corrupt gzip stream"), "{e}");
}

#[test]
fn files_are_bounded_before_they_are_read_and_missing_ones_named_once() {
    let tmp = tempfile::tempdir().unwrap();
    let top = tmp.path().join("cifar-10-batches-bin");
    fs::create_dir_all(&top).unwrap();
    // A sparse file of 300 MB: refused by its size, not read.
    let file = fs::File::create(top.join("test_batch.bin")).unwrap();
    file.set_len(300 << 20).unwrap();
    fs::write(top.join("batches.meta.txt"), "a\n").unwrap();
    let e = read_cifar10(tmp.path(), Split::Test)
        .unwrap_err()
        .to_string();
    assert!(e.contains("314572800 bytes, expected at most"), "{e}");
    // The top folder itself as the source: the missing file named once, where it was looked for.
    fs::remove_file(top.join("test_batch.bin")).unwrap();
    let e = read_cifar10(&top, Split::Test).unwrap_err().to_string();
    assert!(
        !e.contains("cifar-10-batches-bin/cifar-10-batches-bin"),
        "{e}"
    );
    assert!(
        e.contains("cifar-10-batches-bin/test_batch.bin: not found"),
        "{e}"
    );
}

fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out.extend(data);
    out
}

#[test]
fn idx_dimensions_are_checked() {
    let p = Path::new("x.idx");
    let labels = idx(LABELS_MAGIC, &[2], &[0, 1]);
    let zero = idx(IMAGES_MAGIC, &[2, 0, 28], &[]);
    let e = idx_image_set((p, &zero), (p, &labels), &FASHION_MNIST_CLASSES).unwrap_err();
    assert!(
        e.to_string().contains("both sides must be at least 1"),
        "{e}"
    );
    // Dimensions whose product does not fit in 64 bits.
    let huge = idx(IMAGES_MAGIC, &[u32::MAX, u32::MAX, u32::MAX], &[0; 8]);
    let e = parse_idx(p, &huge, IMAGES_MAGIC).unwrap_err().to_string();
    assert!(e.contains("more than 2^64"), "{e}");
}

fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let pixels: Vec<u8> = (0..width * height * 3).map(|i| (i * 7) as u8).collect();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
        .encode(&pixels, width, height, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

#[test]
fn a_jpeg_cut_short_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.JPEG");
    let whole = jpeg(64, 48);
    fs::write(&path, &whole).unwrap();
    assert!(decode_resized(&path, 32).is_ok());
    // Cut just before the end-of-image marker, mid-scan: most decoders fill in the rest.
    fs::write(&path, &whole[..whole.len() - 40]).unwrap();
    let e = decode_resized(&path, 32).unwrap_err().to_string();
    assert!(e.contains("a.JPEG: corrupt image: truncated JPEG"), "{e}");
}

/// An Imagenette folder of 4 training images and its cache at size 8; the cache's bytes.
fn cached_folder(
    tmp: &Path,
) -> (
    std::path::PathBuf,
    ImagenetteOptions,
    Vec<u8>,
    std::path::PathBuf,
) {
    let root = tmp.join("imagenette2-160");
    for (c, wnid) in ["n01440764", "n03888605"].iter().enumerate() {
        let dir = root.join("train").join(wnid);
        fs::create_dir_all(&dir).unwrap();
        for i in 0..2u32 {
            fs::write(
                dir.join(format!("img{i}.JPEG")),
                jpeg(20 + 4 * i + c as u32, 16),
            )
            .unwrap();
        }
    }
    let options = ImagenetteOptions::new(8, tmp);
    let first = read_imagenette(&root, Split::Train, &options).unwrap();
    assert!(!first.from_cache);
    let cache = fs::read_dir(tmp.join(".cache"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    (root, options, fs::read(&cache).unwrap(), cache)
}

/// `body` with a valid checksum appended.
fn sealed(body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    out.extend(Sha256::digest(body));
    out
}

#[test]
fn a_cache_that_does_not_fit_is_rebuilt_never_trusted() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, options, good, cache) = cached_folder(tmp.path());
    let reference = read_imagenette(&root, Split::Train, &options).unwrap();
    assert!(reference.from_cache && reference.stale_cache.is_none());
    let body = &good[..good.len() - 32];
    let word = |bytes: &mut Vec<u8>, at: usize, v: u64| {
        bytes[at..at + 8].copy_from_slice(&v.to_le_bytes())
    };
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let first_image = 16 + 32 + 3 * 8 * 20;
    let mut one = body[..first_image].to_vec();
    word(&mut one, 8, 1);
    cases.push(("lists 1 image of 4", sealed(&one)));
    for (what, at, value) in [
        ("height 0", 16 + 16, 0),
        ("1 channel", 16 + 8, 1),
        ("5 channels", 16 + 8, 5),
        ("dimensions whose product wraps", 16 + 24, 1 << 62),
        ("an index past the files", 16, 99),
    ] {
        let mut bytes = body.to_vec();
        word(&mut bytes, at, value);
        cases.push((what, sealed(&bytes)));
    }
    let mut empty = body[..16].to_vec();
    word(&mut empty, 8, 0);
    cases.push(("empty", sealed(&empty)));
    let mut flipped = good.clone();
    flipped[first_image - 1] ^= 1;
    cases.push(("a pixel changed", flipped));
    cases.push(("truncated", good[..good.len() - 5].to_vec()));
    for (what, bytes) in cases {
        fs::write(&cache, &bytes).unwrap();
        let read = read_imagenette(&root, Split::Train, &options).unwrap();
        assert!(!read.from_cache, "{what}: trusted");
        assert!(read.stale_cache.is_some(), "{what}: rebuilt without a word");
        assert_eq!(read.set, reference.set, "{what}");
    }
}

#[test]
fn cifar_class_names_must_be_distinct() {
    let tmp = tempfile::tempdir().unwrap();
    let top = tmp.path().join("cifar-10-batches-bin");
    fs::create_dir_all(&top).unwrap();
    let record: Vec<u8> = std::iter::once(0).chain([7u8; 3072]).collect();
    fs::write(top.join("test_batch.bin"), &record).unwrap();
    fs::write(top.join("batches.meta.txt"), "cat\n".repeat(10)).unwrap();
    let e = read_cifar10(tmp.path(), Split::Test)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("batches.meta.txt") && e.contains("class `cat` is named twice"),
        "{e}"
    );
}

#[test]
fn fashion_mnist_images_must_be_28_by_28() {
    let tmp = tempfile::tempdir().unwrap();
    for (side, n) in [(4u32, 2u32), (1, 2)] {
        for split in ["train", "t10k"] {
            let images = idx(
                IMAGES_MAGIC,
                &[n, side, side],
                &vec![0; (n * side * side) as usize],
            );
            fs::write(
                tmp.path().join(format!("{split}-images-idx3-ubyte")),
                images,
            )
            .unwrap();
            let labels = idx(LABELS_MAGIC, &[n], &[0, 1]);
            fs::write(
                tmp.path().join(format!("{split}-labels-idx1-ubyte")),
                labels,
            )
            .unwrap();
        }
        let e = data::read_fashion_mnist(tmp.path(), Split::Train)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("{side}×{side} pixels")) && e.contains("28×28"),
            "{e}"
        );
    }
}

#[test]
fn a_dataset_folder_linked_to_itself_is_named_not_called_absent() {
    let tmp = tempfile::tempdir().unwrap();
    for (kind, name) in [
        (DatasetKind::FashionMnist, "fashion-mnist"),
        (DatasetKind::Cifar10, "cifar-10-batches-bin"),
    ] {
        let link = tmp.path().join(name);
        std::os::unix::fs::symlink(&link, &link).unwrap();
        let e = locate(&kind, tmp.path()).unwrap_err().to_string();
        assert!(
            e.contains(name) && e.contains("link that leads nowhere"),
            "{e}"
        );
    }
}
