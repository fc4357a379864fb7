//! lookahead-burn patch: a 2-d convolution and both its gradients as im2col/col2im + GEMM.
//!
//! burn-flex 0.21 computes a convolution's gradients with Burn's generic composition: the input
//! gradient as a transposed convolution, the weight gradient as a convolution of the input by
//! the output gradient with batch and channels swapped (shapes its im2col path suits badly).
//! Here all three are one GEMM each over blocks of samples, in NCHW/OIHW as Flex stores them.
//! With `K = (c_in / groups)·kh·kw` and `P` the block's output positions (samples × oh × ow),
//! per group:
//!
//! ```text
//! col   [K × P]     = im2col(x)                  (row (ci, ki, kj), column (n, oh, ow))
//! y     [c_out × P] = W [c_out × K] · col
//! dcol  [K × P]     = Wᵀ · dy,   dx = col2im(dcol)      (scatter-add of each row back)
//! dW    [c_out × K] = Σ_blocks dy [c_out × P] · colᵀ     (colᵀ built directly: `im2row`)
//! ```
//!
//! Samples are split into one contiguous part per thread; each part walks its samples in blocks
//! of about `TARGET_COLUMNS` output positions (so the GEMMs stay large when the spatial size is
//! small) and runs single-threaded GEMMs; weight-gradient parts are summed at the end.

use crate::{FlexTensor, Layout};
use alloc::vec;
use alloc::vec::Vec;
use burn_backend::DType;
use burn_backend::ops::ConvOptions;
use burn_backend::ops::conv::calculate_conv_output_size;
use burn_std::{Bytes, Shape, bf16, f16};
use num_traits::Zero;

/// Output positions per GEMM block (fewer when a part has fewer samples).
const TARGET_COLUMNS: usize = 2048;

/// The element types with a GEMM kernel (bf16 goes through f32).
pub(crate) trait GemmElement:
    bytemuck::Pod + Zero + core::ops::AddAssign + Send + Sync + 'static + burn_backend::Element
{
    /// 1, the factor of the GEMM's product.
    fn one() -> Self;
}
impl GemmElement for f32 {
    fn one() -> Self {
        1.0
    }
}
impl GemmElement for f64 {
    fn one() -> Self {
        1.0
    }
}
impl GemmElement for f16 {
    fn one() -> Self {
        f16::ONE
    }
}

/// The sizes of one convolution (NCHW input, OIHW weight).
#[derive(Clone, Copy, Debug)]
struct Geometry {
    batch: usize,
    c_in: usize,
    h: usize,
    w: usize,
    c_out: usize,
    kh: usize,
    kw: usize,
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
    out_h: usize,
    out_w: usize,
}

impl Geometry {
    fn new(x: &[usize], weight: &[usize], options: &ConvOptions<2>) -> Self {
        let [kh, kw] = [weight[2], weight[3]];
        let out = |i: usize, k: usize, size: usize| {
            let [s, p, d] = [options.stride[i], options.padding[i], options.dilation[i]];
            calculate_conv_output_size(k, s, p, d, size)
        };
        Self {
            batch: x[0],
            c_in: x[1],
            h: x[2],
            w: x[3],
            c_out: weight[0],
            kh,
            kw,
            stride: options.stride,
            padding: options.padding,
            dilation: options.dilation,
            groups: options.groups,
            out_h: out(0, kh, x[2]),
            out_w: out(1, kw, x[3]),
        }
    }
    fn cin_g(&self) -> usize {
        self.c_in / self.groups
    }
    fn cout_g(&self) -> usize {
        self.c_out / self.groups
    }
    /// Rows of a group's im2col matrix.
    fn k_g(&self) -> usize {
        self.cin_g() * self.kh * self.kw
    }
    fn hw_in(&self) -> usize {
        self.h * self.w
    }
    fn hw_out(&self) -> usize {
        self.out_h * self.out_w
    }
    /// Samples per thread's part, and per GEMM block inside a part.
    fn split(&self) -> (usize, usize) {
        let part = self.batch.div_ceil(threads()).max(1);
        let block = (TARGET_COLUMNS / self.hw_out().max(1)).clamp(1, part);
        (part, block)
    }
}

