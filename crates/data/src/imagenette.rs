//! Imagenette and Imagewoof (`imagenette2`, `imagenette2-320`, `imagenette2-160`, `imagewoof2…`):
//! `train/<wnid>/*.JPEG`, `val/<wnid>/*.JPEG`, optional noisy labels, parallel decoding, and a
//! cache of decoded, resized images.

use std::collections::HashMap;
use std::fs;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::atomic::write_atomic_with;
use crate::error::{DataError, Result};
use crate::images::{Image, VarImageSet};
use crate::source::read_file;
use crate::split::Split;

/// Human-readable names of the Imagenette and Imagewoof classes, by WordNet id.
const CLASS_NAMES: [(&str, &str); 20] = [
    ("n01440764", "tench"),
    ("n02102040", "English springer"),
    ("n02979186", "cassette player"),
    ("n03000684", "chain saw"),
    ("n03028079", "church"),
    ("n03394916", "French horn"),
    ("n03417042", "garbage truck"),
    ("n03425413", "gas pump"),
    ("n03445777", "golf ball"),
    ("n03888257", "parachute"),
    ("n02086240", "Shih-Tzu"),
    ("n02087394", "Rhodesian ridgeback"),
    ("n02088364", "beagle"),
    ("n02089973", "English foxhound"),
    ("n02093754", "Border terrier"),
    ("n02096294", "Australian terrier"),
    ("n02099601", "golden retriever"),
    ("n02105641", "Old English sheepdog"),
    ("n02111889", "Samoyed"),
    ("n02115641", "dingo"),
];

/// The label-noise levels of `noisy_imagenette.csv` (percent of training labels changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LabelNoise {
    /// `noisy_labels_0` (the clean labels, read from the CSV).
    Pct0,
    /// `noisy_labels_1`.
    Pct1,
    /// `noisy_labels_5`.
    Pct5,
    /// `noisy_labels_25`.
    Pct25,
    /// `noisy_labels_50`.
    Pct50,
}

impl LabelNoise {
    fn column(self) -> &'static str {
        match self {
            LabelNoise::Pct0 => "noisy_labels_0",
            LabelNoise::Pct1 => "noisy_labels_1",
            LabelNoise::Pct5 => "noisy_labels_5",
            LabelNoise::Pct25 => "noisy_labels_25",
            LabelNoise::Pct50 => "noisy_labels_50",
        }
    }
}

/// How to read an Imagenette-layout folder.
#[derive(Debug, Clone)]
pub struct ImagenetteOptions {
    /// Shortest side after resizing (the training size; images are not cropped here).
    pub size: usize,
    /// Training labels from `noisy_imagenette.csv` (or `noisy_imagewoof.csv`) at this noise level.
    pub noise: Option<LabelNoise>,
    /// Skip undecodable images (counted in [`Imagenette::skipped`]) instead of failing.
    pub skip_corrupt: bool,
    /// Where decoded, resized images are cached; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
}

impl ImagenetteOptions {
    /// Options for training at `size`, with the cache in `<data_dir>/.cache`.
    pub fn new(size: usize, data_dir: &Path) -> Self {
        Self {
            size,
            noise: None,
            skip_corrupt: false,
            cache_dir: Some(data_dir.join(".cache")),
        }
    }
}

/// One split of an Imagenette-layout dataset.
#[derive(Debug, Clone)]
pub struct Imagenette {
    /// The decoded images and labels.
    pub set: VarImageSet,
    /// Corrupt images skipped (only with `skip_corrupt`).
    pub skipped: usize,
    /// Whether the images came from the cache.
    pub from_cache: bool,
    /// Why the cache on disk was not used and was rebuilt (corrupt, or written for other
    /// files), to be shown to the user.
    pub stale_cache: Option<String>,
}

