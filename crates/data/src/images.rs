//! In-memory image collections.

/// Images of one size held in memory as `u8`, channel-planar (C×H×W per image, the CIFAR and
/// IDX layouts), with their labels and class names.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageSet {
    /// Channels per image (1 or 3).
    pub channels: usize,
    /// Rows per image.
    pub height: usize,
    /// Columns per image.
    pub width: usize,
    /// `len × channels × height × width` bytes.
    pub pixels: Vec<u8>,
    /// One label per image, in `0..classes.len()`.
    pub labels: Vec<u16>,
    /// Human-readable class names.
    pub classes: Vec<String>,
}

impl ImageSet {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there is no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Bytes of one image.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The pixels of image `index` (C×H×W).
    pub fn image(&self, index: usize) -> &[u8] {
        let n = self.image_len();
        &self.pixels[index * n..(index + 1) * n]
    }

    /// The images at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> ImageSet {
        let mut pixels = Vec::with_capacity(indices.len() * self.image_len());
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
        }
        ImageSet {
            pixels,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            classes: self.classes.clone(),
            ..*self
        }
    }
}

/// One image of any size, channel-planar (C×H×W), e.g. a decoded and resized JPEG.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// Channels.
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// `channels × height × width` bytes.
    pub pixels: Vec<u8>,
}

/// Images of varying sizes (Imagenette after shortest-side resizing), with labels.
#[derive(Clone, Debug, PartialEq)]
pub struct VarImageSet {
    /// The images.
    pub images: Vec<Image>,
    /// One label per image.
    pub labels: Vec<u16>,
    /// Human-readable class names.
    pub classes: Vec<String>,
}
