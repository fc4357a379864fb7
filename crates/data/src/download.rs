//! Downloads from the official URLs with checksum verification, a progress bar, a temporary
//! file renamed into place, and extraction; and `import` of an archive the user already has.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use md5::{Digest, Md5};

use crate::error::{DataError, Result};

/// The environment variable naming the data directory.
pub const DATA_DIR_ENV: &str = "LOOKAHEAD_DATA_DIR";

/// The data directory: `flag` if given, else `$LOOKAHEAD_DATA_DIR`, else `datasets/`.
pub fn data_dir(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os(DATA_DIR_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("datasets"))
}

/// A published checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// MD5 (hex), as published by the dataset's authors, and the size in bytes where known.
    Md5(&'static str, Option<u64>),
    /// Size in bytes only (fastai publishes no checksum for Imagenette on its page).
    Size(u64),
    /// Nothing published that we know of.
    None,
}

/// One downloadable file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteFile {
    /// Official URL.
    pub url: &'static str,
    /// Published checksum.
    pub check: Check,
}

impl RemoteFile {
    /// The file name (last URL segment).
    pub fn file_name(&self) -> &'static str {
        self.url.rsplit('/').next().unwrap_or(self.url)
    }
}

/// A dataset that can be downloaded or imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatasetSpec {
    /// Name used on the command line (`cifar10`, `imagenette2-160`, …).
    pub name: &'static str,
    /// Its files: one archive, or (Fashion-MNIST) several gzipped files.
    pub files: &'static [RemoteFile],
    /// Whether the files are `.tar.gz` archives to extract into the data directory.
    pub archive: bool,
    /// The folder the dataset occupies in the data directory once ready.
    pub folder: &'static str,
}

macro_rules! fashion_url {
    () => {
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com"
    };
}

macro_rules! fastai {
    ($name:literal, $check:expr) => {
        DatasetSpec {
            name: $name,
            files: &[RemoteFile {
                url: concat!("https://s3.amazonaws.com/fast-ai-imageclas/", $name, ".tgz"),
                check: $check,
            }],
            archive: true,
            folder: $name,
        }
    };
}

/// Every dataset we know, with official URLs and published checksums.
pub const DATASETS: &[DatasetSpec] = &[
    DatasetSpec {
        name: "cifar10",
        files: &[RemoteFile {
            url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
            check: Check::Md5("c32a1d4ab5d03f1284b67883e8d87530", Some(170_052_171)),
        }],
        archive: true,
        folder: "cifar-10-batches-bin",
    },
    DatasetSpec {
        name: "cifar100",
        files: &[RemoteFile {
            url: "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
            check: Check::Md5("03b5dce01913d631647c71ecec9e9cb8", None),
        }],
        archive: true,
        folder: "cifar-100-binary",
    },
    fastai!("imagenette2", Check::Size(1_557_161_267)),
    fastai!("imagenette2-320", Check::Size(341_663_724)),
    fastai!("imagenette2-160", Check::Size(99_003_388)),
    fastai!("imagewoof2", Check::None),
    fastai!("imagewoof2-320", Check::None),
    fastai!("imagewoof2-160", Check::None),
    DatasetSpec {
        name: "fashion-mnist",
        files: &[
            RemoteFile {
                url: concat!(fashion_url!(), "/train-images-idx3-ubyte.gz"),
                check: Check::Md5("8d4fb7e6c68d591d4c3dfef9ec88bf0d", None),
            },
            RemoteFile {
                url: concat!(fashion_url!(), "/train-labels-idx1-ubyte.gz"),
                check: Check::Md5("25c81989df183df01b3e8a0aad5dffbe", None),
            },
            RemoteFile {
                url: concat!(fashion_url!(), "/t10k-images-idx3-ubyte.gz"),
                check: Check::Md5("bef4ecab320f06d8554ea6380940ec79", None),
            },
            RemoteFile {
                url: concat!(fashion_url!(), "/t10k-labels-idx1-ubyte.gz"),
                check: Check::Md5("bb300cfdad3c16e7a12a480ee83cd310", None),
            },
        ],
        archive: false,
        folder: "fashion-mnist",
    },
];

