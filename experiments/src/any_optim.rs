//! One concrete per-tensor optimizer type for every inner optimizer of the study, so that a
//! spec read at run time builds one Burn `Optimizer` type.

use burn::optim::{
    Adam, AdamState, AdamW, AdamWState, LearningRate, RmsProp, RmsPropState, Sgd, SgdState,
    SimpleOptimizer,
};
use burn::record::{PrecisionSettings, Record};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use lookahead_optim::{RAdam, RAdamState};
use serde::{Deserialize, Serialize};

/// SGD, Adam, AdamW, RMSProp or RAdam, chosen at run time.
#[derive(Clone)]
pub enum AnyInner<B: Backend> {
    /// Burn's SGD (momentum, Nesterov, L2 weight decay).
    Sgd(Sgd<B>),
    /// Burn's Adam.
    Adam(Adam),
    /// Burn's AdamW.
    AdamW(AdamW),
    /// Burn's RMSProp.
    RmsProp(RmsProp),
    /// This project's RAdam.
    RAdam(RAdam),
}

/// The state of an [`AnyInner`] step, one variant per optimizer.
#[derive(Clone)]
pub enum AnyState<B: Backend, const D: usize> {
    /// SGD's state.
    Sgd(SgdState<B, D>),
    /// Adam's state.
    Adam(AdamState<B, D>),
    /// AdamW's state.
    AdamW(AdamWState<B, D>),
    /// RMSProp's state.
    RmsProp(RmsPropState<B, D>),
    /// RAdam's state.
    RAdam(RAdamState<B, D>),
}

type Item<R, B, S> = <R as Record<B>>::Item<S>;

/// Serializable form of [`AnyState`].
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub enum AnyStateItem<B: Backend, S: PrecisionSettings, const D: usize> {
    /// SGD's state.
    Sgd(Item<SgdState<B, D>, B, S>),
    /// Adam's state.
    Adam(Item<AdamState<B, D>, B, S>),
    /// AdamW's state.
    AdamW(Item<AdamWState<B, D>, B, S>),
    /// RMSProp's state.
    RmsProp(Item<RmsPropState<B, D>, B, S>),
    /// RAdam's state.
    RAdam(Item<RAdamState<B, D>, B, S>),
}

impl<B: Backend, S: PrecisionSettings, const D: usize> Clone for AnyStateItem<B, S, D> {
    fn clone(&self) -> Self {
        match self {
            Self::Sgd(i) => Self::Sgd(i.clone()),
            Self::Adam(i) => Self::Adam(i.clone()),
            Self::AdamW(i) => Self::AdamW(i.clone()),
            Self::RmsProp(i) => Self::RmsProp(i.clone()),
            Self::RAdam(i) => Self::RAdam(i.clone()),
        }
    }
}

/// Applies `$body` to the inner value of whichever variant `$value` is, rebuilding the same
/// variant of `$out` from the result.
macro_rules! each_variant {
    ($value:expr, $out:ident, |$x:ident| $body:expr) => {
        match $value {
            Self::Sgd($x) => $out::Sgd($body),
            Self::Adam($x) => $out::Adam($body),
            Self::AdamW($x) => $out::AdamW($body),
            Self::RmsProp($x) => $out::RmsProp($body),
            Self::RAdam($x) => $out::RAdam($body),
        }
    };
}

impl<B: Backend, const D: usize> Record<B> for AnyState<B, D> {
    type Item<S: PrecisionSettings> = AnyStateItem<B, S, D>;

    fn into_item<S: PrecisionSettings>(self) -> Self::Item<S> {
        each_variant!(self, AnyStateItem, |s| s.into_item())
    }

    fn from_item<S: PrecisionSettings>(item: Self::Item<S>, device: &B::Device) -> Self {
        match item {
            AnyStateItem::Sgd(i) => AnyState::Sgd(Record::from_item(i, device)),
            AnyStateItem::Adam(i) => AnyState::Adam(Record::from_item(i, device)),
            AnyStateItem::AdamW(i) => AnyState::AdamW(Record::from_item(i, device)),
            AnyStateItem::RmsProp(i) => AnyState::RmsProp(Record::from_item(i, device)),
            AnyStateItem::RAdam(i) => AnyState::RAdam(Record::from_item(i, device)),
        }
    }
}

/// One step of `optim` with the state of the same optimizer (`None` at the start; a state of
/// another optimizer, from a checkpoint of another spec, is refused).
fn step_with<B: Backend, O: SimpleOptimizer<B>, const D: usize>(
    optim: &O,
    lr: LearningRate,
    tensor: Tensor<B, D>,
    grad: Tensor<B, D>,
    state: Option<Option<O::State<D>>>,
) -> (Tensor<B, D>, Option<O::State<D>>) {
    let state = state.unwrap_or_else(|| {
        panic!("optimizer state of another optimizer: the checkpoint was written by a different optimizer spec")
    });
    optim.step(lr, tensor, grad, state)
}

impl<B: Backend> SimpleOptimizer<B> for AnyInner<B> {
    type State<const D: usize> = AnyState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        // `Some(None)`: no state yet; `Some(Some(s))`: this optimizer's state; `None`: another's.
        macro_rules! run {
            ($optim:expr, $variant:ident) => {{
                let own = match state {
                    None => Some(None),
                    Some(AnyState::$variant(s)) => Some(Some(s)),
                    Some(_) => None,
                };
                let (tensor, state) = step_with($optim, lr, tensor, grad, own);
                (tensor, state.map(AnyState::$variant))
            }};
        }
        match self {
            AnyInner::Sgd(o) => run!(o, Sgd),
            AnyInner::Adam(o) => run!(o, Adam),
            AnyInner::AdamW(o) => run!(o, AdamW),
            AnyInner::RmsProp(o) => run!(o, RmsProp),
            AnyInner::RAdam(o) => run!(o, RAdam),
        }
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        match state {
            AnyState::Sgd(s) => AnyState::Sgd(Sgd::to_device(s, device)),
            AnyState::Adam(s) => AnyState::Adam(<Adam as SimpleOptimizer<B>>::to_device(s, device)),
            AnyState::AdamW(s) => {
                AnyState::AdamW(<AdamW as SimpleOptimizer<B>>::to_device(s, device))
            }
            AnyState::RmsProp(s) => {
                AnyState::RmsProp(<RmsProp as SimpleOptimizer<B>>::to_device(s, device))
            }
            AnyState::RAdam(s) => {
                AnyState::RAdam(<RAdam as SimpleOptimizer<B>>::to_device(s, device))
            }
        }
    }
}
