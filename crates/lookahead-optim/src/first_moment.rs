//! Typed access to an inner optimizer's first-moment (momentum) buffer, for Lookahead's
//! [`InnerStatePolicy::Pullback`](crate::InnerStatePolicy::Pullback).
//!
//! [`Lookahead`](crate::Lookahead) accepts any inner optimizer implementing [`FirstMoment`]. The
//! optimizers with a first moment implement it by naming their buffer: Burn's [`Adam`] and
//! [`AdamW`] and this crate's [`RAdam`] through their public `moment_1` fields, Burn's [`Sgd`]
//! and [`RmsProp`] through their `velocity`/`buf` fields. Those two are private in burn-optim
//! 0.21.0: with the crate's `patched-burn-optim` feature (which needs burn-optim patched to make
//! them public, as this repository's workspace does) they are read and written on the device;
//! without it, through the public fields of their derived record items, a device → host → device
//! copy at each Pullback sync. Zeroing never reads a buffer: zeros are made in the parameter's
//! shape. Every access is typed: a rename in Burn is a compile error here, never a silent miss at
//! run time. Any other
//! optimizer is wrapped in [`NoFirstMoment`], which refuses `Pullback` when the Lookahead is
//! built.

use burn::optim::momentum::MomentumState;
use burn::optim::{
    Adam, AdamState, AdamW, AdamWState, LearningRate, RmsProp, RmsPropMomentumState, RmsPropState,
    Sgd, SgdState, SimpleOptimizer,
};
#[cfg(not(feature = "patched-burn-optim"))]
use burn::record::Record;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::{ConfigError, RAdam, RAdamState};

/// A per-tensor optimizer whose state may carry a first-moment (momentum) buffer `m`.
///
/// ```
/// use burn::backend::NdArray;
/// use burn::optim::{Adam, AdamConfig, SimpleOptimizer};
/// use burn::tensor::Tensor;
/// use lookahead_optim::FirstMoment;
///
/// let adam = AdamConfig::new().build();
/// let x = Tensor::<NdArray, 1>::from_floats([1.0, -2.0], &Default::default());
/// let (_, state) = adam.step(0.1, x.clone(), x.ones_like(), None);
/// // Halve Adam's m, keep its v and step count.
/// let state = state.expect("Adam keeps a state");
/// let halved = <Adam as FirstMoment<NdArray>>::map_first_moment::<1>(
///     state,
///     &Default::default(),
///     |m| m.mul_scalar(0.5),
/// );
/// assert!(halved.is_ok());
/// ```
pub trait FirstMoment<B: Backend>: SimpleOptimizer<B> {
    /// Checks, from the optimizer's configuration, that its states carry a first-moment buffer;
    /// the error names the optimizer. Called when a Lookahead with `Pullback` is built. The
    /// default (`Ok`) suits optimizers that always have one or cannot tell (Burn's [`Sgd`] and
    /// [`RmsProp`] hide whether they were built with momentum).
    fn check_first_moment(&self) -> Result<(), ConfigError> {
        Ok(())
    }

    /// `state` with its first-moment buffer `m` replaced by `f(m)`; `Err(state)`, untouched, when
    /// the state holds none (SGD or RMSProp built without momentum). `device` is the
    /// parameter's, where a buffer read back from a record is rebuilt.
    fn map_first_moment<const D: usize>(
        state: Self::State<D>,
        device: &B::Device,
        f: impl FnOnce(Tensor<B, D>) -> Tensor<B, D>,
    ) -> Result<Self::State<D>, Self::State<D>>;

    /// `state` with every moment buffer (first and second moments, momentum, square averages)
    /// set to zero and everything else, step counts included, kept: the seed study's "reset"
    /// ([`InnerStatePolicy::ZeroMoments`](crate::InnerStatePolicy::ZeroMoments)). `like` has the
    /// parameter's shape, dtype and device (the new slow weights): a buffer the state does not
    /// expose is replaced by zeros made from it, so nothing is read.
    fn zero_moments<const D: usize>(state: Self::State<D>, like: &Tensor<B, D>) -> Self::State<D>;
}

