//! Augmentation, normalisation, determinism, mixup, CutMix and the mixed loss.
#![allow(clippy::unwrap_used)]

use burn::backend::NdArray;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Distribution, Int, Tensor, TensorData};
use data::*;

type B = NdArray;

/// n distinct 3×8×8 images: pixel value depends on image, channel, row and column.
fn set(n: usize, h: usize, w: usize) -> ImageSet {
    let pixels = (0..n * 3 * h * w).map(|i| ((i * 37) % 251) as u8).collect();
    ImageSet {
        channels: 3,
        height: h,
        width: w,
        pixels,
        labels: (0..n).map(|i| (i % 10) as u16).collect(),
        classes: (0..10).map(|c| c.to_string()).collect(),
    }
}

fn items(set: &ImageSet) -> Vec<ImageItem> {
    let ds = ImageDataset::from(set.clone());
    (0..ds.len()).map(|i| ds.get(i).unwrap()).collect()
}

fn batcher(augment: Augment, mix: Mix, seed: u64) -> ImageBatcher {
    ImageBatcher {
        augment,
        normalize: Normalize::identity(3),
        mix,
        seed,
    }
}

#[test]
fn normalisation_of_a_known_image() {
    let white = ImageSet {
        pixels: vec![255; 3 * 4 * 4],
        ..set(1, 4, 4)
    };
    let b = ImageBatcher::eval(Augment::None, Normalize::cifar10());
    let out = b.batch_host(&items(&white));
    let n = Normalize::cifar10();
    for c in 0..3 {
        let expected = (1.0 - n.mean[c]) / n.std[c];
        assert!(
            out.images[c * 16..(c + 1) * 16]
                .iter()
                .all(|v| (v - expected).abs() < 1e-5)
        );
    }
    let plain =
        ImageBatcher::eval(Augment::None, Normalize::identity(3)).batch_host(&items(&set(1, 4, 4)));
    let raw = set(1, 4, 4).pixels;
    assert!(
        plain
            .images
            .iter()
            .zip(&raw)
            .all(|(v, p)| (v - *p as f32 / 255.0).abs() < 1e-6)
    );
}

#[test]
fn flip_is_exact_and_pad_crop_stays_in_bounds() {
    let s = set(64, 8, 8);
    let base = ImageBatcher::eval(Augment::None, Normalize::identity(3)).batch_host(&items(&s));
    let out = batcher(Augment::PadCropFlip { pad: 0 }, Mix::None, 1).batch_host(&items(&s));
    let mut flipped = 0;
    for i in 0..64 {
        let img = &out.images[i * 192..(i + 1) * 192];
        let orig = &base.images[i * 192..(i + 1) * 192];
        let mirror: Vec<f32> = (0..192).map(|k| orig[(k / 8) * 8 + 7 - k % 8]).collect();
        if img == orig {
            continue;
        }
        assert_eq!(
            img,
            &mirror[..],
            "image {i}: either unchanged or exactly mirrored"
        );
        flipped += 1;
    }
    assert!(
        (16..=48).contains(&flipped),
        "about half flipped: {flipped}"
    );
    // With padding 4, every output pixel is an input pixel of the same channel or a zero pad.
    let padded = batcher(Augment::PadCropFlip { pad: 4 }, Mix::None, 2).batch_host(&items(&s));
    for i in 0..64 {
        for c in 0..3 {
            let values: Vec<f32> = base.images[i * 192 + c * 64..i * 192 + (c + 1) * 64].to_vec();
            for v in &padded.images[i * 192 + c * 64..i * 192 + (c + 1) * 64] {
                assert!(
                    *v == 0.0 || values.contains(v),
                    "pixel from outside the image"
                );
            }
        }
    }
}

#[test]
fn random_resized_crops_stay_in_bounds_and_have_the_output_size() {
    let image = Image {
        channels: 3,
        height: 40,
        width: 60,
        pixels: vec![200; 3 * 40 * 60],
    };
    let item = ImageItem {
        index: 0,
        label: 0,
        image,
    };
    let b = batcher(Augment::imagenette_train(24), Mix::None, 3);
    for seed in 0..50 {
        let b = ImageBatcher { seed, ..b.clone() };
        let out = b.batch_host(std::slice::from_ref(&item));
        assert_eq!(out.shape, [1, 3, 24, 24]);
        // A crop inside a uniform image, bilinearly resampled, is uniform: no pixel from outside.
        assert!(
            out.images.iter().all(|v| (v - 200.0 / 255.0).abs() < 1e-5),
            "seed {seed}"
        );
    }
    let center = ImageBatcher::eval(Augment::CenterCrop { size: 24 }, Normalize::identity(3));
    assert_eq!(center.batch_host(&[item]).shape, [1, 3, 24, 24]);
}

#[test]
fn same_seed_same_batch() {
    let s = set(32, 8, 8);
    let aug = Augment::imagenette_train(6);
    let a = batcher(aug.clone(), Mix::Mixup { alpha: 0.4 }, 7).batch_host(&items(&s));
    let b = batcher(aug.clone(), Mix::Mixup { alpha: 0.4 }, 7).batch_host(&items(&s));
    let c = batcher(aug, Mix::Mixup { alpha: 0.4 }, 8).batch_host(&items(&s));
    assert_eq!(a, b);
    assert_ne!(a.images, c.images);
}

