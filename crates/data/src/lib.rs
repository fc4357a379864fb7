//! Dataset readers (CIFAR-10/100, Imagenette, Fashion-MNIST), augmentation, mixup and downloads
//! for lookahead-burn.
//!
//! Not implemented yet: this crate is created by the workspace issue and filled by the data issue.
