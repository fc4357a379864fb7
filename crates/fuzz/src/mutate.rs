//! Structure-aware mutations, deterministic from a seed: input `i` of a run is always the same
//! bytes, so a crash is replayed from `(seed, i)` alone.
//!
//! Binary inputs mutate through the fields their format declares (an IDX dimension, a CIFAR
//! label, a tar header's size: set to 0, 1, off by one, or huge) and at the boundaries between
//! their parts (truncation there and one byte either side), besides plain byte edits. Text
//! inputs mutate by token: numbers become non-finite, negative or huge, lines are doubled
//! (duplicate keys), calls are nested deep, Unicode whitespace and multi-byte characters are
//! inserted.

use data::{GOLDEN_GAMMA, mix64};

/// SplitMix64 as a stream.
pub struct Rng(u64);

impl Rng {
    /// The stream of input `index` of a run seeded `seed`.
    pub fn for_input(seed: u64, index: u64) -> Self {
        Self(mix64(seed ^ mix64(index.wrapping_add(1))))
    }

    /// The next value.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN_GAMMA);
        mix64(self.0)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// How a binary field is stored.
#[derive(Debug, Clone, Copy)]
pub enum Encoding {
    /// Big-endian unsigned integer (IDX).
    Big,
    /// Little-endian unsigned integer (the image cache).
    Little,
    /// One byte (CIFAR labels).
    Byte,
    /// NUL-terminated octal text (tar headers).
    Octal,
}

/// A field of a binary format: where it is and how it is stored.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Byte offset.
    pub offset: usize,
    /// Width in bytes.
    pub width: usize,
    /// Encoding.
    pub encoding: Encoding,
}

/// A binary input's structure: its fields and the boundaries between its parts.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// Numeric fields.
    pub fields: Vec<Field>,
    /// Offsets where one part ends and the next begins.
    pub boundaries: Vec<usize>,
}

fn read_field(bytes: &[u8], f: Field) -> u64 {
    let raw = &bytes[f.offset..f.offset + f.width];
    match f.encoding {
        Encoding::Big => raw.iter().fold(0, |v, &b| v << 8 | u64::from(b)),
        Encoding::Little => raw.iter().rev().fold(0, |v, &b| v << 8 | u64::from(b)),
        Encoding::Byte => u64::from(raw[0]),
        Encoding::Octal => {
            let text: String = raw
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .map(|&b| b as char)
                .collect();
            u64::from_str_radix(&text, 8).unwrap_or(0)
        }
    }
}

fn write_field(bytes: &mut [u8], f: Field, value: u64) {
    let raw = &mut bytes[f.offset..f.offset + f.width];
    match f.encoding {
        Encoding::Big => {
            for (i, b) in raw.iter_mut().rev().enumerate() {
                *b = (value.checked_shr(8 * i as u32).unwrap_or(0) & 0xff) as u8;
            }
        }
        Encoding::Little => {
            for (i, b) in raw.iter_mut().enumerate() {
                *b = (value.checked_shr(8 * i as u32).unwrap_or(0) & 0xff) as u8;
            }
        }
        Encoding::Byte => raw[0] = value as u8,
        Encoding::Octal => {
            let text = format!("{value:0w$o}", w = f.width - 1);
            let text = &text.as_bytes()[text.len().saturating_sub(f.width - 1)..];
            raw[..text.len()].copy_from_slice(text);
            raw[f.width - 1] = 0;
        }
    }
}

/// One structure-aware edit of a field: 0, 1, off by one, a power of two, or the largest value.
fn mutate_field(bytes: &mut [u8], f: Field, rng: &mut Rng) {
    if f.offset + f.width > bytes.len() {
        return;
    }
    let old = read_field(bytes, f);
    let huge = match f.encoding {
        Encoding::Byte => 0xff,
        Encoding::Octal => 8u64.pow((f.width - 1) as u32) - 1,
        _ => u64::MAX >> (64 - 8 * f.width as u32),
    };
    let values = [
        0,
        1,
        old.wrapping_add(1),
        old.wrapping_sub(1),
        old * 2,
        1 << 31,
        1 << 40,
        huge,
    ];
    write_field(bytes, f, *rng.pick(&values));
}

const INTERESTING_BYTES: [u8; 6] = [0, 1, 0x7f, 0x80, 0xfe, 0xff];

