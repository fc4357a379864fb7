//! The backend catalogue (each backend a cargo feature: `tch`, `flex`, `ndarray`, `cuda`,
//! `wgpu`, `vulkan`, `metal`), the ones compiled into this binary, and the run-time choice among them
//! (`--backend`, `--device`).
//!
//! Training code is generic over `B: AutodiffBackend`; [`dispatch`] instantiates it for the
//! backend named at run time, which must have been compiled in.

use std::fmt;

use burn::tensor::backend::AutodiffBackend;
use thiserror::Error;

pub use study::run_dir::BackendInfo;

#[cfg(not(any(
    feature = "ndarray",
    feature = "flex",
    feature = "wgpu",
    feature = "vulkan",
    feature = "metal",
    feature = "cuda",
    feature = "tch"
)))]
compile_error!(
    "experiments needs at least one backend feature: tch, ndarray, flex, wgpu, vulkan, metal or cuda \
     (e.g. `cargo build -p experiments --features cuda`, or `cargo xtask train … --backend cuda`)"
);

/// The backend catalogue, the one list of them: each name is also the cargo feature of
/// `experiments` that compiles it (`xtask` reads the same features from `Cargo.toml`; the test
/// `the_catalogue_is_the_cargo_features` keeps the two equal), paired with whether this binary
/// was built with it. The order is the order of preference of [`default_backend`]: LibTorch
/// first (on a CPU it trains about 2× faster than Flex, docs/cpu-speed.md), then Flex.
const CATALOGUE: &[(&str, bool)] = &[
    ("tch", cfg!(feature = "tch")),
    ("flex", cfg!(feature = "flex")),
    ("ndarray", cfg!(feature = "ndarray")),
    ("cuda", cfg!(feature = "cuda")),
    ("wgpu", cfg!(feature = "wgpu")),
    ("vulkan", cfg!(feature = "vulkan")),
    ("metal", cfg!(feature = "metal")),
];

/// Every backend this project knows (compiled in or not), in the catalogue's order.
pub fn all_backends() -> Vec<&'static str> {
    CATALOGUE.iter().map(|&(name, _)| name).collect()
}

/// The backends compiled into this binary, in the catalogue's order.
pub fn compiled_backends() -> Vec<&'static str> {
    CATALOGUE
        .iter()
        .filter(|&&(_, compiled)| compiled)
        .map(|&(name, _)| name)
        .collect()
}

/// The default backend: the first compiled-in backend of the catalogue (tch, flex, ndarray,
/// cuda, wgpu, vulkan, metal).
pub fn default_backend() -> &'static str {
    compiled_backends().first().copied().unwrap_or("flex")
}

/// A backend that cannot be used.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BackendError {
    /// Not a backend name.
    #[error("unknown backend `{0}`; known: {known}", known = all_backends().join(", "))]
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
    /// A device given twice (`--devices 0,0`).
    #[error("--devices lists device {index} twice; each device trains one replica")]
    Twice {
        /// The index given twice.
        index: usize,
    },
}

/// Work generic over the backend: [`dispatch`] calls [`BackendTask::run`] with the backend and
/// device chosen at run time.
pub trait BackendTask {
    /// What the work returns.
    type Output;
    /// Runs the work on `B` (always wrapped in `Autodiff`) and `devices` (at least one; the
    /// first is the main device).
    fn run<B: AutodiffBackend>(self, devices: Vec<B::Device>, info: BackendInfo) -> Self::Output;
}