#[cfg(feature = "rayon")]
fn threads() -> usize {
    rayon::current_num_threads()
}
#[cfg(not(feature = "rayon"))]
fn threads() -> usize {
    1
}

/// Runs `f(first_sample, samples, out_part)` on disjoint parts of `out` (`per_sample` values per
/// sample), one per thread.
fn for_each_part<T: Send>(
    out: &mut [T],
    per_sample: usize,
    part: usize,
    f: impl Fn(usize, usize, &mut [T]) + Send + Sync,
) {
    let chunk = (part * per_sample).max(1);
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        out.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, o)| f(i * part, o.len() / per_sample.max(1), o));
    }
    #[cfg(not(feature = "rayon"))]
    out.chunks_mut(chunk)
        .enumerate()
        .for_each(|(i, o)| f(i * part, o.len() / per_sample.max(1), o));
}

/// `dst [m × n] = (accumulate ? dst : 0) + lhs [m × k] · rhs [k × n]`; every matrix given as
/// (data, row stride, column stride), `dst` row-major.
#[allow(clippy::too_many_arguments)]
fn matmul<T: GemmElement>(
    [m, n, k]: [usize; 3],
    dst: &mut [T],
    accumulate: bool,
    (lhs, lhs_rs, lhs_cs): (&[T], usize, usize),
    (rhs, rhs_rs, rhs_cs): (&[T], usize, usize),
) {
    debug_assert!(dst.len() >= m * n);
    debug_assert!(m == 0 || k == 0 || lhs.len() > (m - 1) * lhs_rs + (k - 1) * lhs_cs);
    debug_assert!(n == 0 || k == 0 || rhs.len() > (k - 1) * rhs_rs + (n - 1) * rhs_cs);
    // SAFETY: the three matrices lie inside their slices (checked above in debug builds, and by
    // construction: every caller passes the shapes its buffers were allocated with); `dst`
    // does not alias the inputs (it is a `&mut`).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            T::one(),
            T::one(),
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// For one output row (fixed oh, ki, kj): the range of `ow` whose input column
/// `ow·stride + kj·dilation − padding` lies inside `[0, w)`, and that column at `ow = 0`.
fn valid_columns(geo: &Geometry, kj: usize) -> (usize, usize, isize) {
    let first = (kj * geo.dilation[1]) as isize - geo.padding[1] as isize;
    let s = geo.stride[1] as isize;
    let lo = if first >= 0 { 0 } else { ((-first) + s - 1) / s };
    let hi = if first >= geo.w as isize {
        0
    } else {
        ((geo.w as isize - first + s - 1) / s) as usize
    };
    let lo = (lo as usize).min(geo.out_w);
    (lo, hi.min(geo.out_w).max(lo), first)
}

/// The input row `oh·stride + ki·dilation − padding`, if inside the image.
fn input_row(geo: &Geometry, oh: usize, ki: usize) -> Option<usize> {
    let ih = (oh * geo.stride[0] + ki * geo.dilation[0]) as isize - geo.padding[0] as isize;
    (ih >= 0 && (ih as usize) < geo.h).then_some(ih as usize)
}

/// Visits every (im2col row, sample, output row) of a block with its start in `col`, the start
/// of the input row it reads, and the row's [`valid_columns`] (computed once per kernel
/// column), for im2col and col2im alike.
fn walk_block(
    geo: &Geometry,
    group: usize,
    first: usize,
    samples: usize,
    mut visit: impl FnMut(usize, Option<usize>, (usize, usize, isize)),
) {
    let columns = samples * geo.hw_out();
    for ci in 0..geo.cin_g() {
        let channel = group * geo.cin_g() + ci;
        for ki in 0..geo.kh {
            for kj in 0..geo.kw {
                let row = (ci * geo.kh + ki) * geo.kw + kj;
                let valid = valid_columns(geo, kj);
                for s in 0..samples {
                    let plane = ((first + s) * geo.c_in + channel) * geo.hw_in();
                    for oh in 0..geo.out_h {
                        let at = row * columns + s * geo.hw_out() + oh * geo.out_w;
                        let source = input_row(geo, oh, ki).map(|ih| plane + ih * geo.w);
                        visit(at, source, valid);
                    }
                }
            }
        }
    }
}

/// `col [K × samples·hw_out]` of samples `first..first + samples`, channels of `group`.
fn im2col<T: GemmElement>(
    geo: &Geometry,
    x: &[T],
    group: usize,
    first: usize,
    samples: usize,
    col: &mut [T],
) {
    let s = geo.stride[1];
    walk_block(geo, group, first, samples, |at, source, (lo, hi, iw0)| {
        let dst = &mut col[at..at + geo.out_w];
        let Some(start) = source else {
            dst.fill(T::zero());
            return;
        };
        dst[..lo].fill(T::zero());
        dst[hi..].fill(T::zero());
        // The input column of `ow = lo`, inside the image by construction.
        let from = (start as isize + iw0 + (lo * s) as isize) as usize;
        if s == 1 {
            dst[lo..hi].copy_from_slice(&x[from..from + hi - lo]);
        } else {
            for (ow, d) in dst[lo..hi].iter_mut().enumerate() {
                *d = x[from + ow * s];
            }
        }
    });
}

/// Adds `dcol [K × samples·hw_out]` back into `dx` (samples `first..`, offset so that `dx`
/// starts at sample `first`), channels of `group`: the adjoint of [`im2col`].
fn col2im<T: GemmElement>(
    geo: &Geometry,
    dcol: &[T],
    group: usize,
    first: usize,
    samples: usize,
    dx: &mut [T],
) {
    let s = geo.stride[1];
    let offset = first * geo.c_in * geo.hw_in();
    walk_block(geo, group, first, samples, |at, source, (lo, hi, iw0)| {
        let Some(start) = source else { return };
        // The input column of `ow = lo`, inside the image by construction.
        let to = (start as isize + iw0 + (lo * s) as isize) as usize - offset;
        for (ow, &v) in dcol[at + lo..at + hi].iter().enumerate() {
            dx[to + ow * s] += v;
        }
    });
}

/// `dy [cout_g × samples·hw_out]` of `group`, gathered from NCHW `dy` (samples `first..`).
fn gather_output<T: GemmElement>(
    geo: &Geometry,
    dy: &[T],
    group: usize,
    first: usize,
    samples: usize,
    out: &mut [T],
) {
    let (hw, columns) = (geo.hw_out(), samples * geo.hw_out());
    for co in 0..geo.cout_g() {
        for s in 0..samples {
            let from = ((first + s) * geo.c_out + group * geo.cout_g() + co) * hw;
            out[co * columns + s * hw..][..hw].copy_from_slice(&dy[from..from + hw]);
        }
    }
}

/// The blocks of a part: `(first sample, samples)`.
fn blocks(first: usize, samples: usize, block: usize) -> impl Iterator<Item = (usize, usize)> {
    (first..first + samples)
        .step_by(block.max(1))
        .map(move |b| (b, block.min(first + samples - b)))
}

fn forward<T: GemmElement>(geo: &Geometry, x: &[T], weight: &[T]) -> Vec<T> {
    let (hw, k_g, cout_g) = (geo.hw_out(), geo.k_g(), geo.cout_g());
    let (part, block) = geo.split();
    let mut y = vec![T::zero(); geo.batch * geo.c_out * hw];
    for_each_part(&mut y, geo.c_out * hw, part, |first, samples, y_part| {
        let mut col = vec![T::zero(); k_g * block * hw];
        let mut out = vec![T::zero(); cout_g * block * hw];
        for (b, n) in blocks(first, samples, block) {
            let columns = n * hw;
            for group in 0..geo.groups {
                im2col(geo, x, group, b, n, &mut col);
                let w_g = &weight[group * cout_g * k_g..];
                let lhs = (w_g, k_g, 1);
                matmul([cout_g, columns, k_g], &mut out, false, lhs, (&col, columns, 1));
                for co in 0..cout_g {
                    for s in 0..n {
                        let to = ((b - first + s) * geo.c_out + group * cout_g + co) * hw;
                        y_part[to..to + hw].copy_from_slice(&out[co * columns + s * hw..][..hw]);
                    }
                }
            }
        }
    });
    y
}

fn x_backward<T: GemmElement>(geo: &Geometry, weight: &[T], dy: &[T]) -> Vec<T> {
    let (hw, k_g, cout_g) = (geo.hw_out(), geo.k_g(), geo.cout_g());
    let (part, block) = geo.split();
    let mut dx = vec![T::zero(); geo.batch * geo.c_in * geo.hw_in()];
    for_each_part(&mut dx, geo.c_in * geo.hw_in(), part, |first, samples, dx_part| {
        let mut dcol = vec![T::zero(); k_g * block * hw];
        let mut g = vec![T::zero(); cout_g * block * hw];
        for (b, n) in blocks(first, samples, block) {
            let columns = n * hw;
            for group in 0..geo.groups {
                gather_output(geo, dy, group, b, n, &mut g);
                // Wᵀ: row kk, column co of the group's [cout_g × K] weight block.
                let lhs = (&weight[group * cout_g * k_g..], 1, k_g);
                matmul([k_g, columns, cout_g], &mut dcol, false, lhs, (&g, columns, 1));
                let offset = (b - first) * geo.c_in * geo.hw_in();
                col2im(geo, &dcol, group, b, n, &mut dx_part[offset..]);
            }
        }
    });
    dx
}

/// `x` as `[n, h, w, c]` (channels last): one kernel tap of all a group's channels is then one
/// contiguous run, for [`im2row`].
fn channels_last<T: GemmElement>(geo: &Geometry, x: &[T]) -> Vec<T> {
    let (c, hw) = (geo.c_in, geo.hw_in());
    let mut out = vec![T::zero(); x.len()];
    for_each_part(&mut out, c * hw, geo.split().0, |first, samples, out| {
        for s in 0..samples {
            let from = &x[(first + s) * c * hw..][..c * hw];
            let to = &mut out[s * c * hw..][..c * hw];
            for (ch, plane) in from.chunks_exact(hw).enumerate() {
                for (p, &v) in plane.iter().enumerate() {
                    to[p * c + ch] = v;
                }
            }
        }
    });
    out
}

/// `rows [samples·hw_out × K']` of samples `first..`, channels of `group`, with `K'` ordered
/// (ki, kj, ci): the transpose of [`im2col`]'s matrix up to that order, built from the
/// channels-last input so that each (position, tap) is one copy of `c_in / groups` values.
fn im2row<T: GemmElement>(
    geo: &Geometry,
    x_cl: &[T],
    group: usize,
    first: usize,
    samples: usize,
    rows: &mut [T],
) {
    let (k_g, cin_g) = (geo.k_g(), geo.cin_g());
    let positions = (0..samples).flat_map(|s| (0..geo.out_h).map(move |oh| (s, oh)));
    for (i, (s, oh)) in positions.enumerate() {
        for ow in 0..geo.out_w {
            let row = &mut rows[(i * geo.out_w + ow) * k_g..][..k_g];
            for ki in 0..geo.kh {
                let ih = input_row(geo, oh, ki);
                for kj in 0..geo.kw {
                    let dst = &mut row[(ki * geo.kw + kj) * cin_g..][..cin_g];
                    let iw = (ow * geo.stride[1] + kj * geo.dilation[1]) as isize
                        - geo.padding[1] as isize;
                    match ih {
                        Some(ih) if iw >= 0 && (iw as usize) < geo.w => {
                            let pixel = ((first + s) * geo.h + ih) * geo.w + iw as usize;
                            let from = pixel * geo.c_in + group * cin_g;
                            dst.copy_from_slice(&x_cl[from..from + cin_g]);
                        }
                        _ => dst.fill(T::zero()),
                    }
                }
            }
        }
    }
}

/// `dW = Σ dy · colᵀ`, with `colᵀ` built as [`im2row`]'s row-major matrix: the GEMM then reads
/// both operands along their contiguous axis (with `col` as a strided transpose instead, it ran
/// at a quarter of the speed).
fn weight_backward<T: GemmElement>(geo: &Geometry, x: &[T], dy: &[T]) -> Vec<T> {
    let (hw, k_g, cout_g) = (geo.hw_out(), geo.k_g(), geo.cout_g());
    let (part, block) = geo.split();
    let x_cl = channels_last(geo, x);
    let len = geo.c_out * k_g;
    let parts = geo.batch.div_ceil(part.max(1));
    // One partial gradient per part (a row of `partials`), in (co, ki, kj, ci) order.
    let mut partials = vec![T::zero(); parts * len];
    for_each_part(&mut partials, len, 1, |index, _, dw| {
        let first = index * part;
        let samples = part.min(geo.batch - first);
        let mut rows = vec![T::zero(); block * hw * k_g];
        let mut g = vec![T::zero(); cout_g * block * hw];
        for (i, (b, n)) in blocks(first, samples, block).enumerate() {
            let columns = n * hw;
            for group in 0..geo.groups {
                im2row(geo, &x_cl, group, b, n, &mut rows);
                gather_output(geo, dy, group, b, n, &mut g);
                let dw_g = &mut dw[group * cout_g * k_g..(group + 1) * cout_g * k_g];
                let shape = [cout_g, k_g, columns];
                matmul(shape, dw_g, i > 0, (&g, columns, 1), (&rows, k_g, 1));
            }
        }
    });
    // Sum the parts, and reorder each filter from (ki, kj, ci) to Burn's (ci, ki, kj).
    let (taps, cin_g) = (geo.kh * geo.kw, geo.cin_g());
    let mut dw = vec![T::zero(); len];
    for partial in partials.chunks(len) {
        for (co, filter) in partial.chunks_exact(k_g).enumerate() {
            for (tap, channels) in filter.chunks_exact(cin_g).enumerate() {
                for (ci, &v) in channels.iter().enumerate() {
                    dw[co * k_g + ci * taps + tap] += v;
                }
            }
        }
    }
    dw
}

/// Which of the three functions to compute.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conv2dPass {
    /// `y = conv2d(x, weight)` (no bias: the caller adds it).
    Forward,
    /// The gradient of `x` given the output's.
    InputGrad,
    /// The gradient of `weight` given the output's.
    WeightGrad,
}

