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
    /// `inner_state = Pullback` was asked of an inner optimizer whose state has no first-moment
    /// (momentum) buffer to interpolate.
    #[error(
        "inner_state = Pullback is undefined for the inner optimizer `{optimizer}`: its state has no \
         first-moment buffer (fields named {fields:?}); use Keep or Reset, or enable momentum"
    )]
    PullbackUnsupported {
        /// Type name of the inner optimizer.
        optimizer: &'static str,
        /// The field names recognised as first-moment buffers.
        fields: &'static [&'static str],
    },
    /// The inner optimizer's state could not be taken apart through its record.
    #[error(
        "cannot read the state of the inner optimizer `{optimizer}` through its record: {reason}"
    )]
    StateRecord {
        /// Type name of the inner optimizer.
        optimizer: &'static str,
        /// What went wrong.
        reason: String,
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
