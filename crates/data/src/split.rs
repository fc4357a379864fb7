//! [`Split`]: which part of a dataset.

/// Which part of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Split {
    /// The training set.
    Train,
    /// The test / validation set (`val/` for Imagenette).
    Test,
}
