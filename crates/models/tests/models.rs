//! Shapes, parameter counts, initialisation, training and train/eval behaviour of both families.
#![allow(clippy::unwrap_used)]

use burn::backend::{Autodiff, Flex};
use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, ElementConversion, Int, Tensor, TensorData};
use models::{
    Activation, Head, ResNet, ResNetConfig, ResNetVariant, Stem, XResNetConfig, XResNetVariant,
};

type B = Flex;
type AB = Autodiff<Flex>;

fn resnet(variant: ResNetVariant, classes: usize) -> ResNetConfig {
    ResNetConfig::new(variant).with_num_classes(classes)
}

fn xresnet(variant: XResNetVariant, classes: usize) -> XResNetConfig {
    XResNetConfig::new(variant).with_num_classes(classes)
}

/// Reference counts, `sum(p.numel() for p in model.parameters())`, computed with torch 2.15.0,
/// torchvision 0.29.2 and fastai 2.8.12 from PyPI:
/// `torchvision.models.resnetNN(num_classes=c)`, `fastai.vision.models.xresnet.xresnetNN(n_out=c)`,
/// and for the CIFAR ResNet-18 torchvision's resnet18 with `conv1 = Conv2d(3, 64, 3, 1, 1, bias=False)`
/// (kuangliu/pytorch-cifar's layout; its max-pool has no parameters).
#[test]
fn parameter_counts_match_the_references() {
    let device = Default::default();
    let resnets = [
        (ResNetVariant::ResNet18, 1000, 11_689_512),
        (ResNetVariant::ResNet18, 10, 11_181_642),
        (ResNetVariant::ResNet34, 1000, 21_797_672),
        (ResNetVariant::ResNet34, 100, 21_335_972),
        (ResNetVariant::ResNet50, 1000, 25_557_032),
        (ResNetVariant::ResNet50, 10, 23_528_522),
    ];
    for (variant, classes, expected) in resnets {
        let model = resnet(variant, classes).init::<B>(&device).unwrap();
        assert_eq!(
            model.param_count(),
            expected,
            "{variant:?}, {classes} classes"
        );
    }
    for (classes, expected) in [(10, 11_173_962), (100, 11_220_132)] {
        let model = ResNetConfig::cifar_resnet18(classes)
            .init::<B>(&device)
            .unwrap();
        assert_eq!(
            model.param_count(),
            expected,
            "CIFAR ResNet-18, {classes} classes"
        );
    }
    // The quick suite's micro ResNet, as `benches/torch_resnet18.py --model micro` builds it
    // (torchvision 0.24.0's ResNet with BasicBlock ×[1, 1, 1, 1] rebuilt at widths 8..64, a
    // 1-channel 7×7 stem and a 64 → 10 linear head): 78,178.
    let micro = ResNetConfig::tiny(10, 1)
        .with_stem(models::Stem::ImageNet)
        .init::<B>(&device)
        .unwrap();
    assert_eq!(micro.param_count(), 78_178, "micro ResNet");
    // fastai v1's `cnn_learner(data, models.resnetNN, pretrained=False)`: torchvision 0.24.0's
    // (torch 2.9.0, PyPI) resnetNN body `nn.Sequential(*list(resnetNN().children())[:-2])`
    // plus fastai 1.0.59's `create_head(2·nf, c)` written out in torch (BN1d(2·nf),
    // Dropout(0.25), Linear(2·nf, 512), ReLU, BN1d(512), Dropout(0.5), Linear(512, c)):
    // body 11,176,512 / 23,508,032, head 533,002 / 579,172 (nf 512) and 2,112,010 /
    // 2,158,180 (nf 2048) for 10 / 100 classes.
    let fastai = [
        (ResNetVariant::ResNet18, 10, 11_709_514),
        (ResNetVariant::ResNet18, 100, 11_755_684),
        (ResNetVariant::ResNet50, 10, 25_620_042),
        (ResNetVariant::ResNet50, 100, 25_666_212),
    ];
    for (variant, classes, expected) in fastai {
        let model = resnet(variant, classes)
            .with_head(Head::FastaiV1)
            .init::<B>(&device)
            .unwrap();
        assert_eq!(
            model.param_count(),
            expected,
            "fastai {variant:?}, {classes} classes"
        );
    }
    let xresnets = [
        (XResNetVariant::XResNet18, 1000, 11_708_744),
        (XResNetVariant::XResNet18, 10, 11_200_874),
        (XResNetVariant::XResNet34, 1000, 21_816_904),
        (XResNetVariant::XResNet34, 100, 21_355_204),
        (XResNetVariant::XResNet50, 1000, 25_576_264),
        (XResNetVariant::XResNet50, 10, 23_547_754),
    ];
    for (variant, classes, expected) in xresnets {
        let model = xresnet(variant, classes).init::<B>(&device).unwrap();
        assert_eq!(
            model.param_count(),
            expected,
            "{variant:?}, {classes} classes"
        );
    }
}

