//! Pullback of an inner optimizer's first-moment buffers, for any optimizer, through its `Record`.
//!
//! Burn keeps several optimizer state fields private (`MomentumState::velocity`,
//! `RmsPropMomentumState::buf`), so there is no typed way to reach them. Every state is a
//! [`Record`] though, and a record converts into a serde item. This module turns that item into
//! a [`serde_value::Value`] tree, finds the tensors stored under the field names listed in
//! [`FIRST_MOMENT_FIELDS`], interpolates them on the parameter's device exactly as Lookahead
//! interpolates the weights, and rebuilds the state from the edited tree. Second moments and
//! every other field are carried through untouched.
//!
//! The round trip goes through host memory, once every `k` steps and only with
//! [`InnerStatePolicy::Pullback`](crate::InnerStatePolicy::Pullback).

use burn::record::{FullPrecisionSettings, Record};
use burn::tensor::{Tensor, TensorData, backend::Backend};
use serde_value::Value;

/// State field names that hold a first-moment (momentum) buffer, in every optimizer we know:
/// `velocity` (Burn's SGD momentum, incl. Nesterov), `moment_1` (Burn's Adam and AdamW, this
/// crate's RAdam), `buf` (Burn's RMSProp momentum). Second moments (`moment_2`, `square_avg`,
/// `max_moment_2`) and RMSProp's centred `grad_avg` are not in the list and are kept.
pub const FIRST_MOMENT_FIELDS: &[&str] = &["velocity", "moment_1", "buf"];

type Item<S, B> = <S as Record<B>>::Item<FullPrecisionSettings>;

/// The state as a value tree.
fn to_tree<B: Backend, S: Record<B>>(state: S) -> Result<Value, String> {
    serde_value::to_value(state.into_item::<FullPrecisionSettings>()).map_err(|e| e.to_string())
}

/// Calls `f` on every first-moment tensor of the tree, in a fixed (sorted field) order.
fn visit_first_moments(
    value: &mut Value,
    f: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<(), String> {
    match value {
        Value::Map(map) => {
            for (key, child) in map.iter_mut() {
                let is_first_moment = matches!(key, Value::String(name) if FIRST_MOMENT_FIELDS.contains(&name.as_str()));
                if is_first_moment {
                    if let Some(tensor) = unwrap_optional(child) {
                        f(tensor)?;
                    }
                } else {
                    visit_first_moments(child, f)?;
                }
            }
            Ok(())
        }
        Value::Option(Some(inner)) | Value::Newtype(inner) => visit_first_moments(inner, f),
        Value::Seq(items) => items.iter_mut().try_for_each(|v| visit_first_moments(v, f)),
        _ => Ok(()),
    }
}

/// A tensor value, looking through `Some(..)` and newtypes; `None` for an absent optional buffer.
fn unwrap_optional(value: &mut Value) -> Option<&mut Value> {
    match value {
        Value::Option(None) | Value::Unit => None,
        Value::Option(Some(inner)) | Value::Newtype(inner) => unwrap_optional(inner),
        other => Some(other),
    }
}

/// Number of first-moment buffers present in `state`.
pub(crate) fn count_first_moments<B: Backend, S: Record<B>>(state: S) -> Result<usize, String> {
    let mut tree = to_tree::<B, S>(state)?;
    let mut count = 0;
    visit_first_moments(&mut tree, &mut |_| {
        count += 1;
        Ok(())
    })?;
    Ok(count)
}

/// Interpolates every first-moment buffer `m` of `state` towards its cached copy `c` from the
/// previous sync: `m ← c + α(m − c)`, then `c ← m`. A missing cache (first sync) is zero, the
/// state before the first step. Returns the new state and the new caches (fresh tensors, never
/// aliases of the live buffers).
pub(crate) fn pull_back<B: Backend, S: Record<B>, const D: usize>(
    state: S,
    cache: Option<Vec<Tensor<B, D>>>,
    alpha: f64,
    device: &B::Device,
) -> Result<(S, Vec<Tensor<B, D>>), String> {
    let mut tree = to_tree::<B, S>(state)?;
    let mut cache = cache.map(Vec::into_iter);
    let mut new_cache = Vec::new();
    visit_first_moments(&mut tree, &mut |value| {
        let data: TensorData = std::mem::replace(value, Value::Unit)
            .deserialize_into()
            .map_err(|e| e.to_string())?;
        let moment = Tensor::<B, D>::from_data(data, device);
        let pulled = match cache.as_mut().and_then(Iterator::next) {
            Some(cached) => interpolate(cached, moment, alpha),
            // c = 0: c + α(m − c) = α·m.
            None => moment.mul_scalar(alpha),
        };
        *value = serde_value::to_value(pulled.to_data()).map_err(|e| e.to_string())?;
        new_cache.push(pulled);
        Ok(())
    })?;
    let item: Item<S, B> = tree.deserialize_into().map_err(|e| e.to_string())?;
    Ok((S::from_item(item, device), new_cache))
}

/// `from + α(to − from)`, the one interpolation Lookahead uses for weights and buffers alike.
/// With α = 1 it returns `to` itself, so that Lookahead(α = 1) is bit-identical to its inner
/// optimizer.
pub(crate) fn interpolate<B: Backend, const D: usize>(
    from: Tensor<B, D>,
    to: Tensor<B, D>,
    alpha: f64,
) -> Tensor<B, D> {
    if alpha == 1.0 {
        to
    } else {
        from.clone() + (to - from).mul_scalar(alpha)
    }
}
