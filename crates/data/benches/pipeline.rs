//! Data pipeline throughput on this machine, side by side in one run:
//! * CIFAR-shaped pipeline: pad-4 crop + flip + normalise + mixup → a batch of 128 as a Flex
//!   tensor, from 50,000 in-memory 32×32 images;
//! * Imagenette-160 layout: decode + shortest-side resize to 128 of real JPEG files (written by
//!   the bench, 213×160 like imagenette2-160), without and with the decoded-image cache;
//! * the host batches alone (crop, flip, normalise, mixup; no tensor) built on the training
//!   thread and ahead on 1 and 2 prefetch workers, for CIFAR and for Imagenette at 128 and 224 px
//!   from the cache;
//! * a training loop whose device step is simulated by a sleep as long as a batch takes to build:
//!   without prefetching an iteration takes the sum of the two, with it their maximum.
//!
//! ```text
//! cargo bench -p data               # full
//! cargo bench -p data -- --quick    # fewer images: a smoke test
//! ```

use std::time::{Duration, Instant};

use burn::backend::Flex;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use data::{
    Augment, ImageBatch, ImageBatcher, ImageDataset, ImageItem, ImageSet, ImagenetteOptions, Mix,
    Normalize, Prefetch, Split, read_imagenette,
};

/// 50,000 CIFAR-shaped images in memory.
fn cifar_dataset() -> ImageDataset {
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
    ImageDataset::from(set)
}

/// The study's CIFAR training batcher: pad-4 crop, flip, normalise, mixup α = 0.4.
fn cifar_batcher() -> ImageBatcher {
    ImageBatcher {
        augment: Augment::PadCropFlip { pad: 4 },
        normalize: Normalize::cifar10(),
        mix: Mix::Mixup { alpha: 0.4 },
        seed: 0,
    }
}

fn cifar_pipeline(dataset: &ImageDataset, batches: usize) -> f64 {
    let n = dataset.len();
    let batcher = cifar_batcher();
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

/// The items of batch `b` of `size`: a strided, shuffled-like order over the dataset.
fn batch_items(dataset: &ImageDataset, b: usize, size: usize) -> Vec<ImageItem> {
    let n = dataset.len();
    (0..size)
        .filter_map(|i| dataset.get((b * size + i * 389) % n))
        .collect()
}

/// Images/s of `batches` host batches of `size` built on `workers` prefetch threads (0: on
/// this thread), each taken by a loop that waits `step` per batch (a simulated device step);
/// and the mean time of one iteration.
fn host_rate(
    dataset: &ImageDataset,
    batcher: &ImageBatcher,
    (size, batches): (usize, usize),
    workers: usize,
    step: Duration,
) -> (f64, Duration) {
    let (dataset, batcher) = (dataset.clone(), batcher.clone());
    let start = Instant::now();
    let mut images = 0;
    let make = move |b| batcher.batch_host(&batch_items(&dataset, b, size));
    for batch in Prefetch::new(batches, workers, make) {
        images += batch.shape[0];
        std::thread::sleep(step);
    }
    let took = start.elapsed();
    (images as f64 / took.as_secs_f64(), took / batches as u32)
}

/// The host batches alone at 0, 1 and 2 workers: one line each.
fn prefetch_rows(
    name: &str,
    dataset: &ImageDataset,
    batcher: &ImageBatcher,
    shape: (usize, usize),
) {
    for workers in [0, 1, 2] {
        let (rate, _) = host_rate(dataset, batcher, shape, workers, Duration::ZERO);
        let how = match workers {
            0 => "no prefetch".to_string(),
            w => format!("{w} worker(s)"),
        };
        println!("{:<58} {rate:>12.0}", format!("{name} host batches, {how}"));
    }
}

/// A loop whose simulated device step lasts as long as building a batch: without prefetching
/// an iteration takes their sum, with one worker their maximum.
fn overlap(dataset: &ImageDataset, batcher: &ImageBatcher, shape: (usize, usize)) {
    let (_, batch) = host_rate(dataset, batcher, shape, 0, Duration::ZERO);
    let step = batch;
    let (_, inline) = host_rate(dataset, batcher, shape, 0, step);
    let (_, ahead) = host_rate(dataset, batcher, shape, 1, step);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "simulated step {:.1} ms, batch {:.1} ms (CIFAR, 128): iteration {:.1} ms without \
         prefetch (sum {:.1}), {:.1} ms with 1 worker (max {:.1})",
        ms(step),
        ms(batch),
        ms(inline),
        ms(step + batch),
        ms(ahead),
        ms(step.max(batch)),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this without it, as a
    // smoke test: then (or with `--quick`) fewer, smaller rounds.
    let quick =
        std::env::args().any(|a| a == "--quick") || !std::env::args().any(|a| a == "--bench");
    let (batches, per_class) = if quick { (20, 10) } else { (200, 60) };
    let cifar_set = cifar_dataset();
    let cifar = cifar_pipeline(&cifar_set, batches);
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
    prefetch_rows(
        "CIFAR 32 px b128",
        &cifar_set,
        &cifar_batcher(),
        (128, batches),
    );
    for size in [128, 224] {
        let options = ImagenetteOptions::new(size, tmp.path());
        read_imagenette(&root, Split::Train, &options).expect("decode");
        let set = read_imagenette(&root, Split::Train, &options).expect("cache");
        assert!(set.from_cache);
        let batcher = ImageBatcher {
            augment: Augment::imagenette_train(size),
            normalize: Normalize::imagenet(),
            mix: Mix::None,
            seed: 0,
        };
        let name = format!("Imagenette {size} px b64 (cache)");
        prefetch_rows(
            &name,
            &ImageDataset::from(set.set),
            &batcher,
            (64, batches / 2),
        );
    }
    overlap(&cifar_set, &cifar_batcher(), (128, batches / 2));
}