fn check_shapes(name: &str, model: &ResNet<B>, sizes: &[usize], classes: usize) {
    let device = Default::default();
    for &size in sizes {
        let images = Tensor::<B, 4>::random([2, 3, size, size], Distribution::Default, &device);
        assert_eq!(
            model.forward(images).dims(),
            [2, classes],
            "{name} at {size}×{size}"
        );
    }
}

#[test]
fn output_shapes_of_every_variant() {
    let device = Default::default();
    let sizes = [64, 128, 160];
    let cifar = ResNetConfig::cifar_resnet18(10).init::<B>(&device).unwrap();
    check_shapes("CIFAR ResNet-18", &cifar, &[32, 64], 10);
    // The seed study ran the ImageNet stem on 32×32 CIFAR images (1×1 after the body).
    let fastai = resnet(ResNetVariant::ResNet18, 100)
        .with_head(Head::FastaiV1)
        .init::<B>(&device)
        .unwrap();
    check_shapes("fastai ResNet-18", &fastai, &[32, 64], 100);
    for variant in [
        ResNetVariant::ResNet18,
        ResNetVariant::ResNet34,
        ResNetVariant::ResNet50,
    ] {
        let model = resnet(variant, 10).init::<B>(&device).unwrap();
        check_shapes(&format!("{variant:?}"), &model, &sizes, 10);
        let cifar = resnet(variant, 10)
            .with_stem(Stem::Cifar)
            .init::<B>(&device)
            .unwrap();
        check_shapes(&format!("{variant:?} (CIFAR stem)"), &cifar, &[32], 10);
    }
    for variant in [
        XResNetVariant::XResNet18,
        XResNetVariant::XResNet34,
        XResNetVariant::XResNet50,
    ] {
        let model = xresnet(variant, 10).init::<B>(&device).unwrap();
        check_shapes(&format!("{variant:?}"), &model, &[32, 64, 128, 160], 10);
    }
    // Odd sizes go through XResNet's ceil-mode shortcut pooling.
    let mish = xresnet(XResNetVariant::XResNet18, 7).with_activation(Activation::Mish);
    check_shapes(
        "XResNet18 (Mish)",
        &mish.init::<B>(&device).unwrap(),
        &[33, 75],
        7,
    );
}

/// Collects every BatchNorm γ and every conv weight of a model.
#[derive(Default)]
struct Collect {
    tensors: Vec<(usize, Vec<f32>, Vec<usize>)>,
}

impl<B: Backend> ModuleVisitor<B> for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let value = param.val();
        let dims = value.dims().to_vec();
        let data = value.into_data().convert::<f32>().to_vec::<f32>().unwrap();
        self.tensors.push((D, data, dims));
    }
}

