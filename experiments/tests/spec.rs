//! Optimizer specs: parsing, validation, display round trip, and the built optimizers.
#![allow(clippy::unwrap_used)]

use burn::backend::{Autodiff, NdArray};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, Optimizer, RmsPropConfig, SgdConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use experiments::optim::{BuildOptimizer, lookahead_config};
use lookahead_optim::{InnerStatePolicy, LookaheadConfig, RAdamConfig};
use study::spec::{InnerSpec, OptimizerSpec};
use study::spec::{SlowStart, StatePolicy};

type AB = Autodiff<NdArray>;

fn err(text: &str) -> String {
    OptimizerSpec::parse(text).unwrap_err().to_string()
}

#[test]
fn parses_every_optimizer_of_the_study() {
    let sgd = OptimizerSpec::parse("sgd(momentum=0.95, nesterov=true, wd=5e-4)").unwrap();
    assert_eq!(
        sgd,
        OptimizerSpec::Plain(InnerSpec::Sgd {
            momentum: 0.95,
            dampening: 0.0,
            nesterov: true,
            weight_decay: 5e-4
        })
    );
    let la = OptimizerSpec::parse("lookahead(adamw, k=6, alpha=0.8, reset)").unwrap();
    assert!(matches!(
        la,
        OptimizerSpec::Lookahead {
            k: 6,
            alpha: 0.8,
            policy: StatePolicy::Reset,
            inner: InnerSpec::AdamW { .. },
            ..
        }
    ));
    let ranger = OptimizerSpec::parse("ranger").unwrap();
    assert_eq!(
        ranger,
        OptimizerSpec::Lookahead {
            inner: InnerSpec::RAdam {
                beta_1: 0.95,
                beta_2: 0.99,
                epsilon: 1e-6,
                weight_decay: 0.01
            },
            k: 6,
            alpha: 0.5,
            policy: StatePolicy::Keep,
            slow_start: SlowStart::Initial,
        }
    );
    for text in [
        "adam",
        "rmsprop(momentum=0.9, centered=true)",
        "radam(wd=0.01)",
        "lookahead(sgd(momentum=0.9), pullback)",
        "ranger(k=5)",
    ] {
        let spec = OptimizerSpec::parse(text).unwrap();
        assert_eq!(
            OptimizerSpec::parse(&spec.to_string()).unwrap(),
            spec,
            "{text} -> {spec}"
        );
    }
    assert_eq!(
        OptimizerSpec::parse("lookahead( SGD , reset )")
            .unwrap()
            .to_string(),
        "lookahead(sgd,k=5,alpha=0.5,reset)"
    );
}

#[test]
fn bad_specs_fail_with_a_clear_message() {
    assert!(err("foo").contains("unknown optimizer `foo`"));
    assert!(err("lookahead(sgd, k=0)").contains("invalid `k` = 0"));
    assert!(err("lookahead(sgd, alpha=2)").contains("invalid `alpha` = 2"));
    assert!(err("sgd(lr=0.1)").contains("unknown parameter `lr` for sgd"));
    let nested = err("lookahead(lookahead(sgd))");
    assert!(
        nested.contains("lookahead cannot be an inner optimizer"),
        "{nested}"
    );
    assert!(err("lookahead(sgd, sideways)").contains("unknown inner-state policy `sideways`"));
    assert!(err("sgd(momentum=fast)").contains("`momentum` = fast: not a number"));
    assert!(err("sgd(").contains("expected a name or value"));
    let no_momentum = OptimizerSpec::parse("lookahead(sgd(momentum=0), pullback)").unwrap();
    let build = no_momentum.build::<AB, Linear<AB>>();
    assert!(
        build
            .err()
            .unwrap()
            .to_string()
            .contains("Pullback is undefined")
    );
}

type Batch = (Tensor<AB, 2>, Tensor<AB, 2>);

/// The backend's generator is global and the tests of this file run in parallel: the seeded
/// draws of `problem` hold this lock, so another test cannot interleave its draws with them.
static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn problem() -> (Linear<AB>, Vec<Batch>) {
    let _seeded = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let device = Default::default();
    AB::seed(&device, 1);
    let model: Linear<AB> = LinearConfig::new(3, 2).init(&device);
    let _ = (model.weight.val(), model.bias.as_ref().map(|b| b.val()));
    let data = (0..12)
        .map(|_| {
            (
                Tensor::random([4, 3], Distribution::Default, &device),
                Tensor::random([4, 2], Distribution::Default, &device),
            )
        })
        .collect();
    (model, data)
}

fn train<O: Optimizer<Linear<AB>, AB>>(mut optim: O) -> Vec<f32> {
    let (mut model, data) = problem();
    for (x, y) in data {
        let loss = (model.forward(x) - y).powi_scalar(2).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(0.05, model, grads);
    }
    model.weight.val().into_data().to_vec::<f32>().unwrap()
}

