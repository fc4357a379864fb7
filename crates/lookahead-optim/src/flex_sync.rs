//! Lookahead's sync in one pass on Burn's Flex CPU backend: the interpolation
//! `from + α(to − from)`, and zeroing a moment buffer.
//!
//! Written with Burn's tensor ops, the interpolation is three passes over memory (`to − from`,
//! `· α`, `from + ·`), each single-threaded on Flex; at a sync they are most of what Lookahead
//! adds to its inner optimizer's step. When the backend is Flex and both tensors are f32,
//! contiguous and neither is shared, this computes the same three f32 operations per element
//! (bit for bit: `from + (to − from)·α` with α rounded to f32 as Flex's `mul_scalar` does, no
//! fused multiply-add) in one pass, across threads, writing the result into both tensors' own
//! buffers (the slow and the fast weights part again at the next step, so neither has to copy a
//! shared one). Any other case is handed back for the generic path. (On CubeCL backends Burn's fusion already makes the three ops one
//! kernel.) A buffer to be zeroed that nothing else holds is filled with zeros where it is, not
//! replaced by a freshly allocated one (whose pages the next step would fault in).

use std::any::{Any, TypeId};

use burn::backend::flex::FlexTensor;
use burn::tensor::backend::Backend;
use burn::tensor::{DType, Tensor, TensorPrimitive};
use rayon::prelude::*;

/// Two tensors of one shape.
type Pair<B, const D: usize> = (Tensor<B, D>, Tensor<B, D>);

/// Elements per thread's chunk: small tensors stay on one thread.
const CHUNK: usize = 1 << 16;

/// Whether `B`'s float tensors are Flex's.
fn is_flex<B: Backend>() -> bool {
    TypeId::of::<B::FloatTensorPrimitive>() == TypeId::of::<FlexTensor>()
}

/// Whether `x` is held by nothing else and stored contiguously over its whole buffer from 0,
/// so that it can be written in place.
fn writable(x: &FlexTensor) -> bool {
    let n = x.layout().num_elements();
    x.is_unique() && matches!(x.layout().contiguous_offsets(), Some((0, e)) if e == n)
}

/// `from + α(to − from)` written into both `from`'s and `to`'s buffers in one pass, when `B` is
/// Flex and both are f32, contiguous and not shared; otherwise the two tensors back, untouched.
pub(crate) fn lerp_into_both<B: Backend, const D: usize>(
    from: Tensor<B, D>,
    to: Tensor<B, D>,
    alpha: f64,
) -> Result<Pair<B, D>, Pair<B, D>> {
    let f32s = from.dtype() == DType::F32 && to.dtype() == DType::F32;
    if !is_flex::<B>() || !f32s || from.shape() != to.shape() {
        return Err((from, to));
    }
    let (mut f, mut t) = match (as_flex(from), as_flex(to)) {
        (Ok(f), Ok(t)) => (f, t),
        (f, t) => {
            return Err((
                f.map_or_else(|x| x, from_flex),
                t.map_or_else(|x| x, from_flex),
            ));
        }
    };
    if !(writable(&f) && writable(&t)) {
        return Err((from_flex(f), from_flex(t)));
    }
    let n = f.layout().num_elements();
    let a = alpha as f32;
    if let (Some(fs), Some(ts)) = (f.try_storage_mut::<f32>(), t.try_storage_mut::<f32>()) {
        fs[..n]
            .par_chunks_mut(CHUNK)
            .zip(ts[..n].par_chunks_mut(CHUNK))
            .for_each(|(f, t)| {
                f.iter_mut().zip(t).for_each(|(f, t)| {
                    *f += (*t - *f) * a;
                    *t = *f;
                });
            });
        return Ok((from_flex(f), from_flex(t)));
    }
    Err((from_flex(f), from_flex(t)))
}

/// `tensor` set to zero: filled in place when `B` is Flex and nothing else holds it (an f32
/// buffer, contiguous), else a new tensor of zeros of its shape, dtype and device. Nothing is
/// read either way.
pub(crate) fn zeroed<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Tensor<B, D> {
    if !is_flex::<B>() || tensor.dtype() != DType::F32 {
        return tensor.zeros_like();
    }
    let mut t = match as_flex(tensor) {
        Ok(t) => t,
        Err(tensor) => return tensor.zeros_like(),
    };
    let (n, whole) = (t.layout().num_elements(), writable(&t));
    match t.try_storage_mut::<f32>() {
        Some(values) if whole => {
            values[..n].par_chunks_mut(CHUNK).for_each(|c| c.fill(0.0));
            from_flex(t)
        }
        _ => from_flex::<B, D>(t).zeros_like(),
    }
}

