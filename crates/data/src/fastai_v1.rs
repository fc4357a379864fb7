//! fastai v1's (1.0.59) `get_transforms()` pipeline at a given size, as the seed study's
//! Imagenette runs used it (`.transform(get_transforms(), size=224)`, no normalisation).
//!
//! fastai v1 composes every geometric transform into one flow field over the image resized to
//! shortest side `size`, samples it once (bilinear, reflection padding, PyTorch 1.3's
//! `grid_sample` with `align_corners=False`), applies the lighting transforms on the logits of
//! the pixels, then crops `size`×`size` (`crop_pad`). For an output pixel with normalised
//! coordinates `c` (x, y in [−1, 1], `linspace` over the resized image) the source is
//! `s = R·Z·P(c)`: `P` the symmetric perspective warp (a coordinate transform, fastai order 4,
//! applied to the identity flow first), then the affine matrices in list order, rotation `R`
//! and zoom `Z` (order 5, multiplied into one matrix that fastai applies last). Training draws,
//! each with p = 0.75: warp magnitudes U(−0.2, 0.2) for the four corners, rotation U(−10°,
//! 10°), zoom U(1, 1.1) about a point U(0, 1)², brightness U(0.4, 0.6) (logit + logit(b)),
//! contrast log-U(0.8, 1.25) (logit × c); a crop position U(0, 1)² and a horizontal flip with
//! p = ½. Validation: centre crop of the same resampling, nothing drawn.
//!
//! The geometry is `imageproc`'s [`Projection`] (the homography from the four corner pairs, the
//! affine matrices and their composition); the sampler is written here because imageproc's
//! warps offer constant, replicated or wrapped borders but not fastai's reflection.
//!
//! One difference is known: fastai resamples the stored JPEG (e.g. 320 px) straight onto the
//! flow, while here the reader has already resized it to shortest side `size` (cached), so the
//! flow samples that copy.

use imageproc::geometric_transformations::Projection;
use rand::Rng;

use crate::normalize::Normalize;

/// fastai v1's `get_transforms()` defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GetTransforms {
    /// `max_rotate`: rotations U(−10°, 10°).
    pub max_rotate: f32,
    /// `max_zoom`: zoom U(1, 1.1).
    pub max_zoom: f32,
    /// `max_warp`: corner magnitudes U(−0.2, 0.2).
    pub max_warp: f32,
    /// `max_lighting` 0.2: brightness U(0.4, 0.6), contrast log-U(0.8, 1.25).
    pub max_lighting: f32,
    /// `p_affine`: probability of each geometric transform.
    pub p_affine: f64,
    /// `p_lighting`: probability of each lighting transform.
    pub p_lighting: f64,
}

impl Default for GetTransforms {
    fn default() -> Self {
        Self {
            max_rotate: 10.0,
            max_zoom: 1.1,
            max_warp: 0.2,
            max_lighting: 0.2,
            p_affine: 0.75,
            p_lighting: 0.75,
        }
    }
}

/// The random choices of one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Draw {
    /// Crop offset (rows, columns) in the resized image: `int((H − size + 1)·pct)`.
    pub top: usize,
    /// See `top`.
    pub left: usize,
    /// Horizontal flip.
    pub flip: bool,
    /// `symmetric_warp` magnitudes `m[0..4]`.
    pub warp: Option<[f32; 4]>,
    /// `rotate` angle, degrees.
    pub rotate: Option<f32>,
    /// `zoom` (scale, row_pct, col_pct).
    pub zoom: Option<(f32, f32, f32)>,
    /// `brightness` change.
    pub brightness: Option<f32>,
    /// `contrast` scale.
    pub contrast: Option<f32>,
}