/// The spec of dataset `name`, or an error listing the known names.
pub fn dataset_spec(name: &str) -> Result<&'static DatasetSpec> {
    DATASETS.iter().find(|d| d.name == name).ok_or_else(|| {
        let known: Vec<&str> = DATASETS.iter().map(|d| d.name).collect();
        DataError::Invalid(format!(
            "unknown dataset `{name}`; known: {}",
            known.join(", ")
        ))
    })
}

/// MD5 (hex) and size of a file.
fn md5_file(path: &Path) -> Result<(String, u64)> {
    let mut file = File::open(path).map_err(DataError::io(path))?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(DataError::io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        size,
    ))
}

/// Verifies `path` against `check`.
pub fn verify(path: &Path, check: Check) -> Result<()> {
    let mismatch = |kind, expected: String, actual: String| DataError::Checksum {
        path: path.to_path_buf(),
        kind,
        expected,
        actual,
    };
    match check {
        Check::Md5(expected, expected_size) => {
            let (md5, size) = md5_file(path)?;
            if let Some(expected_size) = expected_size.filter(|&e| e != size) {
                return Err(mismatch(
                    "size",
                    expected_size.to_string(),
                    size.to_string(),
                ));
            }
            if md5 != expected {
                return Err(mismatch("md5", expected.to_string(), md5));
            }
        }
        Check::Size(expected) => {
            let size = fs::metadata(path).map_err(DataError::io(path))?.len();
            if size != expected {
                return Err(mismatch("size", expected.to_string(), size.to_string()));
            }
        }
        Check::None => {}
    }
    Ok(())
}

fn import_command(spec: &DatasetSpec) -> String {
    if spec.archive {
        format!(
            "cargo xtask import {} <path to {}>",
            spec.name,
            spec.files[0].file_name()
        )
    } else {
        format!(
            "cargo xtask import {} <folder holding the {} files>",
            spec.name,
            spec.files.len()
        )
    }
}

/// Downloads `file` to `dest` through `dest.part` (renamed into place once verified).
fn fetch(spec: &DatasetSpec, file: &RemoteFile, dest: &Path, progress: bool) -> Result<()> {
    let fail = |reason: String| DataError::Download {
        url: file.url.to_string(),
        reason,
        import: import_command(spec),
    };
    let response = ureq::get(file.url)
        .call()
        .map_err(|e| fail(e.to_string()))?;
    let total = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let bar = if progress {
        ProgressBar::new(total.unwrap_or(0))
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(file.file_name());
    let part = dest.with_extension("part");
    let mut out = File::create(&part).map_err(DataError::io(&part))?;
    let mut body = response.into_body().into_reader();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = body.read(&mut buf).map_err(|e| fail(e.to_string()))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).map_err(DataError::io(&part))?;
        bar.inc(n as u64);
    }
    out.sync_all().map_err(DataError::io(&part))?;
    bar.finish();
    if let Err(e) = verify(&part, file.check) {
        let _ = fs::remove_file(&part);
        return Err(e);
    }
    fs::rename(&part, dest).map_err(DataError::io(dest))
}

/// Extracts a `.tar.gz` into `data_dir`, through a temporary folder renamed into place.
fn extract(archive: &Path, data_dir: &Path, folder: &str) -> Result<PathBuf> {
    let tmp = data_dir.join(format!(".extract-{folder}"));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(DataError::io(&tmp))?;
    }
    fs::create_dir_all(&tmp).map_err(DataError::io(&tmp))?;
    let file = File::open(archive).map_err(DataError::io(archive))?;
    tar::Archive::new(flate2::read::GzDecoder::new(file))
        .unpack(&tmp)
        .map_err(|e| DataError::format(archive, format!("cannot extract: {e}")))?;
    let extracted = tmp.join(folder);
    if !extracted.is_dir() {
        return Err(DataError::format(
            archive,
            format!("the archive has no `{folder}/` folder"),
        ));
    }
    let target = data_dir.join(folder);
    if target.exists() {
        fs::remove_dir_all(&target).map_err(DataError::io(&target))?;
    }
    fs::rename(&extracted, &target).map_err(DataError::io(&target))?;
    fs::remove_dir_all(&tmp).map_err(DataError::io(&tmp))?;
    Ok(target)
}