/// Reads the `train` (`Split::Train`) or `val` (`Split::Test`) split of the Imagenette-layout
/// folder `root`.
pub fn read_imagenette(
    root: &Path,
    split: Split,
    options: &ImagenetteOptions,
) -> Result<Imagenette> {
    if options.size == 0 || options.size > MAX_IMAGE_SIDE {
        return Err(DataError::Invalid(format!(
            "field `image_size`: {} is not in 1..={MAX_IMAGE_SIDE}",
            options.size
        )));
    }
    let split_dir = root.join(match split {
        Split::Train => "train",
        Split::Test => "val",
    });
    if !split_dir.is_dir() {
        return Err(DataError::Missing {
            path: split_dir,
            hint: "Run `cargo xtask download imagenette2-160` (or -320, or imagenette2), or import an archive you have with `cargo xtask import imagenette2-160 <archive>`".into(),
        });
    }
    let (wnids, files) = list_files(&split_dir)?;
    let classes = wnids
        .iter()
        .map(|w| {
            CLASS_NAMES
                .iter()
                .find(|(id, _)| id == w)
                .map_or(w.clone(), |(_, n)| n.to_string())
        })
        .collect();
    let mut labels: Vec<u16> = files.iter().map(|(label, _)| *label).collect();
    if let (Some(noise), Split::Train) = (options.noise, split) {
        labels = noisy_labels(root, &split_dir, &wnids, &files, noise)?;
    }

    let key = cache_key(root, split, options.size, &files)?;
    let cache = options
        .cache_dir
        .as_ref()
        .map(|dir| dir.join(format!("{key}.imgs")));
    let (cached, stale_cache) = try_cache(cache.as_deref(), &files, options);
    // The labels of the images kept (all but skipped corrupt ones), and the result.
    let finish = |images: Vec<Image>, kept: Vec<usize>, from_cache: bool| {
        let stale_cache = stale_cache.clone();
        let set = VarImageSet {
            images,
            labels: kept.iter().map(|&i| labels[i]).collect(),
            classes,
        };
        Imagenette {
            set,
            skipped: files.len() - kept.len(),
            from_cache,
            stale_cache,
        }
    };
    if let Some((images, kept)) = cached {
        return Ok(finish(images, kept, true));
    }

    let (images, kept) = decode_all(&files, options)?;
    if let Some(cache) = &cache {
        write_cache(cache, &images, &kept)?;
    }
    Ok(finish(images, kept, false))
}

/// The images of the cache file `cache` when it fits `files` (see [`complete`]), or why it
/// does not (it is then rebuilt); neither when there is no cache file.
fn try_cache(
    cache: Option<&Path>,
    files: &[(u16, PathBuf)],
    options: &ImagenetteOptions,
) -> (Option<Cached>, Option<String>) {
    let Some(cache) = cache.filter(|c| c.is_file()) else {
        return (None, None);
    };
    match read_cache(cache, files.len(), options.size).and_then(|c| complete(c, files, options)) {
        Ok(cached) => (Some(cached), None),
        Err(why) => (None, Some(format!("{}: {why}; rebuilt", cache.display()))),
    }
}

/// Decodes and resizes every file in parallel (corrupt ones skipped with `skip_corrupt`):
/// the images and their indices in `files`.
fn decode_all(files: &[(u16, PathBuf)], options: &ImagenetteOptions) -> Result<Cached> {
    let decoded: Vec<Result<Option<Image>>> = files
        .par_iter()
        .map(|(_, path)| match decode_resized(path, options.size) {
            Ok(image) => Ok(Some(image)),
            Err(_) if options.skip_corrupt => Ok(None),
            Err(e) => Err(e),
        })
        .collect();
    let mut images = Vec::with_capacity(files.len());
    let mut kept = Vec::with_capacity(files.len());
    for (i, image) in decoded.into_iter().enumerate() {
        if let Some(image) = image? {
            images.push(image);
            kept.push(i);
        }
    }
    Ok((images, kept))
}

/// A cache that leaves images out is only used when it was written with `skip_corrupt` and
/// each image it leaves out still fails to decode (so a cache cut short, or listing one image
/// of forty, is rebuilt instead of training on what it holds).
fn complete(
    cached: Cached,
    files: &[(u16, PathBuf)],
    options: &ImagenetteOptions,
) -> std::result::Result<Cached, String> {
    let (images, kept) = &cached;
    if kept.len() == files.len() {
        return Ok(cached);
    }
    if !options.skip_corrupt {
        return Err(format!("{} images of {}", images.len(), files.len()));
    }
    let mut left_out = (0..files.len()).filter(|i| kept.binary_search(i).is_err());
    match left_out.find(|&i| decode_resized(&files[i].1, options.size).is_ok()) {
        Some(i) => Err(format!(
            "leaves out {}, which decodes",
            files[i].1.display()
        )),
        None => Ok(cached),
    }
}

/// Sorted class folder names, and (label, file) pairs sorted by path.
type Listing = (Vec<String>, Vec<(u16, PathBuf)>);

fn list_files(split_dir: &Path) -> Result<Listing> {
    let mut wnids: Vec<String> = fs::read_dir(split_dir)
        .map_err(DataError::io(split_dir))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    wnids.sort();
    if wnids.is_empty() {
        return Err(DataError::format(split_dir, "no class folder"));
    }
    let mut files = Vec::new();
    for (label, wnid) in wnids.iter().enumerate() {
        let dir = split_dir.join(wnid);
        let mut class_files: Vec<PathBuf> = fs::read_dir(&dir)
            .map_err(DataError::io(&dir))?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.extension()
                    .map(|x| {
                        matches!(
                            x.to_string_lossy().to_lowercase().as_str(),
                            "jpeg" | "jpg" | "png"
                        )
                    })
                    .unwrap_or(false)
            })
            .collect();
        if class_files.is_empty() {
            return Err(DataError::EmptyClass { path: dir });
        }
        class_files.sort();
        files.extend(class_files.into_iter().map(|p| (label as u16, p)));
    }
    Ok((wnids, files))
}