/// `t` replaced by zeros of its shape, dtype and device, without reading it (on Flex, filled in
/// place when nothing else holds it).
fn zero<B: Backend, const D: usize>(t: Tensor<B, D>) -> Tensor<B, D> {
    #[cfg(feature = "flex")]
    return crate::flex_sync::zeroed(t);
    #[cfg(not(feature = "flex"))]
    t.zeros_like()
}

/// Adam's and AdamW's moments zeroed (the AMSGrad maximum too), the step count `time` kept.
fn zero_adaptive<B: Backend, const D: usize>(
    mut m: burn::optim::AdaptiveMomentumState<B, D>,
) -> burn::optim::AdaptiveMomentumState<B, D> {
    m.moment_1 = zero(m.moment_1);
    m.moment_2 = zero(m.moment_2);
    m.max_moment_2 = m.max_moment_2.map(zero);
    m
}

impl<B: Backend> FirstMoment<B> for Adam {
    fn map_first_moment<const D: usize>(
        mut state: AdamState<B, D>,
        _device: &B::Device,
        f: impl FnOnce(Tensor<B, D>) -> Tensor<B, D>,
    ) -> Result<AdamState<B, D>, AdamState<B, D>> {
        state.momentum.moment_1 = f(state.momentum.moment_1);
        Ok(state)
    }

    fn zero_moments<const D: usize>(
        mut state: AdamState<B, D>,
        _like: &Tensor<B, D>,
    ) -> AdamState<B, D> {
        state.momentum = zero_adaptive(state.momentum);
        state
    }
}

impl<B: Backend> FirstMoment<B> for AdamW {
    fn map_first_moment<const D: usize>(
        mut state: AdamWState<B, D>,
        _device: &B::Device,
        f: impl FnOnce(Tensor<B, D>) -> Tensor<B, D>,
    ) -> Result<AdamWState<B, D>, AdamWState<B, D>> {
        state.momentum.moment_1 = f(state.momentum.moment_1);
        Ok(state)
    }

    fn zero_moments<const D: usize>(
        mut state: AdamWState<B, D>,
        _like: &Tensor<B, D>,
    ) -> AdamWState<B, D> {
        state.momentum = zero_adaptive(state.momentum);
        state
    }
}

impl<B: Backend> FirstMoment<B> for RAdam {
    fn map_first_moment<const D: usize>(
        mut state: RAdamState<B, D>,
        _device: &B::Device,
        f: impl FnOnce(Tensor<B, D>) -> Tensor<B, D>,
    ) -> Result<RAdamState<B, D>, RAdamState<B, D>> {
        state.moment_1 = f(state.moment_1);
        Ok(state)
    }

    fn zero_moments<const D: usize>(
        mut state: RAdamState<B, D>,
        _like: &Tensor<B, D>,
    ) -> RAdamState<B, D> {
        state.moment_1 = zero(state.moment_1);
        state.moment_2 = zero(state.moment_2);
        state
    }
}

/// Takes tensor field `$field` out of Burn record `$record`. With `patched-burn-optim` the field
/// is public and moved out as it is, on its device.
#[cfg(feature = "patched-burn-optim")]
macro_rules! take_field {
    ($record:expr, $field:ident, $device:expr) => {{
        let _ = $device;
        $record.$field
    }};
}

/// Zeros in place of tensor field `$field` of Burn record `$record` (on Flex, the buffer itself
/// filled when nothing else holds it).
#[cfg(feature = "patched-burn-optim")]
macro_rules! zero_field {
    ($record:expr, $field:ident, $like:expr) => {{
        let _ = $like;
        zero($record.$field)
    }};
}

/// Without `patched-burn-optim`: zeros of the parameter's shape made from `$like`; the private
/// field is dropped unread.
#[cfg(not(feature = "patched-burn-optim"))]
macro_rules! zero_field {
    ($record:expr, $field:ident, $like:expr) => {{
        let _ = $record;
        $like.zeros_like()
    }};
}

