//! Downloads from the official URLs with checksum verification, a progress bar, a temporary
//! file renamed into place, and extraction; and `import` of an archive the user already has.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use md5::{Digest, Md5};
use sha2::Sha256;

use crate::atomic::AtomicFile;
use crate::catalog::{Check, DatasetSpec, RemoteFile, dataset_spec};
use crate::error::{DataError, Result};

/// Digest `D` (hex: MD5 or SHA-256) and size of a file.
fn digest_file<D: Digest>(path: &Path) -> Result<(String, u64)> {
    let mut file = File::open(path).map_err(DataError::io(path))?;
    let mut hasher = D::new();
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
        Check::Md5(expected, expected_size) | Check::Sha256(expected, expected_size) => {
            let (kind, (digest, size)) = match check {
                Check::Md5(..) => ("md5", digest_file::<Md5>(path)?),
                _ => ("sha256", digest_file::<Sha256>(path)?),
            };
            if let Some(expected_size) = expected_size.filter(|&e| e != size) {
                return Err(mismatch(
                    "size",
                    expected_size.to_string(),
                    size.to_string(),
                ));
            }
            if digest != expected {
                return Err(mismatch(kind, expected.to_string(), digest));
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

/// Downloads `file` to `dest` through a temporary file (renamed into place once verified).
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
    // Written beside `dest` and renamed into place once complete and verified; on any error
    // the partial file is removed.
    let mut out = AtomicFile::create(dest)?;
    let mut body = response.into_body().into_reader();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = body.read(&mut buf).map_err(|e| fail(e.to_string()))?;
        if n == 0 {
            break;
        }
        out.file()
            .write_all(&buf[..n])
            .map_err(DataError::io(dest))?;
        bar.inc(n as u64);
    }
    bar.finish();
    verify(out.temp_path(), file.check)?;
    out.commit()
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
        let dest = target.join(file.file_name());
        let mut out = AtomicFile::create(&dest)?;
        let mut source = File::open(&from).map_err(DataError::io(&from))?;
        std::io::copy(&mut source, out.file()).map_err(DataError::io(&dest))?;
        out.commit()?;
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
            reads_archive: true,
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
            !dest.exists() && std::fs::read_dir(tmp.path()).unwrap().next().is_none(),
            "nothing half-written is left"
        );
    }

    use crate::catalog::{DATASETS, data_dir};

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