impl GetTransforms {
    /// Draws the transforms of one image of `height`×`width` (shortest side ≥ `size`):
    /// training draws everything, validation only the centre crop.
    pub fn draw<R: Rng>(
        &self,
        (height, width): (usize, usize),
        size: usize,
        train: bool,
        rng: &mut R,
    ) -> Draw {
        let offset = |len: usize, pct: f32| ((len.saturating_sub(size) + 1) as f32 * pct) as usize;
        if !train {
            return Draw {
                top: offset(height, 0.5),
                left: offset(width, 0.5),
                flip: false,
                warp: None,
                rotate: None,
                zoom: None,
                brightness: None,
                contrast: None,
            };
        }
        let (pa, pl) = (self.p_affine, self.p_lighting);
        let l = self.max_lighting;
        Draw {
            top: offset(height, rng.random::<f32>()),
            left: offset(width, rng.random::<f32>()),
            flip: rng.random_bool(0.5),
            warp: rng
                .random_bool(pa)
                .then(|| std::array::from_fn(|_| rng.random_range(-self.max_warp..=self.max_warp))),
            rotate: rng
                .random_bool(pa)
                .then(|| rng.random_range(-self.max_rotate..=self.max_rotate)),
            zoom: rng.random_bool(pa).then(|| {
                (
                    rng.random_range(1.0..=self.max_zoom),
                    rng.random::<f32>(),
                    rng.random::<f32>(),
                )
            }),
            brightness: rng
                .random_bool(pl)
                .then(|| rng.random_range(0.5 * (1.0 - l)..=0.5 * (1.0 + l))),
            contrast: rng.random_bool(pl).then(|| {
                let (lo, hi) = ((1.0 - l).ln(), (1.0 / (1.0 - l)).ln());
                rng.random_range(lo..=hi).exp()
            }),
        }
    }
}

/// The map from output to source normalised coordinates, `R·Z·P` (see the module doc).
pub fn source_map(draw: &Draw) -> Projection {
    let mut map = Projection::scale(1.0, 1.0);
    if let Some(m) = draw.warp {
        // fastai's `_symmetric_warp`: the image corners `orig` appear at `targ`, so each output
        // coordinate is mapped by the homography taking `targ` to `orig`.
        let orig = [(-1.0, -1.0), (-1.0, 1.0), (1.0, -1.0), (1.0, 1.0)];
        let targ = [
            (-1.0 - m[3], -1.0 - m[1]),
            (-1.0 - m[2], 1.0 + m[1]),
            (1.0 + m[3], -1.0 - m[0]),
            (1.0 + m[2], 1.0 + m[0]),
        ];
        if let Some(p) = Projection::from_control_points(targ, orig) {
            map = p;
        }
    }
    if let Some((scale, row_pct, col_pct)) = draw.zoom {
        // fastai's `_zoom`: [[1/s, 0, col_c], [0, 1/s, row_c]], c = (1 − 1/s)(2·pct − 1).
        let s = 1.0 - 1.0 / scale;
        let zoom = Projection::scale(1.0 / scale, 1.0 / scale).and_then(Projection::translate(
            s * (2.0 * col_pct - 1.0),
            s * (2.0 * row_pct - 1.0),
        ));
        map = map.and_then(zoom);
    }
    if let Some(degrees) = draw.rotate {
        // fastai's `_rotate`: [[cos, −sin], [sin, cos]], imageproc's `rotate` matrix.
        map = map.and_then(Projection::rotate(degrees.to_radians()));
    }
    map
}

/// PyTorch's `grid_sample` reflection for `align_corners=False`: reflect over
/// [−0.5, size − 0.5], then clip to [0, size − 1].
pub fn reflect(x: f32, size: usize) -> f32 {
    let span = size as f32;
    let distance = (x + 0.5).abs();
    let flips = (distance / span).floor();
    let extra = distance - flips * span;
    let reflected = if flips as i64 % 2 == 0 {
        extra - 0.5
    } else {
        span - extra - 0.5
    };
    reflected.clamp(0.0, span - 1.0)
}

/// fastai's lighting on a pixel in [0, 1]: on its logit (clamped to 1e−7), brightness adds
/// logit(b), contrast multiplies by c; back through the sigmoid.
pub fn lighting(px: f32, brightness: Option<f32>, contrast: Option<f32>) -> f32 {
    if brightness.is_none() && contrast.is_none() {
        return px;
    }
    let logit = |p: f32| {
        let p = p.clamp(1e-7, 1.0 - 1e-7);
        -(1.0 / p - 1.0).ln()
    };
    let mut x = logit(px);
    if let Some(b) = brightness {
        x += logit(b);
    }
    if let Some(c) = contrast {
        x *= c;
    }
    1.0 / (1.0 + (-x).exp())
}