/// Downloads dataset `name` into `data_dir` (skipping files already there and verified) and
/// extracts it. Returns the dataset's folder. Offline, the error names the URL and the import
/// command.
pub fn download(name: &str, data_dir: &Path, progress: bool) -> Result<PathBuf> {
    let spec = dataset_spec(name)?;
    let target = data_dir.join(spec.folder);
    let store = if spec.archive {
        data_dir.to_path_buf()
    } else {
        target.clone()
    };
    fs::create_dir_all(&store).map_err(DataError::io(&store))?;
    for file in spec.files {
        let dest = store.join(file.file_name());
        if !(dest.is_file() && verify(&dest, file.check).is_ok()) {
            fetch(spec, file, &dest, progress)?;
        }
        if spec.archive {
            extract(&dest, data_dir, spec.folder)?;
        }
    }
    Ok(target)
}

/// Imports dataset `name` from `source` (the archive, or for Fashion-MNIST the folder holding
/// its files) into `data_dir`, after verifying the published checksums.
pub fn import(name: &str, source: &Path, data_dir: &Path) -> Result<PathBuf> {
    let spec = dataset_spec(name)?;
    if !source.exists() {
        return Err(DataError::Missing {
            path: source.to_path_buf(),
            hint: format!("usage: {}", import_command(spec)),
        });
    }
    fs::create_dir_all(data_dir).map_err(DataError::io(data_dir))?;
    if spec.archive {
        verify(source, spec.files[0].check)?;
        return extract(source, data_dir, spec.folder);
    }
    let target = data_dir.join(spec.folder);
    fs::create_dir_all(&target).map_err(DataError::io(&target))?;
    for file in spec.files {
        let from = source.join(file.file_name());
        verify(&from, file.check)?;
        let part = target.join(format!("{}.part", file.file_name()));
        fs::copy(&from, &part).map_err(DataError::io(&part))?;
        fs::rename(&part, target.join(file.file_name())).map_err(DataError::io(&target))?;
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_download_names_the_url_and_the_import_command() {
        const SPEC: DatasetSpec = DatasetSpec {
            name: "cifar10",
            // Port 9 (discard) on the loopback: refused at once, like an offline machine.
            files: &[RemoteFile {
                url: "http://127.0.0.1:9/cifar-10-binary.tar.gz",
                check: Check::None,
            }],
            archive: true,
            folder: "cifar-10-batches-bin",
        };
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("cifar-10-binary.tar.gz");
        let err = fetch(&SPEC, &SPEC.files[0], &dest, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("cannot download http://127.0.0.1:9/cifar-10-binary.tar.gz: "),
            "{err}"
        );
        assert!(
            err.ends_with(
                "import it with `cargo xtask import cifar10 <path to cifar-10-binary.tar.gz>`"
            ),
            "{err}"
        );
        assert!(
            !dest.exists() && !dest.with_extension("part").exists(),
            "nothing half-written is left"
        );
    }

    #[test]
    fn data_dir_precedence() {
        assert_eq!(data_dir(Some(Path::new("/x"))), PathBuf::from("/x"));
    }

    #[test]
    fn every_dataset_has_an_official_url() {
        for spec in DATASETS {
            assert!(
                spec.files.iter().all(|f| f.url.starts_with("http")),
                "{}",
                spec.name
            );
            assert_eq!(dataset_spec(spec.name).unwrap().name, spec.name);
        }
    }
}
