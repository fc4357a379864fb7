//! Agreement between nodes, checked with one all-reduce: each node turns every named item (a
//! config field, the epoch it resumes from, …) into a fingerprint of small integers, the nodes
//! sum their fingerprints, and an item on which every node agrees sums to `nodes ×` its own
//! fingerprint. The pure part lives here; [`super::link`] does the all-reduce.
//!
//! A fingerprint is three 16-bit pieces of the item's SHA-256, each stored as an `f32`: sums of
//! up to 256 such pieces stay below 2²⁴, so they are exact in `f32` and the comparison is exact.

use sha2::{Digest, Sha256};

/// The most nodes whose fingerprint sums stay exact in `f32` (256 × 65 535 < 2²⁴).
pub const MAX_NODES: u32 = 256;

/// 16-bit pieces per item.
const PIECES: usize = 3;

/// One item to agree on: its name (what an error names) and its value as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// What the error message calls it (`batch_size`, `resumed epoch`, …).
    pub name: String,
    /// Its value, as this node sees it.
    pub value: String,
}

impl Item {
    /// An item from a name and a value.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// The fingerprint of `items`: [`PIECES`] values per item, each an integer in `0..65536`.
pub fn fingerprint(items: &[Item]) -> Vec<f32> {
    items
        .iter()
        .flat_map(|item| {
            let mut hash = Sha256::new();
            hash.update(item.name.as_bytes());
            hash.update([0]);
            hash.update(item.value.as_bytes());
            let digest = hash.finalize();
            (0..PIECES)
                .map(move |i| f32::from(u16::from_le_bytes([digest[2 * i], digest[2 * i + 1]])))
        })
        .collect()
}

/// The names of the items on which some node differs from this one, given this node's
/// fingerprint `own` and the sum over all `nodes` nodes' fingerprints.
pub fn disagreements(items: &[Item], own: &[f32], summed: &[f32], nodes: u32) -> Vec<String> {
    items
        .iter()
        .enumerate()
        .filter(|(i, _)| (i * PIECES..(i + 1) * PIECES).any(|j| summed[j] != own[j] * nodes as f32))
        .map(|(_, item)| item.name.clone())
        .collect()
}

/// The items of a JSON object, one per field (nested values as their JSON text), in the
/// object's (sorted) key order.
pub fn json_items(value: &serde_json::Value) -> Vec<Item> {
    match value {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(key, value)| Item::new(key.clone(), value.to_string()))
            .collect(),
        other => vec![Item::new("value", other.to_string())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(batch: &str) -> Vec<Item> {
        vec![
            Item::new("epochs", "3"),
            Item::new("batch_size", batch),
            Item::new("seed", "1"),
        ]
    }

    #[test]
    fn agreeing_nodes_sum_to_n_times_their_own_fingerprint() {
        let own = fingerprint(&items("32"));
        assert_eq!(own.len(), 9);
        assert!(
            own.iter()
                .all(|v| v.fract() == 0.0 && (0.0..65536.0).contains(v))
        );
        let summed: Vec<f32> = own.iter().map(|v| v * 3.0).collect();
        assert!(disagreements(&items("32"), &own, &summed, 3).is_empty());
    }

    #[test]
    fn a_differing_field_is_named_on_every_node() {
        let (a, b) = (fingerprint(&items("32")), fingerprint(&items("64")));
        let summed: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        assert_eq!(disagreements(&items("32"), &a, &summed, 2), ["batch_size"]);
        assert_eq!(disagreements(&items("64"), &b, &summed, 2), ["batch_size"]);
    }

    #[test]
    fn sums_of_the_most_nodes_stay_exact() {
        let max = 65535.0_f32 * MAX_NODES as f32;
        assert!(max < 16_777_216.0);
        assert_eq!(max - 65535.0 + 65535.0, max);
    }

    #[test]
    fn json_objects_become_one_item_per_field() {
        let value = serde_json::json!({"b": [1, 2], "a": "x"});
        let items = json_items(&value);
        assert_eq!(items, [Item::new("a", "\"x\""), Item::new("b", "[1,2]")]);
    }
}
