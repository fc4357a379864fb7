//! Data pipeline throughput on this machine, side by side in one run:
//! * CIFAR-shaped pipeline: pad-4 crop + flip + normalise + mixup → a batch of 128 as a Flex
//!   tensor, from 50,000 in-memory 32×32 images;
//! * Imagenette-160 layout: decode + shortest-side resize to 128 of real JPEG files (written by
//!   the bench, 213×160 like imagenette2-160), without and with the decoded-image cache.
//!
//! ```text
//! cargo bench -p data               # full
//! cargo bench -p data -- --quick    # fewer images: a smoke test
//! ```

use std::time::Instant;

use burn::backend::Flex;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use data::{
    Augment, ImageBatch, ImageBatcher, ImageDataset, ImageSet, ImagenetteOptions, Mix, Normalize,
    Split, read_imagenette,
};

fn cifar_pipeline(batches: usize) -> f64 {
    let n = 50_000;
    let pixels = (0..n * 3072)
        .map(|i: usize| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let set = ImageSet {
        channels: 3,
        height: 32,
        width: 32,
        pixels,
        labels: (0..n).map(|i| (i % 10) as u16).collect(),
        classes: (0..10).map(|c| c.to_string()).collect(),
    };
    let dataset = ImageDataset::from(set);
    let batcher = ImageBatcher {
        augment: Augment::PadCropFlip { pad: 4 },
        normalize: Normalize::cifar10(),
        mix: Mix::Mixup { alpha: 0.4 },
        seed: 0,
    };
    let device = Default::default();
    let start = Instant::now();
    let mut images = 0;
    for b in 0..batches {
        // A strided, shuffled-like order.
        let items = (0..128)
            .filter_map(|i| dataset.get((b * 128 + i * 389) % n))
            .collect();
        let batch: ImageBatch<Flex> = batcher.batch(items, &device);
        images += batch.images.dims()[0];
    }
    images as f64 / start.elapsed().as_secs_f64()
}

fn write_jpegs(root: &std::path::Path, per_class: usize) -> usize {
    let mut count = 0;
    for class in 0..10 {
        let dir = root.join("train").join(format!("n0{class}000000"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        for i in 0..per_class {
            let img = image::RgbImage::from_fn(213, 160, |x, y| {
                let n = ((x * 7919 + y * 104_729 + i as u32 * 31) % 64) as u8;
                image::Rgb([
                    (x as u8).wrapping_add(n),
                    (y as u8).wrapping_add(class as u8 * 20),
                    n.wrapping_mul(3),
                ])
            });
            img.save_with_format(dir.join(format!("{i}.JPEG")), image::ImageFormat::Jpeg)
                .expect("write jpeg");
            count += 1;
        }
    }
    count
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this without it, as a
    // smoke test: then (or with `--quick`) fewer, smaller rounds.
    let quick =
        std::env::args().any(|a| a == "--quick") || !std::env::args().any(|a| a == "--bench");
    let (batches, per_class) = if quick { (20, 10) } else { (200, 60) };
    let cifar = cifar_pipeline(batches);
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().join("imagenette2-160");
    let files = write_jpegs(&root, per_class);
    let options = ImagenetteOptions::new(128, tmp.path());
    let start = Instant::now();
    let first = read_imagenette(&root, Split::Train, &options).expect("decode");
    let decode = files as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    let second = read_imagenette(&root, Split::Train, &options).expect("cache");
    let cached = files as f64 / start.elapsed().as_secs_f64();
    assert!(!first.from_cache && second.from_cache);
    println!("data pipeline on {} threads", rayon::current_num_threads());
    println!("{:<58} {:>12}", "stage", "images/s");
    println!(
        "{:<58} {:>12.0}",
        format!(
            "CIFAR crop+flip+normalize+mixup -> batch 128 ({} batches)",
            batches
        ),
        cifar
    );
    println!(
        "{:<58} {:>12.0}",
        format!("Imagenette-160 decode+resize to 128 ({files} JPEGs)"),
        decode
    );
    println!("{:<58} {:>12.0}", "Imagenette-160 from the cache", cached);
    println!("cache speed-up: {:.1}x", cached / decode);
}
