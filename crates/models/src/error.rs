//! Configuration errors.

use thiserror::Error;

/// Why a model configuration was refused.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("invalid `{field}` = {value}: {requirement}")]
pub struct ConfigError {
    /// The configuration field, as spelled in the serialized config.
    pub field: &'static str,
    /// The value given, formatted.
    pub value: String,
    /// What the field must satisfy.
    pub requirement: &'static str,
}

/// Checks shared by both families' configs.
pub(crate) fn check_common(
    num_classes: usize,
    in_channels: usize,
    width: f64,
    blocks: Option<&[usize; 4]>,
) -> Result<(), ConfigError> {
    let err = |field, value: String, requirement| ConfigError {
        field,
        value,
        requirement,
    };
    if num_classes == 0 {
        return Err(err("num_classes", "0".into(), "must be at least 1"));
    }
    if in_channels == 0 {
        return Err(err("in_channels", "0".into(), "must be at least 1"));
    }
    if !(width > 0.0 && width.is_finite()) {
        return Err(err("width", width.to_string(), "must be finite and > 0"));
    }
    if let Some(blocks) = blocks.filter(|b| b.contains(&0)) {
        return Err(err(
            "blocks",
            format!("{blocks:?}"),
            "every stage needs at least 1 block",
        ));
    }
    Ok(())
}

/// `round(channels · width)`, at least 1.
pub(crate) fn scaled(channels: usize, width: f64) -> usize {
    ((channels as f64 * width).round() as usize).max(1)
}
