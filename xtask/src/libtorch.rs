//! LibTorch for Burn's `tch` backend: where it is, whether it is the version tch 0.22 was written
//! for, how to prepare it (`cargo xtask setup libtorch`) and the environment cargo and the
//! binaries need to build and run with it.
//!
//! Two sources, in this order:
//! 1. `$LIBTORCH`: a LibTorch folder (the C++ distribution from pytorch.org, or one tch
//!    downloaded), used as tch documents it;
//! 2. a Python virtual environment holding PyPI's `torch==2.9.0` (what `cargo xtask setup
//!    libtorch` makes): `$LOOKAHEAD_LIBTORCH_VENV`, else `$XDG_CACHE_HOME/lookahead-burn/
//!    libtorch-2.9.0` (`~/.cache/…`). tch builds against it with `LIBTORCH_USE_PYTORCH=1` and the
//!    venv's `python` first on `PATH`; the binaries find its `torch/lib` on `LD_LIBRARY_PATH`.
//!
//! Without either, nothing here fails: the tasks build without the `tch` feature (Flex is the
//! CPU backend) and `--backend tch` says how to set LibTorch up.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The PyTorch version tch 0.22 (Burn 0.21's LibTorch backend) is written for; torch-sys refuses
/// any other.
pub const TORCH_VERSION: &str = "2.9.0";

/// A LibTorch found on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LibTorch {
    /// `$LIBTORCH`: a LibTorch folder (`lib/`, `include/`).
    Folder(PathBuf),
    /// A venv with PyPI's torch: the venv and its `site-packages/torch/lib`.
    Venv {
        /// The venv's root.
        root: PathBuf,
        /// Its `torch/lib` (the shared libraries the binaries load).
        lib: PathBuf,
    },
}

impl LibTorch {
    /// Finds LibTorch: `$LIBTORCH`, else the venv (see the module's documentation). `Ok(None)`
    /// when neither exists; an error when one exists but cannot be used (wrong version, no
    /// libraries), naming the path.
    pub fn find() -> Result<Option<Self>> {
        if let Some(folder) = std::env::var_os("LIBTORCH") {
            let folder = PathBuf::from(folder);
            let lib = folder.join("lib");
            if !lib.join(library_name("torch_cpu")).is_file() {
                bail!(
                    "LIBTORCH={} has no {}: point it at an unpacked LibTorch {TORCH_VERSION} \
                     folder, or unset it and run `cargo xtask setup libtorch`",
                    folder.display(),
                    lib.join(library_name("torch_cpu")).display()
                );
            }
            return Ok(Some(Self::Folder(folder)));
        }
        let root = venv_dir()?;
        if !root.exists() {
            return Ok(None);
        }
        Self::from_venv(&root).map(Some)
    }

    /// Checks a venv made by `setup`: PyPI's torch at [`TORCH_VERSION`], with its libraries.
    pub fn from_venv(root: &Path) -> Result<Self> {
        let site = site_packages(root)?;
        match installed_torch(&site)? {
            Some(version) if version == TORCH_VERSION => {}
            Some(version) => bail!(
                "{} holds torch {version}, but Burn's LibTorch backend (tch 0.22) needs \
                 {TORCH_VERSION}: run `cargo xtask setup libtorch` to reinstall it",
                root.display()
            ),
            None => bail!(
                "{} is not a LibTorch venv (no torch in {}): remove it and run `cargo xtask \
                 setup libtorch`",
                root.display(),
                site.display()
            ),
        }
        let lib = site.join("torch").join("lib");
        if !lib.join(library_name("torch_cpu")).is_file() {
            bail!(
                "{} has no LibTorch libraries ({} is missing): run `cargo xtask setup libtorch`",
                root.display(),
                lib.join(library_name("torch_cpu")).display()
            );
        }
        Ok(Self::Venv {
            root: root.to_path_buf(),
            lib,
        })
    }

    /// The folder of LibTorch's shared libraries.
    pub fn lib_dir(&self) -> PathBuf {
        match self {
            Self::Folder(folder) => folder.join("lib"),
            Self::Venv { lib, .. } => lib.clone(),
        }
    }

    /// The Python interpreter with this torch (for the PyTorch reference figures), if any.
    pub fn python(&self) -> Option<PathBuf> {
        match self {
            Self::Folder(_) => None,
            Self::Venv { root, .. } => Some(root.join("bin").join("python")),
        }
    }