/// One edit of binary `bytes` with `layout`.
fn edit_bytes(bytes: &mut Vec<u8>, layout: &Layout, rng: &mut Rng) {
    let len = bytes.len();
    match rng.below(9) {
        0 | 1 if !layout.fields.is_empty() => mutate_field(bytes, *rng.pick(&layout.fields), rng),
        2 if !layout.boundaries.is_empty() => {
            let at = *rng.pick(&layout.boundaries) as i64 + rng.below(3) as i64 - 1;
            bytes.truncate(at.clamp(0, len as i64) as usize);
        }
        3 => bytes.truncate(rng.below(len + 1)),
        4 if len > 0 => {
            let at = rng.below(len);
            bytes[at] ^= 1 << rng.below(8);
        }
        5 if len > 0 => {
            let at = rng.below(len);
            bytes[at] = *rng.pick(&INTERESTING_BYTES);
        }
        6 => {
            let at = rng.below(len + 1);
            let extra: Vec<u8> = (0..1 + rng.below(16)).map(|_| rng.next() as u8).collect();
            bytes.splice(at..at, extra);
        }
        7 if len > 0 => {
            let from = rng.below(len);
            let to = (from + 1 + rng.below(64)).min(len);
            match rng.below(2) {
                0 => drop(bytes.drain(from..to)),
                _ => {
                    let chunk = bytes[from..to].to_vec();
                    bytes.splice(to..to, chunk);
                }
            }
        }
        _ => bytes.extend((0..rng.below(8)).map(|_| rng.next() as u8)),
    }
}

/// A mutant of binary `seed`: one to four edits.
pub fn mutate_bytes(seed: &[u8], layout: &Layout, rng: &mut Rng) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        edit_bytes(&mut bytes, layout, rng);
    }
    bytes
}

const NUMBERS: [&str; 16] = [
    "nan",
    "NaN",
    "inf",
    "-inf",
    "-1",
    "0",
    "-0",
    "1",
    "1e308",
    "1e-320",
    "1e30",
    "1.5",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999",
    "0x10",
];

const INSERTS: [&str; 14] = [
    "\u{a0}", "\u{3000}", "\u{feff}", "é", "\u{202e}", "\0", "\"", "'", "(", ")", ",", "=", "[",
    "}",
];

/// Byte ranges of the numbers in `text`.
fn numbers(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || b".eE+-".contains(&bytes[i])) {
                i += 1;
            }
            out.push((start, i));
        } else {
            i += 1;
        }
    }
    out
}

/// A character boundary of `text` at or before `at`.
fn boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// One token-level edit of `text`; `words` are names the format knows (to swap in).
fn edit_text(text: &mut String, words: &[&str], rng: &mut Rng) {
    let len = text.len();
    let at = boundary(text, rng.below(len + 1));
    match rng.below(8) {
        0 | 1 => {
            let spans = numbers(text);
            if let Some(&(from, to)) = (!spans.is_empty()).then(|| rng.pick(&spans)) {
                text.replace_range(from..to, rng.pick::<&str>(&NUMBERS));
            }
        }
        2 => {
            // A line twice: duplicate keys, labels, table headers.
            let lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let line = rng.pick(&lines).to_string();
                text.push('\n');
                text.push_str(&line);
            }
        }
        3 => text.insert_str(at, rng.pick::<&str>(&INSERTS)),
        4 => {
            let depth = 1 + rng.below(300);
            let word = rng.pick(words).to_string();
            let nested = format!(
                "{}{word}{}",
                format!("{word}(").repeat(depth),
                ")".repeat(depth)
            );
            text.insert_str(at, &nested);
        }
        5 => text.truncate(at),
        6 => text.insert_str(at, rng.pick::<&str>(words)),
        _ => {
            let end = boundary(text, at + 1 + rng.below(16));
            text.replace_range(at..end, "");
        }
    }
}

/// A mutant of text `seed`: one to four token-level edits (`words`: names of the format).
pub fn mutate_text(seed: &str, words: &[&str], rng: &mut Rng) -> String {
    let mut text = seed.to_string();
    for _ in 0..1 + rng.below(4) {
        edit_text(&mut text, words, rng);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutants_are_deterministic_and_differ_from_the_seed() {
        let layout = Layout {
            fields: vec![Field {
                offset: 0,
                width: 4,
                encoding: Encoding::Big,
            }],
            boundaries: vec![4],
        };
        let seed = [0u8, 0, 8, 3, 1, 2, 3, 4];
        let a = mutate_bytes(&seed, &layout, &mut Rng::for_input(7, 3));
        let b = mutate_bytes(&seed, &layout, &mut Rng::for_input(7, 3));
        assert_eq!(a, b);
        let changed = (0..100)
            .filter(|&i| mutate_bytes(&seed, &layout, &mut Rng::for_input(7, i)) != seed)
            .count();
        assert!(changed > 80, "{changed}");
        let text = mutate_text("sgd(momentum=0.9)", &["sgd"], &mut Rng::for_input(1, 2));
        assert_eq!(
            text,
            mutate_text("sgd(momentum=0.9)", &["sgd"], &mut Rng::for_input(1, 2))
        );
    }

    #[test]
    fn fields_round_trip_in_every_encoding() {
        for (encoding, width, value) in [
            (Encoding::Big, 4, 0x0102_0304),
            (Encoding::Little, 8, 1 << 40),
            (Encoding::Byte, 1, 200),
            (Encoding::Octal, 12, 0o777),
        ] {
            let f = Field {
                offset: 2,
                width,
                encoding,
            };
            let mut bytes = vec![0u8; 2 + width];
            write_field(&mut bytes, f, value);
            assert_eq!(read_field(&bytes, f), value, "{encoding:?}");
        }
    }
}
