//! Round trips through files written in the real formats, the committed dataset, and every bad
//! input, with the error messages.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::Write;
use std::path::Path;

use data::*;
use flate2::Compression;
use flate2::write::GzEncoder;

/// A CIFAR record's pixels: R plane 3·k, G plane 3·k+1, B plane 3·k+2 offset by the position.
fn cifar_pixels(k: usize) -> Vec<u8> {
    (0..3072)
        .map(|i| ((i / 1024) * 50 + k * 7 + (i % 1024) % 13) as u8)
        .collect()
}

fn write_cifar10(dir: &Path, records_per_batch: usize) {
    let top = dir.join("cifar-10-batches-bin");
    fs::create_dir_all(&top).unwrap();
    let names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
    fs::write(top.join("batches.meta.txt"), names).unwrap();
    let batch = |first: usize| {
        let mut bytes = Vec::new();
        for k in first..first + records_per_batch {
            bytes.push((k % 10) as u8);
            bytes.extend(cifar_pixels(k));
        }
        bytes
    };
    for i in 1..=5 {
        fs::write(
            top.join(format!("data_batch_{i}.bin")),
            batch((i - 1) * records_per_batch),
        )
        .unwrap();
    }
    fs::write(top.join("test_batch.bin"), batch(1000)).unwrap();
}

fn tar_gz(dir: &Path, folder: &str, archive: &Path) {
    let file = fs::File::create(archive).unwrap();
    let mut builder = tar::Builder::new(GzEncoder::new(file, Compression::fast()));
    builder.append_dir_all(folder, dir.join(folder)).unwrap();
    builder.into_inner().unwrap().finish().unwrap();
}

#[test]
fn cifar10_round_trip_from_folder_and_tar_gz() {
    let tmp = tempfile::tempdir().unwrap();
    write_cifar10(tmp.path(), 3);
    let archive = tmp.path().join("cifar-10-binary.tar.gz");
    tar_gz(tmp.path(), "cifar-10-batches-bin", &archive);
    for source in [
        tmp.path().to_path_buf(),
        tmp.path().join("cifar-10-batches-bin"),
        archive,
    ] {
        let train = read_cifar10(&source, Split::Train).unwrap();
        assert_eq!(train.len(), 15);
        assert_eq!((train.channels, train.height, train.width), (3, 32, 32));
        assert_eq!(train.classes[3], "cat");
        for k in 0..15 {
            assert_eq!(train.labels[k], (k % 10) as u16);
            assert_eq!(
                train.image(k),
                &cifar_pixels(k)[..],
                "image {k} from {}",
                source.display()
            );
        }
        // Plane order: the first 1024 bytes are red.
        assert_eq!(train.image(0)[0], 0);
        assert_eq!(train.image(0)[1024], 50);
        assert_eq!(train.image(0)[2048], 100);
        let test = read_cifar10(&source, Split::Test).unwrap();
        assert_eq!(test.image(2), &cifar_pixels(1002)[..]);
    }
}

#[test]
fn cifar100_fine_and_coarse_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let top = tmp.path().join("cifar-100-binary");
    fs::create_dir_all(&top).unwrap();
    let fine: String = (0..100).map(|i| format!("fine{i}\n")).collect();
    let coarse: String = (0..20).map(|i| format!("coarse{i}\n")).collect();
    fs::write(top.join("fine_label_names.txt"), fine).unwrap();
    fs::write(top.join("coarse_label_names.txt"), coarse).unwrap();
    let mut bytes = Vec::new();
    for k in 0..4 {
        bytes.extend([(k * 5) as u8, (k * 25 + 1) as u8]);
        bytes.extend(cifar_pixels(k));
    }
    fs::write(top.join("train.bin"), &bytes).unwrap();
    fs::write(top.join("test.bin"), &bytes[..3074]).unwrap();
    let archive = tmp.path().join("cifar-100-binary.tar.gz");
    tar_gz(tmp.path(), "cifar-100-binary", &archive);
    for source in [tmp.path().to_path_buf(), archive] {
        let fine = read_cifar100(&source, Split::Train, Cifar100Label::Fine).unwrap();
        assert_eq!(fine.labels, vec![1, 26, 51, 76]);
        assert_eq!(fine.classes[26], "fine26");
        assert_eq!(fine.image(3), &cifar_pixels(3)[..]);
        let coarse = read_cifar100(&source, Split::Train, Cifar100Label::Coarse).unwrap();
        assert_eq!(coarse.labels, vec![0, 5, 10, 15]);
        assert_eq!(coarse.classes.len(), 20);
        assert_eq!(
            read_cifar100(&source, Split::Test, Cifar100Label::Fine)
                .unwrap()
                .len(),
            1
        );
    }
}

fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend(d.to_be_bytes());
    }
    bytes.extend(data);
    bytes
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn idx_round_trip_gz_and_raw() {
    let pixels: Vec<u8> = (0..3 * 28 * 28).map(|i| (i * 3) as u8).collect();
    let images = idx_bytes(IMAGES_MAGIC, &[3, 28, 28], &pixels);
    let labels = idx_bytes(LABELS_MAGIC, &[3], &[7, 0, 9]);
    for compress in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        type Encode = fn(&[u8]) -> Vec<u8>;
        let (suffix, enc): (&str, Encode) = if compress {
            (".gz", gz)
        } else {
            ("", |b| b.to_vec())
        };
        fs::write(
            tmp.path().join(format!("train-images-idx3-ubyte{suffix}")),
            enc(&images),
        )
        .unwrap();
        fs::write(
            tmp.path().join(format!("train-labels-idx1-ubyte{suffix}")),
            enc(&labels),
        )
        .unwrap();
        let set = read_fashion_mnist(tmp.path(), Split::Train).unwrap();
        assert_eq!(
            (set.len(), set.channels, set.height, set.width),
            (3, 1, 28, 28)
        );
        assert_eq!(set.pixels, pixels);
        assert_eq!(set.labels, vec![7, 0, 9]);
        assert_eq!(set.classes[9], "Ankle boot");
    }
}

#[test]
fn committed_fashion_mnist_loads() {
    let set = embedded_fashion_mnist().unwrap();
    assert_eq!(
        (set.len(), set.height, set.width, set.channels),
        (10_000, 28, 28, 1)
    );
    let mut counts = [0usize; 10];
    set.labels.iter().for_each(|&l| counts[l as usize] += 1);
    assert_eq!(counts, [1000; 10]);
    let (train, valid) = embedded_fashion_mnist_split().unwrap();
    assert_eq!((train.len(), valid.len()), (8000, 2000));
    assert_eq!(valid.image(0), set.image(4));
    // The same bytes as the committed files.
    let on_disk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/fashion-mnist-t10k");
    assert_eq!(read_fashion_mnist(&on_disk, Split::Test).unwrap(), set);
}

/// A real JPEG of a solid colour.
fn write_jpeg(path: &Path, width: u32, height: u32, rgb: [u8; 3]) {
    let img = image::RgbImage::from_pixel(width, height, image::Rgb(rgb));
    img.save_with_format(path, image::ImageFormat::Jpeg)
        .unwrap();
}

const WNIDS: [&str; 2] = ["n01440764", "n03888257"];

fn write_imagenette(root: &Path) {
    for split in ["train", "val"] {
        for (c, wnid) in WNIDS.iter().enumerate() {
            let dir = root.join(split).join(wnid);
            fs::create_dir_all(&dir).unwrap();
            for i in 0..3 {
                let colour = [40 + 100 * c as u8, 80, 200 - 10 * i as u8];
                write_jpeg(&dir.join(format!("img{i}.JPEG")), 64 + 8 * i, 48, colour);
            }
        }
    }
    let mut csv = String::from(
        "path,noisy_labels_0,noisy_labels_1,noisy_labels_5,noisy_labels_25,noisy_labels_50,is_valid\n",
    );
    for (c, wnid) in WNIDS.iter().enumerate() {
        for i in 0..3 {
            let other = WNIDS[1 - c];
            let noisy = if i == 0 { other } else { wnid };
            csv +=
                &format!("train/{wnid}/img{i}.JPEG,{wnid},{wnid},{wnid},{noisy},{noisy},False\n");
        }
    }
    fs::write(root.join("noisy_imagenette.csv"), csv).unwrap();
}

