//! Augmentation and normalisation: u8 C×H×W images in, normalised f32 C×H×W out.

use rand::Rng;

use crate::normalize::Normalize;

/// The augmentation of a training or validation image.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Augment {
    /// The image as it is (it must have the output size).
    None,
    /// CIFAR training: zero-pad `pad` pixels on each side, take a random crop of the original
    /// size, flip horizontally with probability ½ (torchvision `RandomCrop(32, padding=4)` +
    /// `RandomHorizontalFlip`).
    PadCropFlip {
        /// Padding on each side.
        pad: usize,
    },
    /// Imagenette training: a random crop covering `scale` of the area with aspect ratio in
    /// `ratio` (log-uniform), resized (bilinear) to `size`×`size`, flipped with probability ½
    /// (torchvision `RandomResizedCrop`, fastai's min scale 0.35).
    RandomResizedCropFlip {
        /// Output side.
        size: usize,
        /// Area fraction range.
        scale: (f32, f32),
        /// Aspect-ratio range (width / height).
        ratio: (f32, f32),
    },
    /// Validation: center crop `size`×`size` (images are already resized to shortest side
    /// `size` by the reader).
    CenterCrop {
        /// Output side.
        size: usize,
    },
    /// fastai v1's CIFAR transforms of the seed study (`[pad(4, mode='zeros'), crop(32,
    /// row_pct=(0.4, 0.6), col_pct=(0.4, 0.6))]`): zero-pad `pad`, crop the original size at
    /// offset `int((2·pad + 1)·U(0.4, 0.6))` per axis (for pad 4: 3, 4 or 5, a ±1 px jitter),
    /// and, if `flip`, flip horizontally with probability ½ (`flip_lr`).
    FastaiV1PadCrop {
        /// Padding on each side.
        pad: usize,
        /// Whether to flip.
        flip: bool,
    },
    /// fastai v1's `get_transforms()` at `size` ([`crate::fastai_v1`]): training (`train`)
    /// draws crop, flip (if `flip`), warp, rotation, zoom and lighting; validation is the
    /// centre crop of the same resampling.
    FastaiV1 {
        /// Output side.
        size: usize,
        /// Training (random) or validation (centre crop).
        train: bool,
        /// `do_flip`.
        flip: bool,
    },
}

impl Augment {
    /// fastai's Imagenette training augmentation at `size`: scale 0.35–1, ratio 3/4–4/3.
    pub fn imagenette_train(size: usize) -> Self {
        Augment::RandomResizedCropFlip {
            size,
            scale: (0.35, 1.0),
            ratio: (0.75, 4.0 / 3.0),
        }
    }

    /// Output (height, width) for an input of (height, width).
    pub fn output_size(&self, height: usize, width: usize) -> (usize, usize) {
        match self {
            Augment::None | Augment::PadCropFlip { .. } | Augment::FastaiV1PadCrop { .. } => {
                (height, width)
            }
            Augment::RandomResizedCropFlip { size, .. }
            | Augment::CenterCrop { size }
            | Augment::FastaiV1 { size, .. } => (*size, *size),
        }
    }
}

/// A source region (in pixels, possibly outside the image for padding) and a flip flag.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Crop {
    pub top: f32,
    pub left: f32,
    pub height: f32,
    pub width: f32,
    pub flip: bool,
}

/// torchvision's RandomResizedCrop of an `h`×`w` image: 10 tries at a random area and aspect
/// ratio, then a center crop of the clamped ratio.
#[cfg_attr(not(feature = "burn"), allow(dead_code))]
fn random_resized_crop<R: Rng>(
    (h, w): (f32, f32),
    scale: (f32, f32),
    ratio: (f32, f32),
    rng: &mut R,
) -> Crop {
    let area = h * w;
    let (log_lo, log_hi) = (ratio.0.ln(), ratio.1.ln());
    for _ in 0..10 {
        let target = area * rng.random_range(scale.0..=scale.1);
        let aspect = rng.random_range(log_lo..=log_hi).exp();
        let cw = (target * aspect).sqrt().round();
        let ch = (target / aspect).sqrt().round();
        if cw >= 1.0 && ch >= 1.0 && cw <= w && ch <= h {
            let top = rng.random_range(0..=(h - ch) as usize) as f32;
            let left = rng.random_range(0..=(w - cw) as usize) as f32;
            return Crop {
                top,
                left,
                height: ch,
                width: cw,
                flip: rng.random_bool(0.5),
            };
        }
    }
    let (cw, ch) = if w / h < ratio.0 {
        (w, (w / ratio.0).round())
    } else if w / h > ratio.1 {
        ((h * ratio.1).round(), h)
    } else {
        (w, h)
    };
    let (top, left) = (((h - ch) / 2.0).floor(), ((w - cw) / 2.0).floor());
    Crop {
        top,
        left,
        height: ch,
        width: cw,
        flip: rng.random_bool(0.5),
    }
}