/// Takes tensor field `$field` out of Burn record `$record` through its derived record item,
/// whose fields are public, rebuilding the tensor on `$device`. Record items are host data at a
/// chosen precision: f32 items carry f32 and narrower float types unchanged, f64 backends need
/// f64 items. This is a device → host → device copy, taken at each Pullback sync, for SGD and
/// RMSProp only, when burn-optim is not patched.
#[cfg(not(feature = "patched-burn-optim"))]
macro_rules! take_field {
    ($record:expr, $field:ident, $device:expr) => {
        if <B::FloatElem as burn::tensor::Element>::dtype() == burn::tensor::DType::F64 {
            let item = $record.into_item::<burn::record::DoublePrecisionSettings>();
            Tensor::from_item::<burn::record::DoublePrecisionSettings>(item.$field, $device)
        } else {
            let item = $record.into_item::<burn::record::FullPrecisionSettings>();
            Tensor::from_item::<burn::record::FullPrecisionSettings>(item.$field, $device)
        }
    };
}

/// Burn's SGD: the momentum `velocity` (see `take_field!`), written back with
/// `MomentumState::new`. An SGD without momentum has no buffer.
///
/// Measured alternative, not taken: reading the velocity on the device through Burn's public
/// `Momentum::transform` as an identity (μ = 1, dampening 1, a broadcast −0 gradient: bit-exact)
/// made Pullback over SGD 2.4–3.9× the inner step on Flex (the broadcast add is slow there).
impl<B: Backend> FirstMoment<B> for Sgd<B> {
    fn map_first_moment<const D: usize>(
        state: SgdState<B, D>,
        device: &B::Device,
        f: impl FnOnce(Tensor<B, D>) -> Tensor<B, D>,
    ) -> Result<SgdState<B, D>, SgdState<B, D>> {
        let Some(momentum) = state.momentum else {
            return Err(state);
        };
        let velocity = take_field!(momentum, velocity, device);
        Ok(SgdState::new(Some(MomentumState::new(f(velocity)))))
    }

    /// The velocity zeroed: the next step's is `μ·0 + (1 − dampening)·g`, i.e. the gradient
    /// itself without dampening (PyTorch's `momentum_buffer.fill_(0)` of the seed study).
    fn zero_moments<const D: usize>(state: SgdState<B, D>, like: &Tensor<B, D>) -> SgdState<B, D> {
        let momentum = state
            .momentum
            .map(|m| MomentumState::new(zero_field!(m, velocity, like)));
        SgdState::new(momentum)
    }
}

/// Burn's RMSProp: the momentum `buf` (see `take_field!`), written back with `RmsPropMomentumState::new`; the square
/// average and the centred state are kept. An RMSProp with momentum 0 has no buffer.
impl<B: Backend> FirstMoment<B> for RmsProp {
    fn map_first_moment<const D: usize>(
        mut state: RmsPropState<B, D>,
        device: &B::Device,
        f: impl FnOnce(Tensor<B, D>) -> Tensor<B, D>,
    ) -> Result<RmsPropState<B, D>, RmsPropState<B, D>> {
        let Some(momentum) = state.momentum.take() else {
            return Err(state);
        };
        let buf = take_field!(momentum, buf, device);
        state.momentum = Some(RmsPropMomentumState::new(f(buf)));
        Ok(state)
    }

    /// The square average, the centred averages and the momentum buffer zeroed.
    fn zero_moments<const D: usize>(
        mut state: RmsPropState<B, D>,
        like: &Tensor<B, D>,
    ) -> RmsPropState<B, D> {
        state.momentum = state
            .momentum
            .map(|m| RmsPropMomentumState::new(zero_field!(m, buf, like)));
        state.square_avg.square_avg = zero(state.square_avg.square_avg);
        state.centered.avg = zero(state.centered.avg);
        state.centered.grad_avg = state.centered.grad_avg.map(zero);
        state
    }
}

