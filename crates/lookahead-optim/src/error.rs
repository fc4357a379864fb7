//! Errors raised when a configuration is invalid or a policy cannot apply to an inner optimizer.

use thiserror::Error;

/// Why a [`LookaheadConfig`](crate::LookaheadConfig) or a schedule configuration was refused.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ConfigError {
    /// A numeric field is outside its valid range.
    #[error("invalid `{field}` = {value}: {requirement}")]
    OutOfRange {
        /// The configuration field, as spelled in the serialized config.
        field: &'static str,
        /// The value that was given, formatted.
        value: String,
        /// What the field must satisfy.
        requirement: &'static str,
    },
    /// `inner_state = Pullback` (or `ZeroMoments`) was asked of an inner optimizer whose state
    /// has no first-moment (momentum) buffer to interpolate (or whose moments cannot be reached).
    #[error(
        "inner_state = Pullback is undefined for the inner optimizer `{optimizer}`: its state has no \
         first-moment (momentum) buffer (ZeroMoments needs one too); use Keep or Reset, or enable \
         momentum"
    )]
    PullbackUnsupported {
        /// Name of the inner optimizer.
        optimizer: &'static str,
    },
}

impl ConfigError {
    pub(crate) fn out_of_range(
        field: &'static str,
        value: impl std::fmt::Display,
        requirement: &'static str,
    ) -> Self {
        Self::OutOfRange {
            field,
            value: value.to_string(),
            requirement,
        }
    }
}
