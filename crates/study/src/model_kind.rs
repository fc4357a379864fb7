//! The names of the networks a run can train ([`ModelKind`]); `experiments` builds them with
//! the `models` crate.

use std::fmt;
use std::str::FromStr;

/// The depth of a ResNet or XResNet: 18, 34 or 50 layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// 18 layers (basic blocks).
    D18,
    /// 34 layers (basic blocks).
    D34,
    /// 50 layers (bottleneck blocks).
    D50,
}

/// The activation of an XResNet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// ReLU.
    Relu,
    /// Mish.
    Mish,
}

/// The models `train` knows.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelKind {
    /// `ResNetConfig::tiny` (width 1/8, one block per stage, CIFAR stem).
    TinyResNet,
    /// `ResNetConfig::tiny` with torchvision's ImageNet stem (7×7 stride-2 conv and max-pool):
    /// a quarter of the resolution after the stem, about 10× fewer operations, for quick CPU
    /// runs on 28×28 images.
    MicroResNet,
    /// `XResNetConfig::tiny`.
    TinyXResNet,
    /// The CIFAR ResNet-18 of the Lookahead paper.
    CifarResNet18,
    /// torchvision ResNet-18/34/50.
    ResNet(Depth),
    /// fastai v1's `cnn_learner` over torchvision ResNet-18/34/50 (ImageNet stem, not
    /// pretrained, fastai's concat-pool/BN/dropout head).
    FastaiResNet(Depth),
    /// `MicroResNet` with fastai v1's head: the seed study's model shape in miniature.
    MicroFastai,
    /// `small-resnet-fastai`: ResNet-18's layout (two basic blocks per stage) at width 1/4
    /// (16–128 channels), ImageNet stem and fastai's head: room to overfit a few thousand small
    /// images on a CPU (the `seed-overfit` suite).
    SmallFastai,
    /// fastai XResNet-18/34/50, ReLU or Mish.
    XResNet(Depth, Act),
}

/// Every model name with its kind: the one list parsing and printing share.
fn model_names() -> Vec<(String, ModelKind)> {
    let mut names = vec![
        ("tiny-resnet".to_string(), ModelKind::TinyResNet),
        ("micro-resnet".into(), ModelKind::MicroResNet),
        ("tiny-xresnet".into(), ModelKind::TinyXResNet),
        ("resnet18-cifar".into(), ModelKind::CifarResNet18),
    ];
    let depths = [("18", Depth::D18), ("34", Depth::D34), ("50", Depth::D50)];
    for (n, depth) in depths {
        names.push((format!("resnet{n}"), ModelKind::ResNet(depth)));
    }
    for (n, depth) in depths {
        names.push((format!("resnet{n}-fastai"), ModelKind::FastaiResNet(depth)));
    }
    names.push(("micro-resnet-fastai".into(), ModelKind::MicroFastai));
    names.push(("small-resnet-fastai".into(), ModelKind::SmallFastai));
    for (n, depth) in depths {
        names.push((format!("xresnet{n}"), ModelKind::XResNet(depth, Act::Relu)));
        names.push((
            format!("xresnet{n}-mish"),
            ModelKind::XResNet(depth, Act::Mish),
        ));
    }
    names
}

impl FromStr for ModelKind {
    type Err = anyhow::Error;

    /// ```
    /// use study::config::ModelKind;
    /// let kind: ModelKind = "xresnet50-mish".parse().unwrap();
    /// assert_eq!(kind.to_string(), "xresnet50-mish");
    /// assert!("vgg".parse::<ModelKind>().is_err());
    /// ```
    fn from_str(name: &str) -> anyhow::Result<Self> {
        model_names()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, kind)| kind)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown model `{name}`; known: {}",
                    model_names()
                        .into_iter()
                        .map(|(n, _)| n)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = model_names()
            .into_iter()
            .find(|(_, kind)| kind == self)
            .map(|(name, _)| name)
            .unwrap_or_default();
        f.write_str(&name)
    }
}

crate::serde_as_text!(ModelKind);

impl ModelKind {
    /// Parses a model name (see [`FromStr`]).
    pub fn parse(name: &str) -> anyhow::Result<Self> {
        name.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips() {
        let names = model_names();
        assert_eq!(names.len(), 18);
        for (name, kind) in names {
            assert_eq!(kind.to_string(), name);
            assert_eq!(ModelKind::parse(&name).unwrap(), kind);
        }
    }
}