/// Writes the transformed, normalised `size`×`size` image into `out` (C×size×size).
#[allow(clippy::too_many_arguments)]
pub(crate) fn render(
    pixels: &[u8],
    channels: usize,
    (height, width): (usize, usize),
    draw: &Draw,
    size: usize,
    normalize: &Normalize,
    out: &mut [f32],
) {
    let map = source_map(draw);
    // Normalised coordinates of pixel i of n (`linspace(−1, 1, n)`) and back to pixels
    // (`align_corners=False`: ((s + 1)·n − 1) / 2).
    let norm = |i: usize, n: usize| {
        if n > 1 {
            -1.0 + 2.0 * i as f32 / (n - 1) as f32
        } else {
            0.0
        }
    };
    let pixel = |s: f32, n: usize| ((s + 1.0) * n as f32 - 1.0) / 2.0;
    for y in 0..size {
        for x in 0..size {
            let (u, v) = (norm(x + draw.left, width), norm(y + draw.top, height));
            let (su, sv) = map * (u, v);
            let sx = reflect(pixel(su, width), width);
            let sy = reflect(pixel(sv, height), height);
            let (x0, y0) = (sx.floor() as usize, sy.floor() as usize);
            let (x1, y1) = ((x0 + 1).min(width - 1), (y0 + 1).min(height - 1));
            let (wx, wy) = (sx - x0 as f32, sy - y0 as f32);
            let dst = y * size + if draw.flip { size - 1 - x } else { x };
            for c in 0..channels {
                let plane = &pixels[c * height * width..(c + 1) * height * width];
                let at = |yy: usize, xx: usize| plane[yy * width + xx] as f32 / 255.0;
                let top = at(y0, x0) * (1.0 - wx) + at(y0, x1) * wx;
                let bottom = at(y1, x0) * (1.0 - wx) + at(y1, x1) * wx;
                let px = lighting(
                    top * (1.0 - wy) + bottom * wy,
                    draw.brightness,
                    draw.contrast,
                );
                let (mean, std) = (
                    normalize.mean[c % normalize.mean.len()],
                    normalize.std[c % normalize.std.len()],
                );
                out[c * size * size + dst] = (px - mean) / std;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn none() -> Draw {
        GetTransforms::default().draw((224, 300), 224, false, &mut StdRng::seed_from_u64(0))
    }

    #[test]
    fn reflection_matches_pytorch() {
        // reflect_coordinates(x, 2·0 − 1, 2·4 − 1) then clip, by hand for size 4.
        assert_eq!(reflect(1.25, 4), 1.25);
        assert_eq!(reflect(-1.0, 4), 0.0);
        assert!((reflect(4.2, 4) - 2.8).abs() < 1e-6);
        assert!((reflect(-0.3, 4) - 0.0).abs() < 1e-6);
        assert!((reflect(-2.0, 4) - 1.0).abs() < 1e-6);
        assert!((reflect(9.0, 4) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn lighting_works_on_logits() {
        assert!((lighting(0.3, Some(0.5), Some(1.0)) - 0.3).abs() < 1e-6);
        // sigmoid(2·logit(0.75)) = 0.9; sigmoid(logit(0.5) + logit(0.6)) = 0.6.
        assert!((lighting(0.75, None, Some(2.0)) - 0.9).abs() < 1e-6);
        assert!((lighting(0.5, Some(0.6), None) - 0.6).abs() < 1e-6);
    }

    #[test]
    fn each_transform_maps_coordinates_as_fastai() {
        let close = |(a, b): (f32, f32), (c, d): (f32, f32)| {
            assert!(
                (a - c).abs() < 1e-5 && (b - d).abs() < 1e-5,
                "{a},{b} vs {c},{d}"
            );
        };
        close(source_map(&none()) * (0.3, -0.2), (0.3, -0.2));
        let rotate = Draw {
            rotate: Some(90.0),
            ..none()
        };
        close(source_map(&rotate) * (1.0, 0.0), (0.0, 1.0));
        // Zoom ×2 about the centre halves every coordinate; about the corner pct = 1 it keeps
        // that corner.
        let zoom = |row, col| Draw {
            zoom: Some((2.0, row, col)),
            ..none()
        };
        close(source_map(&zoom(0.5, 0.5)) * (1.0, -0.5), (0.5, -0.25));
        close(source_map(&zoom(1.0, 1.0)) * (1.0, 1.0), (1.0, 1.0));
        // The warp takes each displaced corner back to the image corner.
        let m = [0.2, -0.1, 0.05, 0.15];
        let warp = Draw {
            warp: Some(m),
            ..none()
        };
        close(source_map(&warp) * (-1.0 - m[3], -1.0 - m[1]), (-1.0, -1.0));
        close(source_map(&warp) * (1.0 + m[2], 1.0 + m[0]), (1.0, 1.0));
        // Composition: rotation applied last, `R·Z·P`.
        let both = Draw {
            zoom: Some((2.0, 0.5, 0.5)),
            rotate: Some(90.0),
            ..none()
        };
        close(source_map(&both) * (1.0, 0.0), (0.0, 0.5));
    }

    #[test]
    fn draws_have_fastais_ranges_and_probabilities() {
        let t = GetTransforms::default();
        let mut rng = StdRng::seed_from_u64(1);
        let draws: Vec<Draw> = (0..4000)
            .map(|_| t.draw((224, 300), 224, true, &mut rng))
            .collect();
        let rate = |f: &dyn Fn(&Draw) -> bool| {
            draws.iter().filter(|d| f(d)).count() as f64 / draws.len() as f64
        };
        for p in [
            rate(&|d| d.warp.is_some()),
            rate(&|d| d.rotate.is_some()),
            rate(&|d| d.zoom.is_some()),
            rate(&|d| d.brightness.is_some()),
            rate(&|d| d.contrast.is_some()),
        ] {
            assert!((p - 0.75).abs() < 0.03, "{p}");
        }
        assert!((rate(&|d| d.flip) - 0.5).abs() < 0.03);
        for d in &draws {
            assert!(d.top == 0 && d.left <= 76);
            assert!(d.warp.is_none_or(|m| m.iter().all(|v| v.abs() <= 0.2)));
            assert!(d.rotate.is_none_or(|r| r.abs() <= 10.0));
            assert!(d.zoom.is_none_or(|(s, r, c)| {
                (1.0..=1.1).contains(&s) && (0.0..1.0).contains(&r) && (0.0..1.0).contains(&c)
            }));
            assert!(d.brightness.is_none_or(|b| (0.4..=0.6).contains(&b)));
            assert!(
                d.contrast
                    .is_none_or(|c| (0.8 - 1e-6..=1.25 + 1e-6).contains(&c))
            );
        }
        // Contrast is log-uniform: half the draws below 1.
        let below = draws
            .iter()
            .filter_map(|d| d.contrast)
            .filter(|&c| c < 1.0)
            .count() as f64
            / draws.iter().filter(|d| d.contrast.is_some()).count() as f64;
        assert!((below - 0.5).abs() < 0.04, "{below}");
        // Validation: the centre crop `int((W − size + 1)·0.5)`, nothing else.
        assert_eq!((none().top, none().left), (0, 38));
    }

    #[test]
    fn the_identity_flow_resamples_as_align_corners_false() {
        // A 1×3×4 gradient image, no transform, output 3×3 from offset 0: fastai's identity
        // flow (linspace) sampled with align_corners=False slightly zooms out.
        let pixels: Vec<u8> = (0..12).map(|i| (i * 20) as u8).collect();
        let draw = Draw {
            top: 0,
            left: 0,
            ..none()
        };
        let mut out = vec![0.0; 9];
        render(
            &pixels,
            1,
            (3, 4),
            &draw,
            3,
            &Normalize::identity(1),
            &mut out,
        );
        // Output (0, 0): u = −1 → x = −0.5 → reflected 0 → pixel 0; v likewise.
        assert_eq!(out[0], 0.0);
        // Output (1, 1): u = −1/3 → x = ((2/3)·4 − 1)/2 = 5/6; v = 0 → y = 1: row 1 between
        // columns 0 and 1: (80 + 5/6·20) / 255.
        assert!(
            (out[4] - (80.0 + 20.0 * 5.0 / 6.0) / 255.0).abs() < 1e-5,
            "{out:?}"
        );
        assert!(out.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
