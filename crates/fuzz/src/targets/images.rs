//! Imagenette targets: a folder of JPEGs, and the cache of decoded images.

use std::path::{Path, PathBuf};

use data::{ImagenetteOptions, Split, VarImageSet, read_imagenette};
use image::codecs::jpeg::JpegEncoder;

use super::{Target, Verdict, split_choice, with_choice};
use crate::mutate::{Encoding, Field, Layout, Rng, mutate_bytes};

const WNIDS: [&str; 2] = ["n01440764", "n03888605"];
/// The training size of both targets (shortest side).
const SIZE: usize = 8;

/// A small JPEG of `width`×`height` in colour `rgb`.
fn jpeg(width: u32, height: u32, rgb: [u8; 3]) -> anyhow::Result<Vec<u8>> {
    let pixels: Vec<u8> = (0..width * height)
        .flat_map(|i| [rgb[0].wrapping_add(i as u8), rgb[1], rgb[2]])
        .collect();
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90).encode(
        &pixels,
        width,
        height,
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(out)
}

/// Writes an Imagenette-layout `root` with two training images per class; their paths.
fn write_folder(root: &Path) -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut files = Vec::new();
    for (c, wnid) in WNIDS.iter().enumerate() {
        let dir = root.join("train").join(wnid);
        std::fs::create_dir_all(&dir)?;
        for i in 0..2u32 {
            let bytes = jpeg(20 + 4 * i, 16, [60 * c as u8, 90, 30 * i as u8])?;
            let path = dir.join(format!("img{i}.JPEG"));
            std::fs::write(&path, &bytes)?;
            files.push((path, bytes));
        }
    }
    Ok(files)
}

/// A JPEG's layout: every marker is a boundary; segment lengths and the frame's height and
/// width are fields.
fn jpeg_layout(bytes: &[u8]) -> Layout {
    let mut layout = Layout::default();
    let big = |offset| Field {
        offset,
        width: 2,
        encoding: Encoding::Big,
    };
    for i in 0..bytes.len().saturating_sub(1) {
        let marker = bytes[i + 1];
        if bytes[i] != 0xff || marker == 0 || marker == 0xff {
            continue;
        }
        layout.boundaries.push(i);
        if !(0xd0..=0xd9).contains(&marker) && marker != 0x01 {
            layout.fields.push(big(i + 2));
        }
        if marker == 0xc0 || marker == 0xc2 {
            layout.fields.extend([big(i + 5), big(i + 7)]);
        }
    }
    layout.boundaries.push(bytes.len());
    layout
}

/// The oracle of an Imagenette read: every image of the folder, RGB, at the training size.
fn check_images(set: &VarImageSet, files: usize) {
    assert_eq!(
        set.images.len(),
        files,
        "images left out without `skip_corrupt`"
    );
    for image in &set.images {
        assert_eq!(image.channels, 3);
        assert_eq!(
            image.height.min(image.width),
            SIZE,
            "not resized to the size"
        );
        assert_eq!(image.pixels.len(), 3 * image.height * image.width);
    }
}

/// `read_imagenette` on a folder (no cache), one of its JPEGs mutated (chosen by the input's
/// first byte; the others as written).
pub struct Folder {
    seeds: Vec<Vec<u8>>,
    root: PathBuf,
    files: Vec<(PathBuf, Vec<u8>)>,
    last: Option<usize>,
}

impl Folder {
    pub fn new(work: &Path) -> anyhow::Result<Self> {
        let root = work.join("imagenette").join("imagenette2-160");
        let files = write_folder(&root)?;
        let seeds = files
            .iter()
            .enumerate()
            .map(|(i, (_, b))| with_choice(i, b))
            .collect();
        Ok(Self {
            seeds,
            root,
            files,
            last: None,
        })
    }
}

impl Target for Folder {
    fn seeds(&self) -> &[Vec<u8>] {
        &self.seeds
    }

    fn mutate(&self, seed: &[u8], rng: &mut Rng) -> Vec<u8> {
        let (choice, bytes) = split_choice(seed, self.files.len());
        with_choice(choice, &mutate_bytes(bytes, &jpeg_layout(bytes), rng))
    }

    fn run(&mut self, input: &[u8]) -> Verdict {
        if let Some(last) = self.last.take() {
            let (path, bytes) = &self.files[last];
            std::fs::write(path, bytes).expect("writable");
        }
        let (choice, bytes) = split_choice(input, self.files.len());
        std::fs::write(&self.files[choice].0, bytes).expect("writable");
        self.last = Some(choice);
        let options = ImagenetteOptions {
            cache_dir: None,
            ..ImagenetteOptions::new(SIZE, &self.root)
        };
        let result = read_imagenette(&self.root, Split::Train, &options);
        if let Ok(read) = &result {
            check_images(&read.set, self.files.len());
        }
        Verdict::from(&result)
    }
}

/// `read_imagenette` with its cache, the cache file mutated (counts, indices, dimensions,
/// truncation at every record, pixels, checksum). Oracle: whatever the cache holds, the images
/// read are the folder's (a cache that does not fit is rebuilt, never trusted); "accepted"
/// means the cache was used.
pub struct Cache {
    seeds: Vec<Vec<u8>>,
    root: PathBuf,
    options: ImagenetteOptions,
    cache_file: PathBuf,
    reference: VarImageSet,
}

impl Cache {
    pub fn new(work: &Path) -> anyhow::Result<Self> {
        let root = work.join("cached").join("imagenette2-160");
        write_folder(&root)?;
        let options = ImagenetteOptions::new(SIZE, &work.join("cached"));
        let reference = read_imagenette(&root, Split::Train, &options)?.set;
        let cache_dir = options.cache_dir.clone().unwrap_or_default();
        let cache_file = std::fs::read_dir(&cache_dir)?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "imgs"))
            .ok_or_else(|| anyhow::anyhow!("no cache written in {}", cache_dir.display()))?;
        let seeds = vec![std::fs::read(&cache_file)?];
        Ok(Self {
            seeds,
            root,
            options,
            cache_file,
            reference,
        })
    }

    /// The cache's layout: count, each record's four header words, record ends, checksum.
    fn layout(&self, len: usize) -> Layout {
        let little = |offset| Field {
            offset,
            width: 8,
            encoding: Encoding::Little,
        };
        let mut layout = Layout {
            fields: vec![little(8)],
            boundaries: vec![8, 16],
        };
        let mut at = 16;
        for image in &self.reference.images {
            layout.fields.extend((0..4).map(|w| little(at + 8 * w)));
            at += 32 + image.pixels.len();
            layout.boundaries.push(at);
        }
        layout.boundaries.push(len);
        layout
    }
}

impl Target for Cache {
    fn seeds(&self) -> &[Vec<u8>] {
        &self.seeds
    }

    fn mutate(&self, seed: &[u8], rng: &mut Rng) -> Vec<u8> {
        mutate_bytes(seed, &self.layout(seed.len()), rng)
    }

    fn run(&mut self, input: &[u8]) -> Verdict {
        std::fs::write(&self.cache_file, input).expect("writable");
        let read = read_imagenette(&self.root, Split::Train, &self.options)
            .expect("a bad cache is rebuilt, never an error");
        assert!(
            read.set == self.reference,
            "the cache changed the images read"
        );
        if read.from_cache {
            assert!(input == self.seeds[0], "a changed cache was trusted");
            return Verdict::Accepted;
        }
        assert!(
            read.stale_cache.is_some(),
            "a cache was rebuilt without a word"
        );
        Verdict::Refused
    }
}