#[test]
fn imagenette_round_trip_with_cache_and_noisy_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("imagenette2-160");
    write_imagenette(&root);
    let options = ImagenetteOptions::new(32, tmp.path());
    let first = read_imagenette(&root, Split::Train, &options).unwrap();
    assert!(!first.from_cache);
    assert_eq!(first.set.labels, vec![0, 0, 0, 1, 1, 1]);
    assert_eq!(first.set.classes, vec!["tench", "parachute"]);
    for (i, image) in first.set.images.iter().enumerate() {
        assert_eq!(
            image.height, 32,
            "shortest side resized to the training size"
        );
        assert_eq!(
            image.width,
            ((64 + 8 * (i % 3)) as f64 * 32.0 / 48.0).round() as usize
        );
        let plane = image.height * image.width;
        let colour = [40 + 100 * (i / 3) as u8, 80, 200 - 10 * (i % 3) as u8];
        for (c, &expected) in colour.iter().enumerate() {
            let mid = image.pixels[c * plane + plane / 2];
            assert!(
                (mid as i32 - expected as i32).abs() <= 3,
                "image {i} channel {c}: {mid} vs {expected}"
            );
        }
    }
    let second = read_imagenette(&root, Split::Train, &options).unwrap();
    assert!(second.from_cache, "the second read comes from the cache");
    assert_eq!(second.set, first.set);
    let noisy = ImagenetteOptions {
        noise: Some(LabelNoise::Pct25),
        ..options.clone()
    };
    assert_eq!(
        read_imagenette(&root, Split::Train, &noisy)
            .unwrap()
            .set
            .labels,
        vec![1, 0, 0, 0, 1, 1]
    );
    let val = read_imagenette(&root, Split::Test, &options).unwrap();
    assert_eq!(val.set.images.len(), 6);
}

fn err_text<T: std::fmt::Debug>(r: Result<T>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn bad_inputs_give_errors_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    // Missing directory.
    let missing = tmp.path().join("nowhere");
    let e = err_text(read_cifar10(&missing, Split::Train));
    assert!(
        e.contains("nowhere")
            && e.contains("not found")
            && e.contains("cargo xtask download cifar10"),
        "{e}"
    );

    // Truncated and oversized CIFAR files, label out of range.
    write_cifar10(tmp.path(), 2);
    let batch = tmp.path().join("cifar-10-batches-bin/test_batch.bin");
    let good = fs::read(&batch).unwrap();
    fs::write(&batch, &good[..3073 + 100]).unwrap();
    let e = err_text(read_cifar10(tmp.path(), Split::Test));
    assert!(
        e.contains("test_batch.bin") && e.contains("truncated: record 1 is incomplete"),
        "{e}"
    );
    let oversized: Vec<u8> = good[..3073]
        .iter()
        .copied()
        .cycle()
        .take(3073 * 10_001)
        .collect();
    fs::write(&batch, oversized).unwrap();
    let e = err_text(read_cifar10(tmp.path(), Split::Test));
    assert!(
        e.contains("test_batch.bin") && e.contains("oversized: 10001 records"),
        "{e}"
    );
    let mut bad_label = good.clone();
    bad_label[3073] = 10;
    fs::write(&batch, bad_label).unwrap();
    let e = err_text(read_cifar10(tmp.path(), Split::Test));
    assert!(
        e.contains("test_batch.bin: record 1: label 10 out of range"),
        "{e}"
    );

    // IDX: bad magic, size mismatch.
    let path = Path::new("t.idx");
    let e = parse_idx(
        path,
        &idx_bytes(0x0000_0804, &[1, 2, 2, 2], &[0; 8]),
        IMAGES_MAGIC,
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "t.idx: bad IDX magic number 0x00000804, expected 0x00000803"
    );
    let e = parse_idx(
        path,
        &gz(&idx_bytes(IMAGES_MAGIC, &[2, 2, 2], &[0; 7])),
        IMAGES_MAGIC,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("size mismatch") && e.contains("needs 8 data bytes, the file has 7"),
        "{e}"
    );

    // Imagenette: corrupt JPEG (an error, or skipped and counted), empty class folder.
    let root = tmp.path().join("imagenette2-160");
    write_imagenette(&root);
    let corrupt = root.join("train/n01440764/img1.JPEG");
    let bytes = fs::read(&corrupt).unwrap();
    fs::write(&corrupt, &bytes[..bytes.len() / 3]).unwrap();
    let options = ImagenetteOptions {
        cache_dir: None,
        ..ImagenetteOptions::new(32, tmp.path())
    };
    let e = err_text(read_imagenette(&root, Split::Train, &options));
    assert!(e.contains("img1.JPEG: corrupt image"), "{e}");
    let skipping = ImagenetteOptions {
        skip_corrupt: true,
        ..options.clone()
    };
    let read = read_imagenette(&root, Split::Train, &skipping).unwrap();
    assert_eq!((read.skipped, read.set.images.len()), (1, 5));
    assert_eq!(read.set.labels, vec![0, 0, 1, 1, 1]);
    fs::create_dir_all(root.join("val/n99999999")).unwrap();
    let e = err_text(read_imagenette(&root, Split::Test, &options));
    assert!(e.contains("n99999999: empty class folder"), "{e}");

    // Checksum mismatch, unknown dataset.
    let file = tmp.path().join("archive.tgz");
    fs::write(&file, b"not the dataset").unwrap();
    let e = err_text(verify(
        &file,
        Check::Md5("c32a1d4ab5d03f1284b67883e8d87530", None),
    ));
    assert!(
        e.contains("archive.tgz: md5 mismatch: expected c32a1d4ab5d03f1284b67883e8d87530"),
        "{e}"
    );
    // SHA-256 (the 2019 imagenette-320's check): "not the dataset" hashes to the value of
    // `printf 'not the dataset' | sha256sum`.
    const SHA_NOT_THE_DATASET: &str =
        "3cc07cb1f458ee98ec1bd7338a473ef28ac25a69efd7b060a645546197312d0c";
    let sha = "0e3ac85d7f3fd0a63d5e27d85c68511be9ac4dae260345b6f7434a0d4fa24b3f";
    verify(&file, Check::Sha256(SHA_NOT_THE_DATASET, Some(15))).unwrap();
    let e = err_text(verify(&file, Check::Sha256(sha, None)));
    assert!(
        e.contains(&format!(
            "sha256 mismatch: expected {sha}, got {SHA_NOT_THE_DATASET}"
        )),
        "{e}"
    );
    let e = err_text(import("imagenette-320", &file, tmp.path()));
    assert!(
        e.contains("archive.tgz: size mismatch: expected 341289752, got 15"),
        "{e}"
    );
    let e = err_text(import("cifar10", &file, tmp.path()));
    assert!(
        e.contains("archive.tgz: size mismatch: expected 170052171, got 15"),
        "{e}"
    );
    let e = err_text(dataset_spec("imagenet"));
    assert!(
        e.contains("unknown dataset `imagenet`") && e.contains("imagenette2-160"),
        "{e}"
    );
}