/// Any per-tensor optimizer without a first-moment buffer (AdaGrad, a custom optimizer), made
/// usable by [`Lookahead`](crate::Lookahead) with `Keep` or `Reset`; `Pullback` is refused when
/// the Lookahead is built.
///
/// ```
/// use burn::backend::NdArray;
/// use burn::optim::AdaGradConfig;
/// use lookahead_optim::{InnerStatePolicy, LookaheadConfig, NoFirstMoment};
///
/// let adagrad = NoFirstMoment(AdaGradConfig::new().build());
/// let config = LookaheadConfig::new();
/// assert!(config.build::<NdArray, _>(adagrad.clone()).is_ok());
/// let pullback = config.with_inner_state(InnerStatePolicy::Pullback);
/// assert!(pullback.build::<NdArray, _>(adagrad).is_err());
/// ```
///
/// Without the wrapper, an optimizer that has no first moment is refused at compile time:
///
/// ```compile_fail
/// use burn::backend::NdArray;
/// use burn::optim::AdaGradConfig;
/// use lookahead_optim::LookaheadConfig;
///
/// let _ = LookaheadConfig::new().build::<NdArray, _>(AdaGradConfig::new().build());
/// ```
#[derive(Clone, Debug)]
pub struct NoFirstMoment<O>(pub O);

impl<B: Backend, O: SimpleOptimizer<B>> SimpleOptimizer<B> for NoFirstMoment<O> {
    type State<const D: usize> = O::State<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        self.0.step(lr, tensor, grad, state)
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        O::to_device(state, device)
    }
}

impl<B: Backend, O: SimpleOptimizer<B>> FirstMoment<B> for NoFirstMoment<O> {
    fn check_first_moment(&self) -> Result<(), ConfigError> {
        Err(ConfigError::PullbackUnsupported {
            optimizer: std::any::type_name::<O>(),
        })
    }

    fn map_first_moment<const D: usize>(
        state: O::State<D>,
        _device: &B::Device,
        _f: impl FnOnce(Tensor<B, D>) -> Tensor<B, D>,
    ) -> Result<O::State<D>, O::State<D>> {
        Err(state)
    }

    /// Unreachable through [`Lookahead`](crate::Lookahead), which refuses `ZeroMoments` for
    /// this wrapper when built; the state is returned as it is.
    fn zero_moments<const D: usize>(state: O::State<D>, _like: &Tensor<B, D>) -> O::State<D> {
        state
    }
}

#[cfg(test)]
mod tests {
    use burn::backend::Flex;
    use burn::optim::{RmsPropConfig, SgdConfig};
    use burn::record::{FullPrecisionSettings, Record};
    use burn::tensor::TensorData;

    use super::*;
    use crate::test_util::{TB, sgd_momentum};
    use burn::optim::momentum::MomentumConfig;

    /// The velocity Burn's SGD keeps, read through its record item (the reference path).
    fn velocity<B: Backend, const D: usize>(state: SgdState<B, D>) -> Vec<f32> {
        let item = state
            .momentum
            .expect("SGD with momentum")
            .into_item::<FullPrecisionSettings>();
        Tensor::<B, D>::from_item::<FullPrecisionSettings>(item.velocity, &Default::default())
            .into_data()
            .to_vec::<f32>()
            .expect("f32 velocity")
    }

    /// A rank-2 SGD state whose velocity holds −0, +0, a subnormal, ±large and ordinary values.
    fn sgd_state<B: Backend>() -> (Sgd<B>, SgdState<B, 2>, Vec<f32>) {
        let momentum = MomentumConfig::new().with_momentum(0.9).with_dampening(0.0);
        let sgd = SgdConfig::new().with_momentum(Some(momentum)).build();
        let grad = [-0.0, 0.0, 1e-40, -3.0e38, 3.0e38, 0.25];
        let device = Default::default();
        let x = Tensor::<B, 2>::zeros([2, 3], &device);
        let g = Tensor::<B, 2>::from_data(TensorData::new(grad.to_vec(), [2, 3]), &device);
        // First step: velocity = gradient, exactly.
        let (_, state) = sgd.step(0.1, x, g, None);
        (sgd, state.expect("momentum state"), grad.to_vec())
    }

