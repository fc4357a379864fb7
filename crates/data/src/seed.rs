//! SplitMix64 (Steele, Lea & Flood 2014), the project's one seed mixer: per-batch and per-item
//! seeds in the batcher, per-epoch seeds in the experiments' loader.

/// The golden-ratio increment of SplitMix64.
pub const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output function: a well-mixed 64-bit value from any 64-bit state.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One SplitMix64 step from state `z`: `mix64(z + γ)`.
///
/// ```
/// // The first output of SplitMix64 seeded with 0 (the reference implementation's).
/// assert_eq!(data::splitmix64(0), 0xe220_a839_7b1d_cdaf);
/// ```
pub fn splitmix64(z: u64) -> u64 {
    mix64(z.wrapping_add(GOLDEN_GAMMA))
}