/// Checks that `name` is a backend compiled into this binary.
pub fn check_backend(name: &str) -> Result<(), BackendError> {
    if !all_backends().contains(&name) {
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

/// The widest SIMD level this CPU offers, as Flex's kernels (through `macerator`) dispatch on
/// it: `<arch>-<level>`, e.g. `x86_64-v4` (AVX-512) or `x86_64-v3` (AVX2).
pub fn cpu_simd_level() -> String {
    let level = format!("{:?}", macerator::Arch::new()).to_lowercase();
    format!("{}-{level}", std::env::consts::ARCH)
}

/// Runs `task` on backend `name`, devices `indices` (the first is the main device; 0 = the
/// default device). CPU backends have one device, which several indices may name: each index is
/// then one data-parallel worker on the CPU (burn-train's multi-device strategy).
pub fn dispatch<T: BackendTask>(
    name: &str,
    indices: &[usize],
    task: T,
) -> Result<T::Output, BackendError> {
    check_backend(name)?;
    check_indices(name, indices)?;
    let cpu = || cpu_workers(name, indices);
    let info = |devices: &dyn fmt::Debug| BackendInfo {
        backend: name.to_string(),
        device: format!("{devices:?}"),
        cpu_simd: Some(cpu_simd_level()),
    };
    // Each arm exists only when its feature is compiled; `check_backend` refused the others.
    match name {
        #[cfg(feature = "ndarray")]
        "ndarray" => {
            let n = cpu()?;
            let devices = vec![burn::backend::ndarray::NdArrayDevice::Cpu; n];
            let info = info(&devices);
            Ok(task.run::<burn::backend::Autodiff<burn::backend::NdArray>>(devices, info))
        }
        #[cfg(feature = "flex")]
        "flex" => {
            let n = cpu()?;
            let devices = vec![burn::backend::flex::FlexDevice; n];
            let info = info(&devices);
            Ok(task.run::<burn::backend::Autodiff<burn::backend::Flex>>(devices, info))
        }
        #[cfg(feature = "wgpu")]
        "wgpu" => {
            let devices: Vec<_> = indices.iter().map(|&i| wgpu_device(i)).collect();
            let info = info(&devices);
            Ok(task.run::<burn::backend::Autodiff<burn::backend::Wgpu>>(devices, info))
        }
        #[cfg(feature = "vulkan")]
        "vulkan" => {
            let devices: Vec<_> = indices.iter().map(|&i| wgpu_device(i)).collect();
            let info = info(&devices);
            Ok(task.run::<burn::backend::Autodiff<burn::backend::Vulkan>>(devices, info))
        }
        #[cfg(feature = "metal")]
        "metal" => {
            let devices: Vec<_> = indices.iter().map(|&i| wgpu_device(i)).collect();
            let info = info(&devices);
            Ok(task.run::<burn::backend::Autodiff<burn::backend::Metal>>(devices, info))
        }
        #[cfg(feature = "tch")]
        "tch" => {
            let devices = tch_devices(indices, &cpu)?;
            let info = info(&devices);
            Ok(task.run::<burn::backend::Autodiff<burn::backend::LibTorch>>(devices, info))
        }
        #[cfg(feature = "cuda")]
        "cuda" => {
            let devices: Vec<_> = indices
                .iter()
                .map(|&i| burn::backend::cuda::CudaDevice::new(i))
                .collect();
            let info = info(&devices);
            Ok(task.run::<burn::backend::Autodiff<burn::backend::Cuda>>(devices, info))
        }
        other => Err(BackendError::Unknown(other.to_string())),
    }
}

/// Refuses an empty or repeated device list.
fn check_indices(name: &str, indices: &[usize]) -> Result<(), BackendError> {
    if indices.is_empty() {
        return Err(BackendError::Device {
            name: name.to_string(),
            index: 0,
            reason: "no device given".into(),
        });
    }
    let mut seen = std::collections::HashSet::new();
    match indices.iter().find(|&&i| !seen.insert(i)) {
        Some(&index) => Err(BackendError::Twice { index }),
        None => Ok(()),
    }
}

/// CPU backends: indices 0..n name n workers on the one CPU device.
fn cpu_workers(name: &str, indices: &[usize]) -> Result<usize, BackendError> {
    match indices.iter().find(|&&i| i >= indices.len()) {
        Some(&index) => Err(BackendError::Device {
            name: name.to_string(),
            index,
            reason: format!(
                "CPU backends number their workers 0..{} for {} device(s)",
                indices.len(),
                indices.len()
            ),
        }),
        None => Ok(indices.len()),
    }
}

/// LibTorch's devices: its CUDA GPUs `indices` when LibTorch was built with CUDA and sees a GPU,
/// else CPU workers as for the other CPU backends.
#[cfg(feature = "tch")]
fn tch_devices(
    indices: &[usize],
    cpu: &dyn Fn() -> Result<usize, BackendError>,
) -> Result<Vec<burn::backend::libtorch::LibTorchDevice>, BackendError> {
    use burn::backend::libtorch::LibTorchDevice;
    let gpus = tch::Cuda::device_count();
    if gpus == 0 {
        return Ok(vec![LibTorchDevice::Cpu; cpu()?]);
    }
    indices
        .iter()
        .map(|&index| {
            if (index as i64) < gpus {
                Ok(LibTorchDevice::Cuda(index))
            } else {
                Err(BackendError::Device {
                    name: "tch".into(),
                    index,
                    reason: format!("LibTorch sees {gpus} CUDA device(s)"),
                })
            }
        })
        .collect()
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

    struct CountDevices;

    impl BackendTask for CountDevices {
        type Output = (usize, String);
        fn run<B: AutodiffBackend>(
            self,
            devices: Vec<B::Device>,
            info: BackendInfo,
        ) -> Self::Output {
            (devices.len(), info.backend)
        }
    }

    #[test]
    fn cpu_workers_and_device_lists_are_checked() {
        let name = default_backend();
        assert_eq!(
            dispatch(name, &[0], CountDevices),
            Ok((1, name.to_string()))
        );
        // CPU backends number workers; LibTorch does when it sees no GPU.
        let cpu = match name {
            "flex" | "ndarray" => true,
            #[cfg(feature = "tch")]
            "tch" => tch::Cuda::device_count() == 0,
            _ => false,
        };
        if cpu {
            assert_eq!(
                dispatch(name, &[0, 1], CountDevices),
                Ok((2, name.to_string()))
            );
            let err = dispatch(name, &[0, 2], CountDevices)
                .unwrap_err()
                .to_string();
            assert!(err.contains("no device 2"), "{err}");
        }
        let err = dispatch(name, &[1, 1], CountDevices)
            .unwrap_err()
            .to_string();
        assert!(err.contains("lists device 1 twice"), "{err}");
        assert!(!err.contains("has no device"), "{err}");
        assert!(dispatch(name, &[], CountDevices).is_err());
    }

    #[test]
    fn unknown_and_missing_backends_are_named() {
        assert_eq!(
            check_backend("tpu"),
            Err(BackendError::Unknown("tpu".into()))
        );
        let compiled = compiled_backends();
        assert!(!compiled.is_empty());
        assert!(compiled.contains(&default_backend()));
        for name in &all_backends() {
            let result = check_backend(name);
            if compiled.contains(name) {
                assert_eq!(result, Ok(()));
            } else {
                let message = result.unwrap_err().to_string();
                assert!(message.contains(&format!("--features {name}")), "{message}");
            }
        }
    }

    /// The catalogue and `experiments`' cargo features (which `xtask` offers as backends) are
    /// the same set of names.
    #[test]
    fn the_catalogue_is_the_cargo_features() {
        let manifest: toml::Value =
            toml::from_str(include_str!("../Cargo.toml")).expect("experiments' Cargo.toml");
        let mut features: Vec<&str> = manifest["features"]
            .as_table()
            .expect("[features]")
            .keys()
            .map(String::as_str)
            .filter(|name| *name != "default")
            .collect();
        features.sort_unstable();
        let mut catalogue = all_backends();
        catalogue.sort_unstable();
        assert_eq!(catalogue, features);
    }
}