    fn sgd_identity_is_bit_exact<B: Backend>() {
        let (_, state, grad) = sgd_state::<B>();
        let expected: Vec<u32> = grad.iter().map(|v| v.to_bits()).collect();
        assert_eq!(
            velocity(state.clone())
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>(),
            expected
        );
        let same = <Sgd<B> as FirstMoment<B>>::map_first_moment(state, &Default::default(), |m| m)
            .ok()
            .expect("a momentum buffer");
        let bits: Vec<u32> = velocity(same).iter().map(|v| v.to_bits()).collect();
        assert_eq!(bits, expected);
    }

    #[test]
    fn sgd_velocity_is_read_back_bit_for_bit() {
        sgd_identity_is_bit_exact::<TB>();
        sgd_identity_is_bit_exact::<Flex>();
    }

    #[test]
    fn sgd_velocity_is_mapped_and_written_back() {
        let (sgd, state, _) = sgd_state::<TB>();
        let halved =
            <Sgd<TB> as FirstMoment<TB>>::map_first_moment(state, &Default::default(), |m| {
                m.mul_scalar(0.5)
            })
            .ok()
            .expect("a momentum buffer");
        assert_eq!(velocity(halved.clone())[5], 0.125);
        // The next step sees the halved velocity: v = 0.9·0.125 + 1·g.
        let x = Tensor::<TB, 2>::zeros([2, 3], &Default::default());
        let (_, next) = sgd.step(0.1, x.clone(), x.ones_like(), Some(halved));
        assert_eq!(velocity(next.expect("state"))[5], 0.9f32 * 0.125 + 1.0);
        // Same buffer through the nesterov helper of the crate's tests: a 1-D state maps too.
        let sgd1 = sgd_momentum(true);
        let x1 = Tensor::<TB, 1>::from_floats([1.0], &Default::default());
        let (_, s1) = sgd1.step(0.1, x1.clone(), x1.ones_like(), None);
        let mapped = <Sgd<TB> as FirstMoment<TB>>::map_first_moment(
            s1.expect("state"),
            &Default::default(),
            |m| m.mul_scalar(2.0),
        );
        assert_eq!(velocity(mapped.ok().expect("a buffer")), vec![2.0]);
    }

    #[test]
    fn sgd_and_rmsprop_without_momentum_have_no_buffer() {
        let x = Tensor::<TB, 1>::from_floats([1.0, 2.0], &Default::default());
        let sgd = SgdConfig::new().build::<TB>();
        let (_, state) = sgd.step(0.1, x.clone(), x.ones_like(), None);
        if let Some(state) = state {
            let kept =
                <Sgd<TB> as FirstMoment<TB>>::map_first_moment(state, &Default::default(), |m| m);
            assert!(kept.is_err());
        }
        let rms = RmsPropConfig::new().with_momentum(0.0).build();
        let (_, state) =
            <RmsProp as SimpleOptimizer<TB>>::step(&rms, 0.1, x.clone(), x.ones_like(), None);
        let kept = <RmsProp as FirstMoment<TB>>::map_first_moment(
            state.expect("RMSProp keeps a square average"),
            &Default::default(),
            |m| m,
        );
        assert!(kept.is_err());
        let rms = RmsPropConfig::new().with_momentum(0.9).build();
        let (_, state) =
            <RmsProp as SimpleOptimizer<TB>>::step(&rms, 0.1, x.clone(), x.ones_like(), None);
        let mapped = <RmsProp as FirstMoment<TB>>::map_first_moment(
            state.expect("state"),
            &Default::default(),
            |m| m.mul_scalar(0.0),
        );
        assert!(mapped.is_ok());
    }
}