#[test]
fn built_optimizers_equal_their_direct_burn_counterparts() {
    let spec = |t: &str| {
        OptimizerSpec::parse(t)
            .unwrap()
            .build::<AB, Linear<AB>>()
            .unwrap()
    };
    let adam = AdamConfig::new()
        .with_epsilon(1e-8)
        .init::<AB, Linear<AB>>();
    assert_eq!(
        train(spec("adam")),
        train(adam),
        "plain spec = the inner optimizer, bit for bit"
    );
    let rms = RmsPropConfig::new()
        .with_momentum(0.0)
        .with_epsilon(1e-8)
        .init::<AB, Linear<AB>>();
    assert_eq!(train(spec("rmsprop")), train(rms));
    let sgd = SgdConfig::new()
        .with_momentum(Some(
            MomentumConfig::new().with_momentum(0.9).with_dampening(0.0),
        ))
        .build();
    let direct = LookaheadConfig::new()
        .with_k(3)
        .with_inner_state(InnerStatePolicy::Pullback)
        .init::<AB, Linear<AB>, _>(sgd)
        .unwrap();
    assert_eq!(train(spec("lookahead(sgd, k=3, pullback)")), train(direct));
    let radam = LookaheadConfig::new()
        .with_k(6)
        .init::<AB, Linear<AB>, _>(
            RAdamConfig::new()
                .with_beta_1(0.95)
                .with_beta_2(0.99)
                .with_epsilon(1e-6)
                .with_weight_decay(0.01)
                .build()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(train(spec("ranger")), train(radam));
    // Every spec trains and the optimizers differ.
    let all: Vec<Vec<f32>> = [
        "sgd",
        "adam",
        "adamw",
        "rmsprop",
        "radam",
        "ranger",
        "lookahead(adamw,reset)",
    ]
    .iter()
    .map(|t| train(spec(t)))
    .collect();
    for (i, a) in all.iter().enumerate() {
        assert!(a.iter().all(|v| v.is_finite()));
        for b in &all[i + 1..] {
            assert_ne!(a, b);
        }
    }
}

#[test]
fn optimizer_record_resumes_with_any_inner() {
    use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
    let spec = OptimizerSpec::parse("lookahead(rmsprop(momentum=0.9), k=4, pullback)").unwrap();
    let (mut model, data) = problem();
    let mut optim = spec.build::<AB, Linear<AB>>().unwrap();
    let mut reference = spec.build::<AB, Linear<AB>>().unwrap();
    let mut ref_model = model.clone();
    for (i, (x, y)) in data.into_iter().enumerate() {
        if i == 6 {
            let bytes = BinBytesRecorder::<FullPrecisionSettings>::default()
                .record(optim.to_record(), ())
                .unwrap();
            let record = BinBytesRecorder::<FullPrecisionSettings>::default()
                .load(bytes, &Default::default())
                .unwrap();
            optim = spec.build::<AB, Linear<AB>>().unwrap().load_record(record);
        }
        let loss = (model.forward(x.clone()) - y.clone()).powi_scalar(2).mean();
        model = optim.step(
            0.05,
            model.clone(),
            GradientsParams::from_grads(loss.backward(), &model),
        );
        let loss = (ref_model.forward(x) - y).powi_scalar(2).mean();
        ref_model = reference.step(
            0.05,
            ref_model.clone(),
            GradientsParams::from_grads(loss.backward(), &ref_model),
        );
    }
    assert_eq!(
        model.into_record().weight.val().into_data(),
        ref_model.into_record().weight.val().into_data()
    );
}

/// The seed study's reset (moments zeroed, step counts kept) is a spec word, round-trips, trains
/// differently from `reset` for AdamW and equals it for SGD; like `pullback` it needs momentum.
#[test]
fn zero_moments_is_a_policy_of_the_spec() {
    let spec = OptimizerSpec::parse("lookahead(adamw, k=3, zero-moments)").unwrap();
    assert!(matches!(
        spec,
        OptimizerSpec::Lookahead {
            policy: StatePolicy::ZeroMoments,
            ..
        }
    ));
    assert_eq!(
        spec.to_string(),
        "lookahead(adamw,k=3,alpha=0.5,zero-moments)"
    );
    assert_eq!(OptimizerSpec::parse(&spec.to_string()).unwrap(), spec);
    let trained = |t: &str| {
        let optim = OptimizerSpec::parse(t)
            .unwrap()
            .build::<AB, Linear<AB>>()
            .unwrap();
        train(optim)
    };
    let zero = trained("lookahead(adamw, k=3, zero-moments)");
    assert!(zero.iter().all(|v| v.is_finite()));
    assert_ne!(zero, trained("lookahead(adamw, k=3, reset)"));
    assert_eq!(
        trained("lookahead(sgd(momentum=0.9), k=3, zero-moments)"),
        trained("lookahead(sgd(momentum=0.9), k=3, reset)")
    );
    let refused = OptimizerSpec::parse("lookahead(sgd(momentum=0), zero-moments)")
        .unwrap()
        .build::<AB, Linear<AB>>();
    assert!(refused.is_err());
}

/// The seed study's slow-weight start (θ1: its slow copies were created after the first inner
/// step) is the spec word `theta1`, printed only when set, and reaches `LookaheadConfig`.
#[test]
fn theta1_is_a_word_of_the_spec() {
    let spec = OptimizerSpec::parse("lookahead(sgd(momentum=0.9), theta1, zero-moments)").unwrap();
    assert!(matches!(
        spec,
        OptimizerSpec::Lookahead {
            slow_start: SlowStart::AfterFirstStep,
            policy: StatePolicy::ZeroMoments,
            ..
        }
    ));
    assert_eq!(
        spec.to_string(),
        "lookahead(sgd,k=5,alpha=0.5,zero-moments,theta1)"
    );
    assert_eq!(OptimizerSpec::parse(&spec.to_string()).unwrap(), spec);
    assert_eq!(
        lookahead_config(&spec).slow_start,
        Some(lookahead_optim::SlowStart::AfterFirstStep)
    );
    let default = OptimizerSpec::parse("lookahead(sgd)").unwrap();
    assert_eq!(default.to_string(), "lookahead(sgd,k=5,alpha=0.5,keep)");
}