/// Training labels from the noisy-labels CSV, column `noise`, matched by `train/<wnid>/<file>`.
fn noisy_labels(
    root: &Path,
    split_dir: &Path,
    wnids: &[String],
    files: &[(u16, PathBuf)],
    noise: LabelNoise,
) -> Result<Vec<u16>> {
    let csv_path = ["noisy_imagenette.csv", "noisy_imagewoof.csv"]
        .iter()
        .map(|n| root.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| DataError::Missing {
            path: root.join("noisy_imagenette.csv"),
            hint: "noisy labels need the CSV shipped in the Imagenette archive".into(),
        })?;
    let mut reader = csv::Reader::from_path(&csv_path)
        .map_err(|e| DataError::format(&csv_path, e.to_string()))?;
    let headers = reader
        .headers()
        .map_err(|e| DataError::format(&csv_path, e.to_string()))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| DataError::format(&csv_path, format!("no `{name}` column")))
    };
    let (path_col, label_col) = (column("path")?, column(noise.column())?);
    let mut by_path = HashMap::new();
    for (row, record) in reader.records().enumerate() {
        let record =
            record.map_err(|e| DataError::format(&csv_path, format!("row {}: {e}", row + 2)))?;
        let wnid = &record[label_col];
        let label = wnids.iter().position(|w| w == wnid).ok_or_else(|| {
            DataError::format(
                &csv_path,
                format!("row {}: unknown class `{wnid}`", row + 2),
            )
        })?;
        by_path.insert(record[path_col].to_string(), label as u16);
    }
    files
        .iter()
        .map(|(_, path)| {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(path)
                .to_string_lossy()
                .replace('\\', "/");
            by_path.get(&rel).copied().ok_or_else(|| {
                DataError::format(
                    &csv_path,
                    format!("no row for `{rel}` (in {})", split_dir.display()),
                )
            })
        })
        .collect()
}