#[test]
fn mixup_interpolates_with_lambda_at_least_half() {
    let s = set(32, 8, 8);
    let plain = batcher(Augment::PadCropFlip { pad: 2 }, Mix::None, 11).batch_host(&items(&s));
    let mixed = batcher(
        Augment::PadCropFlip { pad: 2 },
        Mix::Mixup { alpha: 0.4 },
        11,
    )
    .batch_host(&items(&s));
    let (partner_targets, lambda) = mixed.mix.clone().unwrap();
    assert!(lambda.iter().all(|l| (0.5..=1.0).contains(l)));
    assert!(lambda.iter().any(|l| *l < 0.99), "some real mixing");
    for i in 0..32 {
        // Find the partner: the image whose interpolation reproduces the mixed one.
        let own = &plain.images[i * 192..(i + 1) * 192];
        let got = &mixed.images[i * 192..(i + 1) * 192];
        let l = lambda[i];
        let partner = (0..32).find(|&p| {
            let other = &plain.images[p * 192..(p + 1) * 192];
            own.iter()
                .zip(other)
                .zip(got)
                .all(|((a, b), g)| (l * a + (1.0 - l) * b - g).abs() < 1e-5)
        });
        let p = partner.expect("mixed image = λx + (1−λ)x_partner");
        assert_eq!(partner_targets[i], plain.targets[p]);
    }
    // α → 0: the identity.
    let none = batcher(
        Augment::PadCropFlip { pad: 2 },
        Mix::Mixup { alpha: 0.0 },
        11,
    )
    .batch_host(&items(&s));
    assert_eq!(none.images, plain.images);
    assert!(none.mix.unwrap().1.iter().all(|&l| l == 1.0));
    let tiny = batcher(
        Augment::PadCropFlip { pad: 2 },
        Mix::Mixup { alpha: 1e-4 },
        11,
    )
    .batch_host(&items(&s));
    assert!(
        tiny.images
            .iter()
            .zip(&plain.images)
            .all(|(a, b)| (a - b).abs() < 1e-3)
    );
}

#[test]
fn cutmix_pastes_a_box_and_corrects_lambda() {
    let s = set(8, 16, 16);
    let len = 3 * 256;
    let plain = batcher(Augment::None, Mix::None, 5).batch_host(&items(&s));
    let mut boxes = 0;
    for seed in 0..20 {
        let mixed = batcher(Augment::None, Mix::CutMix { alpha: 1.0 }, seed).batch_host(&items(&s));
        let plain = ImageBatcher {
            seed,
            ..batcher(Augment::None, Mix::None, 5)
        }
        .batch_host(&items(&s));
        let (partners, lambda) = mixed.mix.unwrap();
        assert_eq!(
            partners,
            plain.targets.iter().rev().copied().collect::<Vec<_>>(),
            "partner = reversed batch"
        );
        // Image 0's pixels are its own or its partner's (image 7's), and λ is the area kept.
        let mut pasted = 0;
        for k in 0..len {
            let (got, own, other) = (mixed.images[k], plain.images[k], plain.images[7 * len + k]);
            assert!(got == own || got == other);
            pasted += (got == other && own != other) as usize;
        }
        let kept = 1.0 - lambda[0];
        assert!(lambda.iter().all(|&l| l == lambda[0]), "one λ per batch");
        assert!(
            (kept - pasted as f32 / len as f32).abs() <= 0.02,
            "seed {seed}: λ {} vs pasted {pasted}",
            lambda[0]
        );
        boxes += (pasted > 0) as usize;
    }
    assert!(boxes >= 10, "most draws paste a box: {boxes}");
    let _ = plain;
}

#[test]
fn mixed_loss_is_the_weighted_sum_of_two_cross_entropies() {
    let device = Default::default();
    let logits = Tensor::<B, 2>::random([4, 5], Distribution::Normal(0.0, 2.0), &device);
    let targets =
        Tensor::<B, 1, Int>::from_data(TensorData::new(vec![0i64, 3, 4, 1], [4]), &device);
    let partner =
        Tensor::<B, 1, Int>::from_data(TensorData::new(vec![2i64, 2, 0, 4], [4]), &device);
    let lambda = vec![0.5f32, 0.7, 0.9, 1.0];
    let mix = MixTargets {
        partner_targets: partner,
        lambda: Tensor::from_data(TensorData::new(lambda.clone(), [4]), &device),
    };
    let loss: f32 = mixed_cross_entropy(logits.clone(), targets, Some(&mix), 0.0).into_scalar();
    let lp = log_softmax(logits, 1).into_data().to_vec::<f32>().unwrap();
    let (t, p) = ([0, 3, 4, 1], [2, 2, 0, 4]);
    let expected: f32 = (0..4)
        .map(|i| lambda[i] * -lp[i * 5 + t[i]] + (1.0 - lambda[i]) * -lp[i * 5 + p[i]])
        .sum::<f32>()
        / 4.0;
    assert!((loss - expected).abs() < 1e-5, "{loss} vs {expected}");
    // Label smoothing ε: (1 − ε)·(−log p_y) + ε·mean(−log p).
    let logits =
        Tensor::<B, 2>::from_data(TensorData::new(vec![2.0f32, 0.0, -1.0], [1, 3]), &device);
    let target = Tensor::<B, 1, Int>::from_data(TensorData::new(vec![0i64], [1]), &device);
    let smoothed: f32 = mixed_cross_entropy(logits.clone(), target, None, 0.1).into_scalar();
    let lp = log_softmax(logits, 1).into_data().to_vec::<f32>().unwrap();
    let expected = 0.9 * -lp[0] + 0.1 * -(lp[0] + lp[1] + lp[2]) / 3.0;
    assert!((smoothed - expected).abs() < 1e-6);
}

