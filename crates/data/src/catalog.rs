//! The one catalogue of datasets: names, official URLs, published checksums and sizes, archive
//! and folder names ([`DATASETS`]); the datasets a run can name ([`DatasetKind`]); and where one
//! is on disk ([`locate`]). Used by the readers, `experiments` and `xtask` alike, and free of
//! Burn, so that `xtask` can check a dataset before it builds anything.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{DataError, Result};
use crate::fashion::find_full_fashion_mnist;

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
    /// SHA-256 (hex) and the size in bytes where known (for Imagenette's 2019 release, as
    /// TensorFlow Datasets recorded it: fastai published none).
    Sha256(&'static str, Option<u64>),
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
    /// Whether the readers read the downloaded archive itself (CIFAR's `.tar.gz`), so that the
    /// archive alone counts as present; otherwise only the extracted `folder` does.
    pub reads_archive: bool,
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
            reads_archive: false,
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
        reads_archive: true,
    },
    DatasetSpec {
        name: "cifar100",
        files: &[RemoteFile {
            url: "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
            check: Check::Md5("03b5dce01913d631647c71ecec9e9cb8", None),
        }],
        archive: true,
        folder: "cifar-100-binary",
        reads_archive: true,
    },
    fastai!("imagenette2", Check::Size(1_557_161_267)),
    fastai!("imagenette2-320", Check::Size(341_663_724)),
    fastai!("imagenette2-160", Check::Size(99_003_388)),
    // The original 2019 release the seed study trained on (fastai v1's `URLs.IMAGENETTE_320`:
    // 12,894 train / 500 val, `imagenette-320/{train,val}/<wnid>/`), replaced in December 2019
    // by imagenette2's 70/30 split. Size and SHA-256 from TensorFlow Datasets' checksums.tsv.
    fastai!(
        "imagenette-320",
        Check::Sha256(
            "0e3ac85d7f3fd0a63d5e27d85c68511be9ac4dae260345b6f7434a0d4fa24b3f",
            Some(341_289_752)
        )
    ),
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
        reads_archive: false,
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

/// The Imagenette variants `imagenette` stands for, in the order they are looked for.
pub const IMAGENETTE_DEFAULT: &[&str] = &["imagenette2-160", "imagenette2-320", "imagenette2"];

/// Where the committed Fashion-MNIST test set lives, relative to the repository root.
pub const EMBEDDED_FASHION_MNIST_DIR: &str = "datasets/fashion-mnist-t10k";

/// A dataset a run can name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatasetKind {
    /// The Fashion-MNIST test set committed in `datasets/` (8,000 train / 2,000 valid).
    FashionMnistEmbedded,
    /// The full Fashion-MNIST (60,000 / 10,000).
    FashionMnist,
    /// CIFAR-10.
    Cifar10,
    /// CIFAR-100 (fine labels).
    Cifar100,
    /// An Imagenette-layout folder of the catalogue (`imagenette2-320`, `imagewoof2-160`, …);
    /// `None` = the first of [`IMAGENETTE_DEFAULT`] on disk.
    Imagenette(Option<&'static str>),
}

const KNOWN: &str = "fashion-mnist-embedded, fashion-mnist, cifar10, cifar100, imagenette, \
                     imagenette2[-160|-320], imagewoof2[-160|-320], imagenette-320 (2019)";

impl DatasetKind {
    /// The number of classes: 100 for CIFAR-100, 10 for every other dataset of the catalogue.
    ///
    /// ```
    /// assert_eq!(data::DatasetKind::Cifar100.num_classes(), 100);
    /// assert_eq!(data::DatasetKind::Imagenette(None).num_classes(), 10);
    /// ```
    pub fn num_classes(&self) -> usize {
        match self {
            DatasetKind::Cifar100 => 100,
            DatasetKind::FashionMnistEmbedded
            | DatasetKind::FashionMnist
            | DatasetKind::Cifar10
            | DatasetKind::Imagenette(_) => 10,
        }
    }
}

impl FromStr for DatasetKind {
    type Err = DataError;

    /// ```
    /// use data::DatasetKind;
    /// let kind: DatasetKind = "imagenette2-320".parse().unwrap();
    /// assert_eq!(kind, DatasetKind::Imagenette(Some("imagenette2-320")));
    /// assert_eq!(kind.to_string(), "imagenette2-320");
    /// assert!("mnist".parse::<DatasetKind>().unwrap_err().to_string().contains("unknown dataset `mnist`"));
    /// ```
    fn from_str(name: &str) -> Result<Self> {
        Ok(match name {
            "fashion-mnist-embedded" => DatasetKind::FashionMnistEmbedded,
            "fashion-mnist" => DatasetKind::FashionMnist,
            "cifar10" => DatasetKind::Cifar10,
            "cifar100" => DatasetKind::Cifar100,
            "imagenette" => DatasetKind::Imagenette(None),
            n if n.starts_with("imagenette2")
                || n.starts_with("imagewoof2")
                || n == "imagenette-320" =>
            {
                DatasetKind::Imagenette(Some(dataset_spec(n)?.name))
            }
            other => {
                return Err(DataError::Invalid(format!(
                    "unknown dataset `{other}`; known: {KNOWN}"
                )));
            }
        })
    }
}