    /// The environment a cargo build with the `tch` feature and its binaries need, as
    /// (variable, value) pairs; for a venv also `PYTHON` (its interpreter, which the
    /// throughput bench runs for PyTorch's figure) unless set.
    pub fn environment(&self) -> Vec<(&'static str, OsString)> {
        let mut vars = Vec::new();
        if let Self::Venv { root, .. } = self {
            vars.push(("LIBTORCH_USE_PYTORCH", OsString::from("1")));
            vars.push(("PATH", prepend_path("PATH", &root.join("bin"))));
        }
        vars.push((
            "LD_LIBRARY_PATH",
            prepend_path("LD_LIBRARY_PATH", &self.lib_dir()),
        ));
        // The throughput bench's PyTorch reference: this torch, unless PYTHON says otherwise.
        if let (Some(python), None) = (self.python(), std::env::var_os("PYTHON")) {
            vars.push(("PYTHON", python.into_os_string()));
        }
        vars
    }

    /// Shell lines that set the same environment by hand (paths prepended to the current value).
    pub fn exports(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Self::Venv { root, .. } = self {
            lines.push("export LIBTORCH_USE_PYTORCH=1".to_string());
            lines.push(format!(
                "export PATH=\"{}:$PATH\"",
                root.join("bin").display()
            ));
        }
        lines.push(format!(
            "export LD_LIBRARY_PATH=\"{}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}\"",
            self.lib_dir().display()
        ));
        lines
    }

    /// Sets [`Self::environment`] on `command`.
    pub fn apply(&self, command: &mut Command) {
        for (name, value) in self.environment() {
            command.env(name, value);
        }
    }
}

/// Where `setup` puts the venv: `$LOOKAHEAD_LIBTORCH_VENV`, else
/// `$XDG_CACHE_HOME/lookahead-burn/libtorch-<version>`, else `~/.cache/…`.
pub fn venv_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("LOOKAHEAD_LIBTORCH_VENV") {
        return Ok(PathBuf::from(dir));
    }
    let cache = match std::env::var_os("XDG_CACHE_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(
            std::env::var_os("HOME")
                .context("neither LOOKAHEAD_LIBTORCH_VENV, XDG_CACHE_HOME nor HOME is set")?,
        )
        .join(".cache"),
    };
    Ok(cache
        .join("lookahead-burn")
        .join(format!("libtorch-{TORCH_VERSION}")))
}

/// `cargo xtask setup libtorch`: makes (or checks) the venv, installs PyPI's torch at
/// [`TORCH_VERSION`], verifies it imports, and returns it.
pub fn setup(root: &Path) -> Result<LibTorch> {
    if let Ok(found) = LibTorch::from_venv(root) {
        println!(
            "LibTorch {TORCH_VERSION} is already set up in {}",
            root.display()
        );
        companions(root)?;
        return Ok(found);
    }
    if !root.join("bin").join("python").exists() {
        println!("creating a Python venv in {}", root.display());
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(root)
            .status()
            .context(
                "cannot run python3: LibTorch comes from PyPI's torch, installed with pip in a \
                 venv (Debian: `apt-get install python3-venv`); or set LIBTORCH to a LibTorch \
                 folder from pytorch.org",
            )?;
        if !status.success() {
            bail!(
                "`python3 -m venv {}` failed ({status}); on Debian install python3-venv",
                root.display()
            );
        }
    }
    println!("installing torch=={TORCH_VERSION} from PyPI (about 2.5 GB to download) …");
    let status = Command::new(root.join("bin").join("pip"))
        .args(["install", "--disable-pip-version-check", "--quiet"])
        .arg(format!("torch=={TORCH_VERSION}"))
        .status()
        .with_context(|| format!("cannot run pip in {}", root.display()))?;
    if !status.success() {
        bail!("`pip install torch=={TORCH_VERSION}` failed ({status}): see pip's message above");
    }
    let check = Command::new(root.join("bin").join("python"))
        .args(["-c", "import torch; print(torch.__version__)"])
        .output()
        .with_context(|| format!("cannot run {}/bin/python", root.display()))?;
    if !check.status.success() {
        bail!(
            "torch does not import in {}: {}",
            root.display(),
            String::from_utf8_lossy(&check.stderr).trim()
        );
    }
    companions(root)?;
    LibTorch::from_venv(root)
}

/// The Python packages used beside torch, with the versions that go with it: torchvision (the
/// PyTorch reference of `cargo xtask bench` imports it) and tensorboard (the tests read the
/// runs' event files back with it). Installed when missing.
const COMPANIONS: &[(&str, &str)] = &[
    ("torchvision", "torchvision==0.24.0"),
    ("tensorboard", "tensorboard==2.20.0"),
];

/// Installs whichever [`COMPANIONS`] do not import in the venv at `root`.
fn companions(root: &Path) -> Result<()> {
    let python = root.join("bin").join("python");
    for (module, requirement) in COMPANIONS {
        let imports = Command::new(&python)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if imports {
            continue;
        }
        println!("installing {requirement} from PyPI …");
        let status = Command::new(root.join("bin").join("pip"))
            .args([
                "install",
                "--disable-pip-version-check",
                "--quiet",
                requirement,
            ])
            .status()
            .with_context(|| format!("cannot run pip in {}", root.display()))?;
        if !status.success() {
            bail!("`pip install {requirement}` failed ({status}): see pip's message above");
        }
    }
    Ok(())
}

