//! Mixup (fastai's semantics), CutMix and label smoothing (timm's), and the mixed loss.

use burn::tensor::activation::log_softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_distr::{Beta, Distribution};

/// Targets of a mixed batch.
#[derive(Debug, Clone)]
pub struct MixTargets<B: Backend> {
    /// The partner's class of each sample.
    pub partner_targets: Tensor<B, 1, Int>,
    /// λ per sample: the weight of the sample's own target.
    pub lambda: Tensor<B, 1>,
}

/// Batch mixing, applied to training batches only.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Mix {
    /// No mixing.
    None,
    /// fastai's `MixUp(alpha)`: per sample λ ~ Beta(α, α), λ ← max(λ, 1 − λ), partner from a
    /// random permutation of the batch, x ← λx + (1 − λ)x_partner. α = 0 is the identity.
    Mixup {
        /// Beta parameter (fastai's default 0.4).
        alpha: f64,
    },
    /// timm's CutMix (batch mode): one λ ~ Beta(α, α) per batch, a box of side √(1 − λ) of the
    /// image pasted from the partner (the reversed batch), λ corrected to the clipped box area.
    CutMix {
        /// Beta parameter (timm's default 1.0).
        alpha: f64,
    },
}

/// The partner of each sample and its weight λ (the weight of the sample's own target).
#[derive(Debug, Clone, PartialEq)]
pub struct MixPlan {
    /// Index in the batch of each sample's partner.
    pub partner: Vec<usize>,
    /// λ per sample.
    pub lambda: Vec<f32>,
}

/// Draws λ ~ Beta(α, α); α ≤ 0 (or non-finite) gives 1, no mixing.
fn beta<R: Rng>(alpha: f64, rng: &mut R) -> f64 {
    match Beta::new(alpha, alpha) {
        Ok(dist) if alpha > 0.0 && alpha.is_finite() => dist.sample(rng),
        _ => 1.0,
    }
}

/// Mixes `images` (`n` images of `channels × height × width` f32, in place) and returns the
/// plan, or `None` for [`Mix::None`].
pub(crate) fn apply_mix<R: Rng>(
    mix: Mix,
    images: &mut [f32],
    (n, channels, height, width): (usize, usize, usize, usize),
    rng: &mut R,
) -> Option<MixPlan> {
    let len = channels * height * width;
    match mix {
        Mix::None => None,
        Mix::Mixup { alpha } => {
            let mut partner: Vec<usize> = (0..n).collect();
            partner.shuffle(rng);
            let lambda: Vec<f32> = (0..n)
                .map(|_| {
                    let l = beta(alpha, rng);
                    l.max(1.0 - l) as f32
                })
                .collect();
            let original = images.to_vec();
            for i in 0..n {
                let (l, p) = (lambda[i], partner[i]);
                let own = &original[i * len..(i + 1) * len];
                let other = &original[p * len..(p + 1) * len];
                for (o, (a, b)) in images[i * len..(i + 1) * len]
                    .iter_mut()
                    .zip(own.iter().zip(other))
                {
                    *o = l * a + (1.0 - l) * b;
                }
            }
            Some(MixPlan { partner, lambda })
        }
        Mix::CutMix { alpha } => {
            let l = beta(alpha, rng);
            let cut = (1.0 - l).sqrt();
            let (cut_h, cut_w) = (
                (height as f64 * cut) as usize,
                (width as f64 * cut) as usize,
            );
            let cy = rng.random_range(0..height);
            let cx = rng.random_range(0..width);
            let y0 = cy.saturating_sub(cut_h / 2);
            let y1 = (cy + cut_h / 2).min(height);
            let x0 = cx.saturating_sub(cut_w / 2);
            let x1 = (cx + cut_w / 2).min(width);
            let partner: Vec<usize> = (0..n).rev().collect();
            let original = images.to_vec();
            for (i, &p) in partner.iter().enumerate() {
                for c in 0..channels {
                    for y in y0..y1 {
                        let row = (c * height + y) * width;
                        let (dst, src) = (i * len + row, p * len + row);
                        images[dst + x0..dst + x1].copy_from_slice(&original[src + x0..src + x1]);
                    }
                }
            }
            let corrected = 1.0 - ((y1 - y0) * (x1 - x0)) as f64 / (height * width) as f64;
            Some(MixPlan {
                partner,
                lambda: vec![corrected as f32; n],
            })
        }
    }
}

/// Per-sample cross-entropy with timm's label smoothing ε: targets are `1 − ε + ε/C` on the
/// class and `ε/C` elsewhere, i.e. `(1 − ε)·(−log p_y) + ε·mean_c(−log p_c)`.
pub fn smoothed_cross_entropy<B: Backend>(
    log_probs: Tensor<B, 2>,
    targets: Tensor<B, 1, Int>,
    smoothing: f64,
) -> Tensor<B, 1> {
    let nll = log_probs
        .clone()
        .gather(1, targets.unsqueeze_dim(1))
        .squeeze_dim::<1>(1)
        .neg();
    if smoothing == 0.0 {
        return nll;
    }
    let uniform = log_probs.mean_dim(1).squeeze_dim::<1>(1).neg();
    nll.mul_scalar(1.0 - smoothing) + uniform.mul_scalar(smoothing)
}

/// The training loss of a (possibly mixed) batch, averaged over samples:
/// `λ·CE(y) + (1 − λ)·CE(y_partner)` per sample (fastai's `MixUp` loss), with label smoothing ε.
pub fn mixed_cross_entropy<B: Backend>(
    logits: Tensor<B, 2>,
    targets: Tensor<B, 1, Int>,
    mix: Option<&MixTargets<B>>,
    smoothing: f64,
) -> Tensor<B, 1> {
    let log_probs = log_softmax(logits, 1);
    let own = smoothed_cross_entropy(log_probs.clone(), targets, smoothing);
    let per_sample = match mix {
        None => own,
        Some(mix) => {
            let other = smoothed_cross_entropy(log_probs, mix.partner_targets.clone(), smoothing);
            let lambda = mix.lambda.clone();
            own * lambda.clone() + other * lambda.neg().add_scalar(1.0)
        }
    };
    per_sample.mean()
}
