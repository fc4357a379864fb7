//! One concrete per-tensor optimizer type for every inner optimizer of the study, so that a
//! spec read at run time builds one Burn `Optimizer` type.

use burn::optim::{
    Adam, AdamState, AdamW, AdamWState, LearningRate, RmsProp, RmsPropState, Sgd, SgdState,
    SimpleOptimizer,
};
use burn::record::Record;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use lookahead_optim::{ConfigError, FirstMoment, RAdam, RAdamState};

/// SGD, Adam, AdamW, RMSProp or RAdam, chosen at run time.
#[derive(Clone)]
pub enum AnyInner<B: Backend> {
    /// Burn's SGD (momentum, Nesterov, L2 weight decay).
    Sgd {
        /// The optimizer.
        optim: Sgd<B>,
        /// Whether it was built with momentum (Burn's `Sgd` does not say).
        momentum: bool,
    },
    /// Burn's Adam.
    Adam(Adam),
    /// Burn's AdamW.
    AdamW(AdamW),
    /// Burn's RMSProp.
    RmsProp {
        /// The optimizer.
        optim: RmsProp,
        /// Whether it was built with momentum > 0 (Burn's `RmsProp` does not say).
        momentum: bool,
    },
    /// This project's RAdam.
    RAdam(RAdam),
}

/// The state of an [`AnyInner`] step, one variant per optimizer.
#[derive(Record, Clone)]
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
            AnyInner::Sgd { optim, .. } => run!(optim, Sgd),
            AnyInner::Adam(o) => run!(o, Adam),
            AnyInner::AdamW(o) => run!(o, AdamW),
            AnyInner::RmsProp { optim, .. } => run!(optim, RmsProp),
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

/// Every optimizer of the study has a first moment but SGD and RMSProp without momentum; this
/// `AnyInner` knows which it is (from its spec), so `Pullback` without momentum is refused when
/// the optimizer is built, before any step.
impl<B: Backend> FirstMoment<B> for AnyInner<B> {
    fn check_first_moment(&self) -> Result<(), ConfigError> {
        match self {
            AnyInner::Sgd {
                momentum: false, ..
            } => Err(ConfigError::PullbackUnsupported {
                optimizer: "sgd without momentum",
            }),
            AnyInner::RmsProp {
                momentum: false, ..
            } => Err(ConfigError::PullbackUnsupported {
                optimizer: "rmsprop without momentum",
            }),
            _ => Ok(()),
        }
    }

    fn map_first_moment<const D: usize>(
        state: AnyState<B, D>,
        device: &B::Device,
        f: impl FnOnce(Tensor<B, D>) -> Tensor<B, D>,
    ) -> Result<AnyState<B, D>, AnyState<B, D>> {
        fn map<B: Backend, O: FirstMoment<B>, const D: usize>(
            state: O::State<D>,
            device: &B::Device,
            f: impl FnOnce(Tensor<B, D>) -> Tensor<B, D>,
            wrap: fn(O::State<D>) -> AnyState<B, D>,
        ) -> Result<AnyState<B, D>, AnyState<B, D>> {
            O::map_first_moment(state, device, f)
                .map(wrap)
                .map_err(wrap)
        }
        match state {
            AnyState::Sgd(s) => map::<B, Sgd<B>, D>(s, device, f, AnyState::Sgd),
            AnyState::Adam(s) => map::<B, Adam, D>(s, device, f, AnyState::Adam),
            AnyState::AdamW(s) => map::<B, AdamW, D>(s, device, f, AnyState::AdamW),
            AnyState::RmsProp(s) => map::<B, RmsProp, D>(s, device, f, AnyState::RmsProp),
            AnyState::RAdam(s) => map::<B, RAdam, D>(s, device, f, AnyState::RAdam),
        }
    }

    fn zero_moments<const D: usize>(state: AnyState<B, D>, device: &B::Device) -> AnyState<B, D> {
        match state {
            AnyState::Sgd(s) => AnyState::Sgd(<Sgd<B> as FirstMoment<B>>::zero_moments(s, device)),
            AnyState::Adam(s) => AnyState::Adam(<Adam as FirstMoment<B>>::zero_moments(s, device)),
            AnyState::AdamW(s) => {
                AnyState::AdamW(<AdamW as FirstMoment<B>>::zero_moments(s, device))
            }
            AnyState::RmsProp(s) => {
                AnyState::RmsProp(<RmsProp as FirstMoment<B>>::zero_moments(s, device))
            }
            AnyState::RAdam(s) => {
                AnyState::RAdam(<RAdam as FirstMoment<B>>::zero_moments(s, device))
            }
        }
    }
}