/// The venv's `lib/pythonX.Y/site-packages`.
fn site_packages(root: &Path) -> Result<PathBuf> {
    let lib = root.join("lib");
    let entries =
        std::fs::read_dir(&lib).with_context(|| format!("{} is not a venv", lib.display()))?;
    entries
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.is_dir())
        .with_context(|| format!("{}: no python*/site-packages", lib.display()))
}

/// The torch version installed in `site` (from its `torch-<version>.dist-info` folder, local
/// tags such as `+cpu` dropped), if any.
fn installed_torch(site: &Path) -> Result<Option<String>> {
    let entries =
        std::fs::read_dir(site).with_context(|| format!("cannot read {}", site.display()))?;
    Ok(entries.flatten().find_map(|entry| {
        let name = entry.file_name().into_string().ok()?;
        torch_dist_info_version(&name)
    }))
}

/// `torch-2.9.0+cpu.dist-info` → `2.9.0`; any other name → `None`.
fn torch_dist_info_version(name: &str) -> Option<String> {
    let version = name.strip_prefix("torch-")?.strip_suffix(".dist-info")?;
    Some(version.split('+').next()?.to_string())
}

/// `lib<name>.so` (Linux), `lib<name>.dylib` (macOS), `<name>.dll` (Windows).
fn library_name(name: &str) -> String {
    if cfg!(target_os = "macos") {
        format!("lib{name}.dylib")
    } else if cfg!(windows) {
        format!("{name}.dll")
    } else {
        format!("lib{name}.so")
    }
}

/// `dir` followed by the current value of the path list `variable`.
fn prepend_path(variable: &str, dir: &Path) -> OsString {
    let mut paths = vec![dir.to_path_buf()];
    if let Some(current) = std::env::var_os(variable) {
        paths.extend(std::env::split_paths(&current));
    }
    std::env::join_paths(paths).unwrap_or_else(|_| dir.as_os_str().to_os_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dist_info_names_give_the_version() {
        assert_eq!(
            torch_dist_info_version("torch-2.9.0.dist-info").as_deref(),
            Some("2.9.0")
        );
        assert_eq!(
            torch_dist_info_version("torch-2.9.0+cpu.dist-info").as_deref(),
            Some("2.9.0")
        );
        assert_eq!(
            torch_dist_info_version("torchvision-0.24.0.dist-info"),
            None
        );
        assert_eq!(torch_dist_info_version("torch"), None);
    }

    /// A venv layout with `torch-<version>.dist-info` and, optionally, the libraries.
    fn fake_venv(version: &str, with_lib: bool) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let site = dir.path().join("lib/python3.11/site-packages");
        std::fs::create_dir_all(site.join(format!("torch-{version}.dist-info"))).expect("mkdir");
        if with_lib {
            std::fs::create_dir_all(site.join("torch/lib")).expect("mkdir");
            std::fs::write(site.join("torch/lib").join(library_name("torch_cpu")), b"")
                .expect("write");
        }
        dir
    }

    #[test]
    fn a_venv_is_accepted_only_with_the_pinned_version_and_its_libraries() {
        let good = fake_venv(TORCH_VERSION, true);
        let found = LibTorch::from_venv(good.path()).expect("a good venv");
        assert!(found.lib_dir().ends_with("site-packages/torch/lib"));
        let vars = found.environment();
        assert!(
            vars.iter()
                .any(|(k, v)| *k == "LIBTORCH_USE_PYTORCH" && v == "1")
        );
        let ld = &vars
            .iter()
            .find(|(k, _)| *k == "LD_LIBRARY_PATH")
            .expect("LD")
            .1;
        assert!(
            std::env::split_paths(ld).next() == Some(found.lib_dir()),
            "{ld:?}"
        );

        let exports = found.exports();
        assert_eq!(exports[0], "export LIBTORCH_USE_PYTORCH=1");
        let ld = format!("export LD_LIBRARY_PATH=\"{}$", found.lib_dir().display());
        assert!(exports[2].starts_with(&ld), "{exports:?}");

        let old = fake_venv("2.8.0", true);
        let err = LibTorch::from_venv(old.path()).unwrap_err().to_string();
        assert!(
            err.contains("2.8.0") && err.contains("needs 2.9.0"),
            "{err}"
        );

        let no_lib = fake_venv(TORCH_VERSION, false);
        let err = LibTorch::from_venv(no_lib.path()).unwrap_err().to_string();
        assert!(err.contains("torch/lib"), "{err}");

        let empty = tempfile::tempdir().expect("temp dir");
        let err = LibTorch::from_venv(empty.path()).unwrap_err().to_string();
        assert!(err.contains("not a venv"), "{err}");
    }
}
