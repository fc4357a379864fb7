//! The cargo commands `xtask` runs: the toolchain's cargo with LibTorch's environment when the
//! `tch` backend is built, the feature lists of the test and lint builds, and wgpu's runtime
//! directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::libtorch::LibTorch;

/// `cargo`, as the one running xtask, in the environment of a plain `cargo` command: without
/// the package variables `cargo run` set for xtask (`CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`, …).
/// ring's build script reruns when they change, so a build through xtask and a build by hand
/// would otherwise rebuild, in turn, everything above ring (LibTorch's bindings, Burn).
pub fn cargo_command() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let set_by_cargo_run = name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || [
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
            ]
            .contains(&name.as_ref());
        if set_by_cargo_run {
            command.env_remove(name.as_ref());
        }
    }
    command
}

/// `cargo` with LibTorch's environment when it is set up (building the `tch` feature needs it,
/// running its binaries too).
pub fn cargo_with(libtorch: Option<&LibTorch>) -> Command {
    let mut command = cargo_command();
    if let Some(libtorch) = libtorch {
        libtorch.apply(&mut command);
    }
    command
}

pub fn cargo(args: &[&str]) -> Result<()> {
    let mut command = cargo_command();
    let status = command
        .args(args)
        .status()
        .with_context(|| format!("cannot run `{}`", command.get_program().display()))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// The features of the test build: `experiments` with every backend that runs here: flex and
/// ndarray (its defaults), wgpu (on a Vulkan driver), and tch when LibTorch is set up. CUDA's
/// code compiles without a GPU or a toolkit but cannot run here: `lint` checks it.
pub fn test_features(libtorch: Option<&LibTorch>) -> String {
    with_tch("experiments/wgpu,lookahead-optim/bench-wgpu", libtorch)
}

/// The features `lint` checks: every backend that compiles here, and the step bench's wgpu table.
pub fn lint_features(libtorch: Option<&LibTorch>) -> String {
    with_tch(
        "experiments/ndarray,experiments/wgpu,experiments/cuda,lookahead-optim/bench-wgpu",
        libtorch,
    )
}

/// `features`, and `experiments/tch` when LibTorch is set up.
pub fn with_tch(features: &str, libtorch: Option<&LibTorch>) -> String {
    match libtorch {
        Some(_) => format!("{features},experiments/tch"),
        None => features.to_string(),
    }
}

/// Checks that wgpu can find a Vulkan driver (Linux), and returns XDG_RUNTIME_DIR to set when
/// it is unset (wgpu's Vulkan loader warns without one).
pub fn wgpu_environment() -> Result<Option<PathBuf>> {
    if cfg!(target_os = "linux") {
        let from_env = ["VK_ICD_FILENAMES", "VK_DRIVER_FILES"]
            .iter()
            .any(|v| std::env::var_os(v).is_some());
        let folders = [
            "/usr/share/vulkan/icd.d",
            "/etc/vulkan/icd.d",
            "/usr/local/share/vulkan/icd.d",
        ];
        let installed = folders.iter().any(|folder| {
            std::fs::read_dir(folder).is_ok_and(|entries| {
                entries
                    .flatten()
                    .any(|e| e.path().extension().is_some_and(|x| x == "json"))
            })
        });
        if !from_env && !installed {
            bail!(
                "no Vulkan driver found (no ICD file in {}), and the wgpu tests need one. \
                 Without a GPU, install Mesa's software driver: `sudo apt-get install -y \
                 mesa-vulkan-drivers`. Or run the CPU backends' tests only: `cargo test \
                 --workspace`",
                folders.join(", ")
            );
        }
    }
    if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
        return Ok(None);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/xdg-runtime");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", dir.display()))?;
    }
    Ok(Some(dir))
}

/// Runs cargo (with LibTorch's environment when set up), echoing its stderr, and returns its
/// stdout.
pub fn cargo_output(libtorch: Option<&LibTorch>, args: &[&str]) -> Result<String> {
    let mut command = cargo_with(libtorch);
    let output = command
        .args(args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run `{}`", command.get_program().display()))?;
    if !output.status.success() {
        bail!("`cargo {}` failed ({})", args.join(" "), output.status);
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
