//! ResNet and fastai-style XResNet model families for lookahead-burn.
//!
//! Not implemented yet: this crate is created by the workspace issue and filled by the models
//! issue (torchvision ResNet-18/34/50, the CIFAR ResNet-18 of the Lookahead paper, and fastai's
//! XResNet-18/34/50).
