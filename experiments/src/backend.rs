//! The backends compiled into this binary (cargo features `ndarray`, `flex`, `wgpu`, `vulkan`,
//! `metal`, `cuda`) and the run-time choice among them (`--backend`, `--device`).
//!
//! Training code is generic over `B: AutodiffBackend`; [`dispatch`] instantiates it for the
//! backend named at run time, which must have been compiled in.

use std::fmt;

use burn::tensor::backend::AutodiffBackend;
use thiserror::Error;

#[cfg(not(any(
    feature = "ndarray",
    feature = "flex",
    feature = "wgpu",
    feature = "vulkan",
    feature = "metal",
    feature = "cuda"
)))]
compile_error!(
    "experiments needs at least one backend feature: ndarray, flex, wgpu, vulkan, metal or cuda \
     (e.g. `cargo build -p experiments --features cuda`, or `cargo xtask train … --backend cuda`)"
);

/// Every backend this project knows, in the order `--help` lists them.
pub const ALL_BACKENDS: &[&str] = &["ndarray", "flex", "wgpu", "vulkan", "metal", "cuda"];

/// The backends compiled into this binary.
pub fn compiled_backends() -> Vec<&'static str> {
    let mut out = Vec::new();
    if cfg!(feature = "ndarray") {
        out.push("ndarray");
    }
    if cfg!(feature = "flex") {
        out.push("flex");
    }
    if cfg!(feature = "wgpu") {
        out.push("wgpu");
    }
    if cfg!(feature = "vulkan") {
        out.push("vulkan");
    }
    if cfg!(feature = "metal") {
        out.push("metal");
    }
    if cfg!(feature = "cuda") {
        out.push("cuda");
    }
    out
}

/// The default backend: the first of flex, ndarray, cuda, wgpu, vulkan, metal compiled in.
pub fn default_backend() -> &'static str {
    let compiled = compiled_backends();
    ["flex", "ndarray", "cuda", "wgpu", "vulkan", "metal"]
        .into_iter()
        .find(|b| compiled.contains(b))
        .unwrap_or("flex")
}

/// A backend that cannot be used.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BackendError {
    /// Not a backend name.
    #[error("unknown backend `{0}`; known: ndarray, flex, wgpu, vulkan, metal, cuda")]
    Unknown(String),
    /// Known, but this binary was built without its feature.
    #[error(
        "backend `{name}` is not compiled into this binary (compiled: {compiled}); rebuild with \
         `--features {name}`, or run `cargo xtask train … --backend {name}`"
    )]
    NotCompiled {
        /// The backend asked for.
        name: String,
        /// The backends compiled in.
        compiled: String,
    },
    /// A device index the backend does not have.
    #[error("backend `{name}` has no device {index}: {reason}")]
    Device {
        /// The backend.
        name: String,
        /// The index asked for.
        index: usize,
        /// Why.
        reason: String,
    },
}

/// Which backend and device a run uses, for summaries and reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackendInfo {
    /// Backend name (`flex`, `cuda`, …).
    pub backend: String,
    /// The device, as the backend describes it.
    pub device: String,
}

impl fmt::Display for BackendInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on {}", self.backend, self.device)
    }
}

/// Work generic over the backend: [`dispatch`] calls [`BackendTask::run`] with the backend and
/// device chosen at run time.
pub trait BackendTask {
    /// What the work returns.
    type Output;
    /// Runs the work on `B` (always wrapped in `Autodiff`) and `device`.
    fn run<B: AutodiffBackend>(self, device: B::Device, info: BackendInfo) -> Self::Output;
}

/// Checks that `name` is a backend compiled into this binary.
pub fn check_backend(name: &str) -> Result<(), BackendError> {
    if !ALL_BACKENDS.contains(&name) {
        return Err(BackendError::Unknown(name.to_string()));
    }
    let compiled = compiled_backends();
    if !compiled.contains(&name) {
        return Err(BackendError::NotCompiled {
            name: name.to_string(),
            compiled: compiled.join(", "),
        });
    }
    Ok(())
}

/// Runs `task` on backend `name`, device `index` (0 = the default device).
pub fn dispatch<T: BackendTask>(
    name: &str,
    index: usize,
    task: T,
) -> Result<T::Output, BackendError> {
    check_backend(name)?;
    let cpu_only = |index: usize| {
        if index == 0 {
            Ok(())
        } else {
            Err(BackendError::Device {
                name: name.to_string(),
                index,
                reason: "CPU backends have one device (0)".into(),
            })
        }
    };
    let info = |device: &dyn fmt::Debug| BackendInfo {
        backend: name.to_string(),
        device: format!("{device:?}"),
    };
    // Each arm exists only when its feature is compiled; `check_backend` refused the others.
    match name {
        #[cfg(feature = "ndarray")]
        "ndarray" => {
            cpu_only(index)?;
            let device = burn::backend::ndarray::NdArrayDevice::Cpu;
            let info = info(&device);
            Ok(task.run::<burn::backend::Autodiff<burn::backend::NdArray>>(device, info))
        }
        #[cfg(feature = "flex")]
        "flex" => {
            cpu_only(index)?;
            let device = burn::backend::flex::FlexDevice;
            let info = info(&device);
            Ok(task.run::<burn::backend::Autodiff<burn::backend::Flex>>(device, info))
        }
        #[cfg(feature = "wgpu")]
        "wgpu" => {
            let device = wgpu_device(index);
            let info = info(&device);
            Ok(task.run::<burn::backend::Autodiff<burn::backend::Wgpu>>(device, info))
        }
        #[cfg(feature = "vulkan")]
        "vulkan" => {
            let device = wgpu_device(index);
            let info = info(&device);
            Ok(task.run::<burn::backend::Autodiff<burn::backend::Vulkan>>(device, info))
        }
        #[cfg(feature = "metal")]
        "metal" => {
            let device = wgpu_device(index);
            let info = info(&device);
            Ok(task.run::<burn::backend::Autodiff<burn::backend::Metal>>(device, info))
        }
        #[cfg(feature = "cuda")]
        "cuda" => {
            let device = burn::backend::cuda::CudaDevice::new(index);
            let info = info(&device);
            Ok(task.run::<burn::backend::Autodiff<burn::backend::Cuda>>(device, info))
        }
        other => Err(BackendError::Unknown(other.to_string())),
    }
}

/// wgpu's device `index`: the default adapter for 0 (a discrete GPU if there is one, else
/// whatever the system offers, e.g. lavapipe), else the index-th discrete GPU.
#[cfg(any(feature = "wgpu", feature = "vulkan", feature = "metal"))]
fn wgpu_device(index: usize) -> burn::backend::wgpu::WgpuDevice {
    if index == 0 {
        burn::backend::wgpu::WgpuDevice::DefaultDevice
    } else {
        burn::backend::wgpu::WgpuDevice::DiscreteGpu(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_missing_backends_are_named() {
        assert_eq!(
            check_backend("tpu"),
            Err(BackendError::Unknown("tpu".into()))
        );
        let compiled = compiled_backends();
        assert!(!compiled.is_empty());
        assert!(compiled.contains(&default_backend()));
        for name in ALL_BACKENDS {
            let result = check_backend(name);
            if compiled.contains(name) {
                assert_eq!(result, Ok(()));
            } else {
                let message = result.unwrap_err().to_string();
                assert!(message.contains(&format!("--features {name}")), "{message}");
            }
        }
    }
}