/// The Flex tensor inside `tensor` (a float tensor of a backend whose primitive is Flex's), or
/// the tensor back.
fn as_flex<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Result<FlexTensor, Tensor<B, D>> {
    match tensor.into_primitive() {
        TensorPrimitive::Float(p) => (Box::new(p) as Box<dyn Any>)
            .downcast::<FlexTensor>()
            .map(|b| *b)
            .map_err(|p| {
                let p = p
                    .downcast::<B::FloatTensorPrimitive>()
                    .expect("its own primitive");
                Tensor::from_primitive(TensorPrimitive::Float(*p))
            }),
        q => Err(Tensor::from_primitive(q)),
    }
}

/// `tensor` back as a `Tensor<B, D>` (only called with `B`'s primitive Flex's).
fn from_flex<B: Backend, const D: usize>(tensor: FlexTensor) -> Tensor<B, D> {
    let primitive = (Box::new(tensor) as Box<dyn Any>)
        .downcast::<B::FloatTensorPrimitive>()
        .expect("B's float primitive is FlexTensor");
    Tensor::from_primitive(TensorPrimitive::Float(*primitive))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::{Distribution, TensorData};

    fn bits<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<u32> {
        let values = t.into_data().to_vec::<f32>().unwrap();
        values.iter().map(|v| v.to_bits()).collect()
    }

    /// A copy with its own buffer (not shared), so that the one-pass path runs.
    fn own<const D: usize>(t: &Tensor<Flex, D>) -> Tensor<Flex, D> {
        Tensor::from_data(t.to_data(), &t.device())
    }

    /// The three ops of the generic path, and the one pass, on `from` and `to`.
    fn both_ways<const D: usize>(from: &Tensor<Flex, D>, to: &Tensor<Flex, D>, a: f64) {
        let expected = bits(from.clone() + (to.clone() - from.clone()).mul_scalar(a));
        let (slow, fast) = lerp_into_both(own(from), own(to), a).expect("the Flex path");
        assert_eq!(bits(slow), expected, "α = {a}");
        assert_eq!(bits(fast), expected, "α = {a}");
    }

    #[test]
    fn one_pass_equals_the_three_ops_bit_for_bit() {
        let device = Default::default();
        for n in [1, 7, CHUNK + 3, 3 * CHUNK] {
            let from = Tensor::<Flex, 1>::random([n], Distribution::Normal(0.0, 1e3), &device);
            let to = Tensor::<Flex, 1>::random([n], Distribution::Normal(0.0, 1e-3), &device);
            for a in [0.5, 0.8, 1.0 / 3.0] {
                both_ways(&from, &to, a);
            }
        }
        let special = [
            0.0f32,
            -0.0,
            f32::INFINITY,
            f32::MIN_POSITIVE / 4.0,
            3.0e38,
            -1.0,
        ];
        let other = [-0.0f32, 0.0, 1.0, 0.0, -3.0e38, 2.0];
        let from = Tensor::<Flex, 1>::from_data(TensorData::from(special), &device);
        let to = Tensor::<Flex, 1>::from_data(TensorData::from(other), &device);
        both_ways(&from, &to, 0.5);
    }

    #[test]
    fn other_backends_shared_and_strided_tensors_are_handed_back() {
        let nd = Tensor::<burn::backend::NdArray, 1>::from_floats([1.0, 2.0], &Default::default());
        let (a, b) = lerp_into_both(nd.clone(), nd, 0.5).expect_err("NdArray");
        assert_eq!(bits(a), bits(b));
        let device = Default::default();
        let flex = Tensor::<Flex, 1>::from_floats([1.0, 2.0], &device);
        let (a, _) = lerp_into_both(flex.clone(), own(&flex), 0.5).expect_err("shared");
        assert_eq!(bits(a), bits(flex));
        let m = Tensor::<Flex, 2>::from_floats([[1.0, 2.0], [3.0, 4.0]], &device);
        let t = own(&m).transpose();
        assert!(
            lerp_into_both(own(&m), t, 0.5).is_err(),
            "a transposed `to`"
        );
    }
}