/// Decodes an image file and resizes it so that its shortest side is `size`.
pub fn decode_resized(path: &Path, size: usize) -> Result<Image> {
    let corrupt = |reason: String| DataError::CorruptImage {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = read_file(path)?;
    if bytes.starts_with(&[0xff, 0xd8]) && !has_jpeg_end(&bytes) {
        return Err(corrupt(
            "truncated JPEG: no end-of-image marker (FF D9) near its end".into(),
        ));
    }
    let rgb = image::load_from_memory(&bytes)
        .map_err(|e| corrupt(e.to_string()))?
        .to_rgb8();
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let scale = size as f64 / w.min(h) as f64;
    let (nw, nh) = (
        ((w as f64 * scale).round() as usize).max(1),
        ((h as f64 * scale).round() as usize).max(1),
    );
    let rgb = if (nw, nh) == (w, h) {
        rgb
    } else {
        image::imageops::resize(&rgb, nw as u32, nh as u32, FilterType::Triangle)
    };
    Ok(hwc_to_chw(rgb.as_raw(), nh, nw))
}

/// Whether a JPEG holds its end-of-image marker in its last KiB (where it is, trailing padding
/// allowed). Entropy-coded data never holds `FF D9` (a data byte `FF` is written `FF 00`), so a
/// file cut mid-scan lacks it, though most decoders fill in the missing rows without a word.
fn has_jpeg_end(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    tail.windows(2).any(|w| w == [0xff, 0xd9])
}

/// Converts interleaved RGB to channel-planar.
pub(crate) fn hwc_to_chw(hwc: &[u8], height: usize, width: usize) -> Image {
    let plane = height * width;
    let mut pixels = vec![0u8; 3 * plane];
    for (i, px) in hwc.chunks_exact(3).enumerate() {
        pixels[i] = px[0];
        pixels[plane + i] = px[1];
        pixels[2 * plane + i] = px[2];
    }
    Image {
        channels: 3,
        height,
        width,
        pixels,
    }
}

/// A key naming the source folder, split, size, and every file's path, size and mtime.
fn cache_key(root: &Path, split: Split, size: usize, files: &[(u16, PathBuf)]) -> Result<String> {
    let mut hasher = Sha256::new();
    let root_abs = fs::canonicalize(root).map_err(DataError::io(root))?;
    hasher.update(root_abs.to_string_lossy().as_bytes());
    hasher.update(format!("{split:?}/{size}").as_bytes());
    for (_, path) in files {
        let meta = fs::metadata(path).map_err(DataError::io(path))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        hasher.update(format!("{}|{}|{:?}\n", path.display(), meta.len(), mtime).as_bytes());
    }
    let digest: String = hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let name = root_abs
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(format!("{name}-{split:?}-{size}-{digest}").to_lowercase())
}

/// The cache format: this magic, the image count, then per image its index in the file list,
/// channels, height, width (u64 little-endian) and pixels, then SHA-256 of everything before.
const CACHE_MAGIC: &[u8; 8] = b"LAIMGv02";

/// A writer that hashes what it writes.
struct Hashing<W> {
    out: W,
    hash: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(bytes)?;
        self.hash.update(&bytes[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

fn write_cache(path: &Path, images: &[Image], kept: &[usize]) -> Result<()> {
    write_atomic_with(path, |out| {
        let mut out = Hashing {
            out,
            hash: Sha256::new(),
        };
        out.write_all(CACHE_MAGIC)?;
        out.write_all(&(images.len() as u64).to_le_bytes())?;
        for (image, &index) in images.iter().zip(kept) {
            for v in [
                index as u64,
                image.channels as u64,
                image.height as u64,
                image.width as u64,
            ] {
                out.write_all(&v.to_le_bytes())?;
            }
            out.write_all(&image.pixels)?;
        }
        let digest = out.hash.finalize();
        out.out.write_all(&digest)
    })
}

/// A reader that hashes what it reads.
struct Verified<R> {
    input: R,
    hash: Sha256,
}

impl<R: Read> Read for Verified<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.input.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

/// The largest image side a reader makes (`image_size`, and either side of a resized image).
pub const MAX_IMAGE_SIDE: usize = 4096;

/// Images and their indices in the file list, read from a cache written for `files` images at
/// shortest side `size`; the reason when it does not fit (it is then rebuilt). Every count and
/// dimension is checked before it is allocated.
fn read_cache(path: &Path, files: usize, size: usize) -> std::result::Result<Cached, String> {
    crate::source::check_regular(path).map_err(|e| e.to_string())?;
    let file = fs::File::open(path).map_err(|e| e.to_string())?;
    let mut input = Verified {
        input: BufReader::new(file),
        hash: Sha256::new(),
    };
    let mut magic = [0u8; 8];
    input
        .read_exact(&mut magic)
        .map_err(|_| "shorter than its header")?;
    if &magic != CACHE_MAGIC {
        return Err("not an image cache".into());
    }
    let count = word(&mut input)?;
    if count == 0 || count > files {
        return Err(format!("{count} images for {files} files"));
    }
    let mut images = Vec::with_capacity(count);
    let mut kept: Vec<usize> = Vec::with_capacity(count);
    for record in 0..count {
        let [index, channels, height, width] = [
            word(&mut input)?,
            word(&mut input)?,
            word(&mut input)?,
            word(&mut input)?,
        ];
        let bad = |what: &str| format!("record {record}: {what}");
        if index >= files || kept.last().is_some_and(|&last| index <= last) {
            return Err(bad("image index out of order or range"));
        }
        if channels != 3 || height.min(width) != size || height.max(width) > MAX_IMAGE_SIDE {
            return Err(bad(&format!(
                "a {channels}×{height}×{width} image at size {size}"
            )));
        }
        let mut pixels = vec![0u8; 3 * height * width];
        input
            .read_exact(&mut pixels)
            .map_err(|_| bad("truncated"))?;
        images.push(Image {
            channels,
            height,
            width,
            pixels,
        });
        kept.push(index);
    }
    let computed = input.hash.finalize();
    let mut stored = [0u8; 32];
    let mut rest = input.input;
    rest.read_exact(&mut stored).map_err(|_| "no checksum")?;
    if stored[..] != computed[..] {
        return Err("checksum mismatch (a changed or corrupt cache)".into());
    }
    if rest.read(&mut [0u8; 1]).map_err(|e| e.to_string())? != 0 {
        return Err("bytes after its checksum".into());
    }
    Ok((images, kept))
}

/// Images and their indices in the file list.
type Cached = (Vec<Image>, Vec<usize>);

/// One little-endian u64 of a cache, as a size.
fn word(input: &mut impl Read) -> std::result::Result<usize, String> {
    let mut b = [0u8; 8];
    input
        .read_exact(&mut b)
        .map_err(|_| "truncated".to_string())?;
    usize::try_from(u64::from_le_bytes(b)).map_err(|e| e.to_string())
}