impl fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DatasetKind::FashionMnistEmbedded => "fashion-mnist-embedded",
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Cifar10 => "cifar10",
            DatasetKind::Cifar100 => "cifar100",
            DatasetKind::Imagenette(None) => "imagenette",
            DatasetKind::Imagenette(Some(name)) => name,
        })
    }
}

/// Configs hold the name as written (`"cifar10"`), read back through [`FromStr`].
impl serde::Serialize for DatasetKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DatasetKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// A dataset found on disk: the catalogue variant it is and the path the readers take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The catalogue name of the variant used (`imagenette2-160` for `imagenette`, …).
    pub variant: &'static str,
    /// The folder (or, for CIFAR, possibly the archive) the readers read.
    pub path: PathBuf,
}

/// Refuses a link at `path` that leads nowhere (to itself, round a loop, or to nothing): the
/// dataset is there by name, and "not on disk" would send the user to download it again.
fn no_dangling_link(path: &Path) -> Result<()> {
    match (std::fs::symlink_metadata(path), std::fs::metadata(path)) {
        (Ok(_), Err(e)) => Err(DataError::format(
            path,
            format!("is a link that leads nowhere readable ({e}): a loop, or a missing target"),
        )),
        _ => Ok(()),
    }
}

/// Where dataset `kind` is under `dir`; the error names the download and import commands.
/// Exactly what the readers can read counts as present: CIFAR's folder or archive, Imagenette's
/// extracted folder only, Fashion-MNIST's files in `dir` or Debian's package.
/// A link at the dataset's name that leads nowhere is named as such.
pub fn locate(kind: &DatasetKind, dir: &Path) -> Result<Located> {
    let variants: Vec<&'static str> = match kind {
        DatasetKind::FashionMnistEmbedded => {
            return Ok(Located {
                variant: "fashion-mnist-embedded",
                path: PathBuf::from(EMBEDDED_FASHION_MNIST_DIR),
            });
        }
        DatasetKind::FashionMnist => {
            no_dangling_link(&dir.join("fashion-mnist"))?;
            return find_full_fashion_mnist(dir)
                .map(|path| Located {
                    variant: "fashion-mnist",
                    path,
                })
                .ok_or_else(|| not_on_disk("fashion-mnist", dir));
        }
        DatasetKind::Cifar10 => vec!["cifar10"],
        DatasetKind::Cifar100 => vec!["cifar100"],
        DatasetKind::Imagenette(Some(name)) => vec![name],
        DatasetKind::Imagenette(None) => IMAGENETTE_DEFAULT.to_vec(),
    };
    for name in &variants {
        let spec = dataset_spec(name)?;
        let folder = dir.join(spec.folder);
        let archive = dir.join(spec.files[0].file_name());
        no_dangling_link(&folder)?;
        let path = if folder.exists() {
            folder
        } else if spec.reads_archive && archive.is_file() {
            archive
        } else {
            continue;
        };
        return Ok(Located {
            variant: spec.name,
            path,
        });
    }
    Err(not_on_disk(variants[0], dir))
}

fn not_on_disk(name: &str, dir: &Path) -> DataError {
    DataError::NotOnDisk {
        dataset: name.to_string(),
        dir: dir.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogue_name_parses_and_prints_back() {
        for spec in DATASETS {
            let kind: DatasetKind = spec.name.parse().unwrap();
            assert_eq!(kind.to_string(), spec.name);
        }
        for name in ["fashion-mnist-embedded", "imagenette"] {
            assert_eq!(name.parse::<DatasetKind>().unwrap().to_string(), name);
        }
        assert!("imagenette3".parse::<DatasetKind>().is_err());
    }

    #[test]
    fn an_archive_counts_only_where_the_reader_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // Imagenette's archive alone is not readable: missing, naming both commands.
        std::fs::write(d.join("imagenette2-160.tgz"), b"x").unwrap();
        let err = locate(&DatasetKind::Imagenette(None), d)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cargo xtask download imagenette2-160")
                && err.contains("cargo xtask import imagenette2-160"),
            "{err}"
        );
        // CIFAR's archive is read as is.
        std::fs::write(d.join("cifar-10-binary.tar.gz"), b"x").unwrap();
        let found = locate(&DatasetKind::Cifar10, d).unwrap();
        assert_eq!(found.path, d.join("cifar-10-binary.tar.gz"));
        // The first Imagenette variant on disk is the one used, and says so.
        std::fs::create_dir(d.join("imagenette2-320")).unwrap();
        let found = locate(&DatasetKind::Imagenette(None), d).unwrap();
        assert_eq!(
            (found.variant, found.path),
            ("imagenette2-320", d.join("imagenette2-320"))
        );
    }
}