fn run<T: GemmElement>(
    pass: Conv2dPass,
    a: &FlexTensor,
    b: &FlexTensor,
    geo: &Geometry,
    dtype: DType,
) -> FlexTensor {
    let (a, b): (&[T], &[T]) = (a.storage(), b.storage());
    let (data, shape) = match pass {
        Conv2dPass::Forward => (
            forward(geo, a, b),
            [geo.batch, geo.c_out, geo.out_h, geo.out_w],
        ),
        Conv2dPass::InputGrad => (x_backward(geo, a, b), [geo.batch, geo.c_in, geo.h, geo.w]),
        Conv2dPass::WeightGrad => (
            weight_backward(geo, a, b),
            [geo.c_out, geo.cin_g(), geo.kh, geo.kw],
        ),
    };
    FlexTensor::new(
        Bytes::from_elems(data),
        Layout::contiguous(Shape::from(shape.to_vec())),
        dtype,
    )
}

/// One pass of a 2-d convolution: `Forward` and `WeightGrad` read `(x, weight)` and
/// `(x, output_grad)`, `InputGrad` reads `(weight, output_grad)`; `x` and `weight` give the
/// geometry. f32, f64 and f16 run in their own type, bf16 through f32.
pub(crate) fn conv2d_gemm(
    pass: Conv2dPass,
    x: &FlexTensor,
    weight: &FlexTensor,
    output_grad: Option<&FlexTensor>,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let geo = Geometry::new(x.layout().shape(), weight.layout().shape(), options);
    let (a, b) = match (pass, output_grad) {
        (Conv2dPass::Forward, _) => (x, weight),
        (Conv2dPass::InputGrad, Some(g)) => (weight, g),
        (Conv2dPass::WeightGrad, Some(g)) => (x, g),
        (_, None) => panic!("conv2d backward: no output gradient"),
    };
    let (a, b) = (a.to_contiguous(), b.to_contiguous());
    match a.dtype() {
        DType::F32 => run::<f32>(pass, &a, &b, &geo, DType::F32),
        DType::F64 => run::<f64>(pass, &a, &b, &geo, DType::F64),
        DType::F16 => run::<f16>(pass, &a, &b, &geo, DType::F16),
        DType::BF16 => {
            use crate::ops::module::{cast_from_f32, cast_to_f32};
            let (a, b) = (cast_to_f32(a, bf16::to_f32), cast_to_f32(b, bf16::to_f32));
            cast_from_f32(run::<f32>(pass, &a, &b, &geo, DType::F32), bf16::from_f32)
        }
        dtype => panic!("conv2d: unsupported dtype {dtype:?}"),
    }
}
