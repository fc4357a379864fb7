//! Lookahead's pullback of the inner first moment, and the one interpolation used for weights
//! and buffers alike.
//!
//! Pullback interpolates the inner optimizer's first-moment buffer `m` like the weights, against
//! its copy `c` from the previous sync: `m ← c + α(m − c)`, then `c ← m`. The buffer is reached
//! through the typed [`FirstMoment`] trait and the cache is a plain tensor.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::FirstMoment;

/// Pulls the first moment of `state` back towards `cache` (`None` = zero, the state before the
/// first step), returning the new state and the new cache. A state without a first moment is
/// returned untouched, with the cache unchanged (nothing to pull back; `Pullback` was checked
/// against the optimizer when the Lookahead was built).
pub(crate) fn pull_back<B: Backend, O: FirstMoment<B>, const D: usize>(
    state: O::State<D>,
    cache: Option<Tensor<B, D>>,
    alpha: f64,
    device: &B::Device,
) -> (O::State<D>, Option<Tensor<B, D>>) {
    // The cache is moved into the interpolation, not cloned, so that the backend can write the
    // result in place; it stays here when the state has no buffer (the closure is not called).
    let mut cache = cache;
    let mut new_cache = None;
    let pulled = O::map_first_moment(state, device, |moment| {
        let (copy, pulled) = match cache.take() {
            Some(cached) => interpolate_twice(cached, moment, alpha),
            // c = 0: c + α(m − c) = α·m.
            None => {
                let pulled = moment.mul_scalar(alpha);
                (pulled.clone(), pulled)
            }
        };
        new_cache = Some(copy);
        pulled
    });
    match pulled {
        Ok(state) => (state, new_cache),
        Err(state) => (state, cache),
    }
}

/// `from + α(to − from)`, the one interpolation Lookahead uses for weights and buffers alike,
/// returned twice: after a sync the slow and fast weights (and Pullback's buffer and its cache)
/// hold the same value and then part. On Flex the value is written into both tensors' own
/// buffers in one pass (see `flex_sync`), so that neither step after the sync has to copy a
/// shared buffer; elsewhere the two share one tensor. With α = 1 the value is `to` itself, so
/// that Lookahead(α = 1) is bit-identical to its inner optimizer.
pub(crate) fn interpolate_twice<B: Backend, const D: usize>(
    from: Tensor<B, D>,
    to: Tensor<B, D>,
    alpha: f64,
) -> (Tensor<B, D>, Tensor<B, D>) {
    if alpha == 1.0 {
        return (to.clone(), to);
    }
    #[cfg(feature = "flex")]
    let (from, to) = match crate::flex_sync::lerp_into_both(from, to, alpha) {
        Ok(both) => return both,
        Err(pair) => pair,
    };
    let value = from.clone() + (to - from).mul_scalar(alpha);
    (value.clone(), value)
}