/// Draws the crop for an image of `height`×`width`.
#[cfg_attr(not(feature = "burn"), allow(dead_code))]
fn draw_crop<R: Rng>(augment: &Augment, height: usize, width: usize, rng: &mut R) -> Crop {
    let (h, w) = (height as f32, width as f32);
    match augment {
        // `FastaiV1` is resampled by `transform_into` and never cropped here.
        Augment::None | Augment::FastaiV1 { .. } => Crop {
            top: 0.0,
            left: 0.0,
            height: h,
            width: w,
            flip: false,
        },
        Augment::PadCropFlip { pad } => {
            let top = rng.random_range(0..=2 * pad) as f32 - *pad as f32;
            let left = rng.random_range(0..=2 * pad) as f32 - *pad as f32;
            Crop {
                top,
                left,
                height: h,
                width: w,
                flip: rng.random_bool(0.5),
            }
        }
        Augment::FastaiV1PadCrop { pad, flip } => {
            // fastai's `crop`: `int((padded − size + 1)·pct)` into the padded image.
            let mut offset = || (rng.random_range(0.4_f32..0.6) * (2 * pad + 1) as f32).floor();
            let (top, left) = (offset() - *pad as f32, offset() - *pad as f32);
            Crop {
                top,
                left,
                height: h,
                width: w,
                flip: *flip && rng.random_bool(0.5),
            }
        }
        Augment::RandomResizedCropFlip { scale, ratio, .. } => {
            random_resized_crop((h, w), *scale, *ratio, rng)
        }
        Augment::CenterCrop { size } => {
            let s = *size as f32;
            Crop {
                top: ((h - s) / 2.0).floor(),
                left: ((w - s) / 2.0).floor(),
                height: s,
                width: s,
                flip: false,
            }
        }
    }
}

#[cfg(feature = "burn")]
use crate::fastai_v1::{self, GetTransforms};

/// Transforms one image (C×`height`×`width` u8) with `augment` into `out` (C×`size`, f32,
/// normalised), drawing from `rng`.
#[cfg(feature = "burn")]
#[allow(clippy::too_many_arguments)]
pub(crate) fn transform_into<R: Rng>(
    augment: &Augment,
    pixels: &[u8],
    channels: usize,
    (height, width): (usize, usize),
    size: (usize, usize),
    normalize: &Normalize,
    rng: &mut R,
    out: &mut [f32],
) {
    if let Augment::FastaiV1 {
        size: side,
        train,
        flip,
    } = *augment
    {
        let mut draw = GetTransforms::default().draw((height, width), side, train, rng);
        draw.flip &= flip;
        return fastai_v1::render(
            pixels,
            channels,
            (height, width),
            &draw,
            side,
            normalize,
            out,
        );
    }
    let crop = draw_crop(augment, height, width, rng);
    render(pixels, channels, height, width, crop, size, normalize, out);
}

/// Writes the normalised crop of `pixels` (C×`height`×`width` u8) into `out` (C×`oh`×`ow` f32).
/// Integer crops of the output size are copied (zero outside the image, for padding); other
/// crops are resized bilinearly (half-pixel centres, like PIL/torchvision).
#[allow(clippy::too_many_arguments)]
#[cfg_attr(not(feature = "burn"), allow(dead_code))]
fn render(
    pixels: &[u8],
    channels: usize,
    height: usize,
    width: usize,
    crop: Crop,
    (oh, ow): (usize, usize),
    normalize: &Normalize,
    out: &mut [f32],
) {
    let exact = crop.height == oh as f32 && crop.width == ow as f32;
    for c in 0..channels {
        let (mean, std) = (
            normalize.mean[c % normalize.mean.len()],
            normalize.std[c % normalize.std.len()],
        );
        let (scale, shift) = (1.0 / (255.0 * std), -mean / std);
        let plane = &pixels[c * height * width..(c + 1) * height * width];
        let out_plane = &mut out[c * oh * ow..(c + 1) * oh * ow];
        for y in 0..oh {
            let row = &mut out_plane[y * ow..(y + 1) * ow];
            if exact {
                // Integer crop of the output size: copy the rows, zero (normalised) outside.
                row.fill(shift);
                let sy = y as isize + crop.top as isize;
                if sy < 0 || sy as usize >= height {
                    continue;
                }
                let src = &plane[sy as usize * width..(sy as usize + 1) * width];
                let left = crop.left as isize;
                // Output columns x whose source column x + left is inside the image.
                let x0 = (-left).max(0) as usize;
                let x1 = ((width as isize - left).min(ow as isize)).max(0) as usize;
                for x in x0..x1.max(x0) {
                    let v = src[(x as isize + left) as usize] as f32 * scale + shift;
                    let dst = if crop.flip { ow - 1 - x } else { x };
                    row[dst] = v;
                }
            } else {
                let fy = crop.top + (y as f32 + 0.5) * crop.height / oh as f32 - 0.5;
                let y0 = fy.floor().clamp(0.0, (height - 1) as f32);
                let y1 = (y0 + 1.0).min((height - 1) as f32);
                let wy = (fy - y0).clamp(0.0, 1.0);
                for (x, o) in row.iter_mut().enumerate() {
                    let xx = if crop.flip { ow - 1 - x } else { x };
                    let fx = crop.left + (xx as f32 + 0.5) * crop.width / ow as f32 - 0.5;
                    let x0 = fx.floor().clamp(0.0, (width - 1) as f32);
                    let x1 = (x0 + 1.0).min((width - 1) as f32);
                    let wx = (fx - x0).clamp(0.0, 1.0);
                    let at = |yy: f32, xx: f32| plane[yy as usize * width + xx as usize] as f32;
                    let top = at(y0, x0) * (1.0 - wx) + at(y0, x1) * wx;
                    let bottom = at(y1, x0) * (1.0 - wx) + at(y1, x1) * wx;
                    *o = (top * (1.0 - wy) + bottom * wy) * scale + shift;
                }
            }
        }
    }
}