#[test]
fn import_extracts_a_verified_archive() {
    // Imagewoof has no published checksum: the import path is exercised end to end.
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write_imagenette(&src.join("imagewoof2-160"));
    let archive = tmp.path().join("imagewoof2-160.tgz");
    tar_gz(&src, "imagewoof2-160", &archive);
    let data = tmp.path().join("data");
    let folder = import("imagewoof2-160", &archive, &data).unwrap();
    assert_eq!(folder, data.join("imagewoof2-160"));
    assert!(folder.join("train/n01440764/img0.JPEG").is_file());
    assert!(!data.join(".extract-imagewoof2-160").exists());
}

/// The 2019 Imagenette (`imagenette-320`, the seed study's) is a catalogue name, found in its
/// own folder and read by the same reader.
#[test]
fn the_2019_imagenette_is_located_and_read() {
    let tmp = tempfile::tempdir().unwrap();
    write_imagenette(&tmp.path().join("imagenette-320"));
    let kind: DatasetKind = "imagenette-320".parse().unwrap();
    assert_eq!(kind, DatasetKind::Imagenette(Some("imagenette-320")));
    assert_eq!(kind.to_string(), "imagenette-320");
    let found = locate(&kind, tmp.path()).unwrap();
    assert_eq!(found.variant, "imagenette-320");
    let options = ImagenetteOptions::new(32, tmp.path());
    let read = read_imagenette(&found.path, Split::Train, &options).unwrap();
    assert_eq!(read.set.classes, vec!["tench", "parachute"]);
    let spec = dataset_spec("imagenette-320").unwrap();
    assert_eq!(
        spec.files[0].url,
        "https://s3.amazonaws.com/fast-ai-imageclas/imagenette-320.tgz"
    );
    // `imagenette` alone still means the imagenette2 releases.
    assert!(!IMAGENETTE_DEFAULT.contains(&"imagenette-320"));
}