fn std_dev(values: &[f32]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
    (values
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt()
}

fn check_init(name: &str, model: &ResNet<B>, fan_out: bool, zero_gammas: usize) {
    // BN γ: all ones, except the last BN of each block, all zeros.
    let mut zeros = 0;
    for block in &model.blocks {
        for (i, conv) in block.convs.iter().enumerate() {
            let gamma = conv.bn.gamma.val().into_data().to_vec::<f32>().unwrap();
            let expected = if i + 1 == block.convs.len() && zero_gammas > 0 {
                0.0
            } else {
                1.0
            };
            assert!(
                gamma.iter().all(|&g| g == expected),
                "{name}: block BN {i} γ ≠ {expected}"
            );
            let beta = conv.bn.beta.val().into_data().to_vec::<f32>().unwrap();
            assert!(beta.iter().all(|&b| b == 0.0), "{name}: β ≠ 0");
            zeros += (expected == 0.0) as usize;
        }
    }
    assert_eq!(zeros, zero_gammas, "{name}: zero-γ BN count");
    for conv in &model.stem {
        assert!(
            conv.bn
                .gamma
                .val()
                .into_data()
                .to_vec::<f32>()
                .unwrap()
                .iter()
                .all(|&g| g == 1.0)
        );
    }
    // Conv weights (4-D): kaiming normal, std = √2 / √fan, checked where there are enough samples.
    let mut visitor = Collect::default();
    model.visit(&mut visitor);
    let mut checked = 0;
    for (rank, data, dims) in visitor
        .tensors
        .iter()
        .filter(|(rank, data, _)| *rank == 4 && data.len() >= 20_000)
    {
        assert_eq!(*rank, 4);
        let receptive = dims[2] * dims[3];
        let fan = if fan_out {
            dims[0] * receptive
        } else {
            dims[1] * receptive
        };
        let expected = (2.0 / fan as f64).sqrt();
        let got = std_dev(data);
        assert!(
            (got / expected - 1.0).abs() < 0.1,
            "{name}: conv {dims:?} std {got} vs {expected}"
        );
        checked += 1;
    }
    assert!(checked >= 10, "{name}: only {checked} convs checked");
}

#[test]
fn initialisation_follows_the_references() {
    let device = Default::default();
    let plain = resnet(ResNetVariant::ResNet18, 10)
        .init::<B>(&device)
        .unwrap();
    check_init("resnet18", &plain, true, 0);
    let zero = resnet(ResNetVariant::ResNet50, 10).with_zero_init_residual(true);
    check_init(
        "resnet50 zero-init",
        &zero.init::<B>(&device).unwrap(),
        true,
        16,
    );
    let x = xresnet(XResNetVariant::XResNet34, 10)
        .init::<B>(&device)
        .unwrap();
    check_init("xresnet34", &x, false, 16);
    // fastai: classifier kaiming normal (fan_in) with zero bias.
    let bias =
        x.fc.bias
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .to_vec::<f32>()
            .unwrap();
    assert!(bias.iter().all(|&b| b == 0.0));
    let fc = x.fc.weight.val().into_data().to_vec::<f32>().unwrap();
    assert!((std_dev(&fc) / (2.0f64 / 512.0).sqrt() - 1.0).abs() < 0.1);
}

/// 32 real images (the first of the committed Fashion-MNIST test set, 1×28×28, normalised):
/// a net with working backward through every layer fits them (measured: in 3 and 8 steps).
fn overfit(name: &str, model: ResNet<AB>) {
    let device = Default::default();
    let set = data::embedded_fashion_mnist().unwrap();
    let pixels: Vec<f32> = set.pixels[..32 * 784]
        .iter()
        .map(|&p| (p as f32 / 255.0 - 0.286) / 0.353)
        .collect();
    let images = Tensor::<AB, 4>::from_data(TensorData::new(pixels, [32, 1, 28, 28]), &device);
    let targets: Vec<i64> = set.labels[..32].iter().map(|&l| l as i64).collect();
    let labels = Tensor::<AB, 1, Int>::from_data(TensorData::new(targets, [32]), &device);
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let mut optim = AdamConfig::new().init::<AB, ResNet<AB>>();
    let mut model = model;
    let mut accuracy = 0.0;
    for _ in 0..60 {
        let logits = model.forward(images.clone());
        let correct: f64 = logits
            .clone()
            .argmax(1)
            .squeeze_dim::<1>(1)
            .equal(labels.clone())
            .float()
            .sum()
            .into_scalar()
            .elem();
        accuracy = correct / 32.0;
        if accuracy >= 0.95 {
            break;
        }
        let loss = loss_fn.forward(logits, labels.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-2, model, grads);
    }
    assert!(
        accuracy >= 0.95,
        "{name}: train accuracy {accuracy} after the step budget"
    );
}

#[test]
fn tiny_resnet_overfits_a_batch() {
    overfit(
        "tiny resnet",
        ResNetConfig::tiny(10, 1).init(&Default::default()).unwrap(),
    );
}

#[test]
fn tiny_xresnet_overfits_a_batch() {
    overfit(
        "tiny xresnet",
        XResNetConfig::tiny(10, 1)
            .init(&Default::default())
            .unwrap(),
    );
}

#[test]
fn batchnorm_uses_batch_statistics_in_training_and_running_ones_in_eval() {
    let device = Default::default();
    AB::seed(&device, 5);
    let model: ResNet<AB> = ResNetConfig::tiny(10, 3).init(&device).unwrap();
    let batch = Tensor::<AB, 4>::random([8, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
    let first = batch.clone().slice(0..1);
    let values = |t: Tensor<AB, 2>| t.into_data().to_vec::<f32>().unwrap();
    let values_inner = |t: Tensor<B, 2>| t.into_data().to_vec::<f32>().unwrap();
    // Training (autodiff backend): image 0's logits depend on the rest of the batch.
    let in_batch = values(model.forward(batch.clone()).slice(0..1));
    let alone_pair = values(
        model
            .forward(Tensor::cat(
                vec![first.clone(), batch.clone().slice(4..8)],
                0,
            ))
            .slice(0..1),
    );
    assert_ne!(
        in_batch, alone_pair,
        "training mode must normalise with the batch's statistics"
    );
    // Eval (inner backend, running statistics): the same logits whatever the batch.
    let eval = model.valid();
    let in_batch = values_inner(eval.forward(batch.clone().inner()).slice(0..1));
    let alone = values_inner(eval.forward(first.inner()));
    for (a, b) in in_batch.iter().zip(&alone) {
        assert!(
            (a - b).abs() < 1e-5,
            "eval mode must use running statistics: {a} vs {b}"
        );
    }
}

#[test]
fn invalid_configs_name_the_field() {
    let device: <B as burn::tensor::backend::BackendTypes>::Device = Default::default();
    let err = ResNetConfig::tiny(0, 3).init::<B>(&device).err().unwrap();
    assert_eq!(
        err.to_string(),
        "invalid `num_classes` = 0: must be at least 1"
    );
    let err = ResNetConfig::tiny(10, 3)
        .with_width(0.0)
        .init::<B>(&device)
        .err()
        .unwrap();
    assert!(err.to_string().contains("`width`"), "{err}");
    let err = XResNetConfig::tiny(10, 3)
        .with_blocks(Some([1, 0, 1, 1]))
        .init::<B>(&device)
        .err()
        .unwrap();
    assert!(err.to_string().contains("`blocks`"), "{err}");
    let err = XResNetConfig::tiny(10, 3)
        .with_dropout(1.5)
        .init::<B>(&device)
        .err()
        .unwrap();
    assert!(err.to_string().contains("`dropout`"), "{err}");
}

/// The same code on another backend: forward and backward of both tiny models on NdArray.
#[test]
fn tiny_models_run_forward_and_backward_on_ndarray() {
    use burn::backend::NdArray;
    type NB = Autodiff<NdArray>;
    let device = Default::default();
    let images = Tensor::<NB, 4>::random([2, 3, 32, 32], Distribution::Default, &device);
    for model in [
        ResNetConfig::tiny(10, 3).init::<NB>(&device).unwrap(),
        XResNetConfig::tiny(10, 3).init::<NB>(&device).unwrap(),
    ] {
        let logits = model.forward(images.clone());
        assert_eq!(logits.dims(), [2, 10]);
        let grads = logits.sum().backward();
        let grad = model.fc.weight.grad(&grads).expect("classifier gradient");
        assert!(grad.abs().sum().into_scalar() > 0.0);
    }
}