#[test]
fn batcher_builds_tensors_on_the_device() {
    let s = set(6, 8, 8);
    let b = batcher(
        Augment::PadCropFlip { pad: 1 },
        Mix::Mixup { alpha: 0.4 },
        1,
    );
    let batch: ImageBatch<B> = b.batch(items(&s), &Default::default());
    assert_eq!(batch.images.dims(), [6, 3, 8, 8]);
    assert_eq!(
        batch.targets.into_data().to_vec::<i64>().unwrap(),
        vec![0, 1, 2, 3, 4, 5]
    );
    assert_eq!(batch.mix.unwrap().lambda.dims(), [6]);
}

/// The shift (rows, columns) of an output image against its source, found by matching: the
/// output equals the source moved by (dy, dx) with zeros where it left the image.
fn shift_of(source: &[f32], out: &[f32], (h, w): (usize, usize), flip: bool) -> Option<(i64, i64)> {
    let at = |dy: i64, dx: i64, y: usize, x: usize| {
        let xx = if flip { w - 1 - x } else { x };
        let (sy, sx) = (y as i64 + dy, xx as i64 + dx);
        if sy < 0 || sx < 0 || sy >= h as i64 || sx >= w as i64 {
            0.0
        } else {
            source[sy as usize * w + sx as usize]
        }
    };
    (-4..=4)
        .flat_map(|dy| (-4..=4).map(move |dx| (dy, dx)))
        .find(|&(dy, dx)| (0..h).all(|y| (0..w).all(|x| out[y * w + x] == at(dy, dx, y, x))))
}

/// fastai v1's CIFAR crop: offsets `int(9·U(0.4, 0.6)) − 4` ∈ {−1, 0, 1} only (all three
/// drawn), zero padding, and a flip only when asked for.
#[test]
fn fastai_v1_pad_crop_jitters_by_one_pixel() {
    let s = set(200, 8, 8);
    let base = ImageBatcher::eval(Augment::None, Normalize::identity(3)).batch_host(&items(&s));
    for flip in [false, true] {
        let out =
            batcher(Augment::FastaiV1PadCrop { pad: 4, flip }, Mix::None, 9).batch_host(&items(&s));
        let mut shifts = std::collections::BTreeSet::new();
        let mut flipped = 0;
        for i in 0..200 {
            let (src, img) = (
                &base.images[i * 192..i * 192 + 64],
                &out.images[i * 192..i * 192 + 64],
            );
            let found = shift_of(src, img, (8, 8), false)
                .or_else(|| {
                    flipped += 1;
                    shift_of(src, img, (8, 8), true)
                })
                .expect("a shifted copy");
            shifts.insert(found.0);
            shifts.insert(found.1);
        }
        assert_eq!(shifts.into_iter().collect::<Vec<_>>(), vec![-1, 0, 1]);
        if flip {
            assert!(
                (70..=130).contains(&flipped),
                "about half flipped: {flipped}"
            );
        } else {
            assert_eq!(flipped, 0);
        }
    }
}

/// fastai v1's `get_transforms()` through the batcher: the output size, values in [0, 1]
/// without normalisation, a deterministic validation, and the same seed giving the same batch.
#[test]
fn fastai_v1_get_transforms_through_the_batcher() {
    let s = set(8, 30, 40);
    let train = Augment::FastaiV1 {
        size: 24,
        train: true,
        flip: true,
    };
    let a = batcher(train.clone(), Mix::None, 4).batch_host(&items(&s));
    assert_eq!(a.shape, [8, 3, 24, 24]);
    assert!(a.images.iter().all(|v| (0.0..=1.0).contains(v)));
    assert_eq!(
        a.images,
        batcher(train, Mix::None, 4).batch_host(&items(&s)).images
    );
    let valid = Augment::FastaiV1 {
        size: 24,
        train: false,
        flip: true,
    };
    let v1 = batcher(valid.clone(), Mix::None, 1).batch_host(&items(&s));
    let v2 = batcher(valid, Mix::None, 2).batch_host(&items(&s));
    assert_eq!(v1.images, v2.images, "validation draws nothing");
}
