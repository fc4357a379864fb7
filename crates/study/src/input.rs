//! Reading what users give, strictly: JSON with a key twice in one object is refused (serde_json
//! keeps the last silently, where TOML refuses it), and a long value is shortened when an error
//! message quotes it.

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};

/// The most characters of a value an error message quotes.
pub const SHOWN: usize = 80;

/// `text`, or its first [`SHOWN`] characters and how long it is.
pub fn shown(text: &str) -> String {
    let count = text.chars().count();
    if count <= SHOWN {
        return text.to_string();
    }
    let head: String = text.chars().take(SHOWN).collect();
    format!("{head}… ({count} characters)")
}

/// Reads a text file a user or a run gave: only a regular file (a FIFO or a device would block,
/// a folder is refused by name), at most [`data::MAX_FILE_BYTES`], UTF-8. The error names the
/// file and the reason once.
pub fn read_text(path: &std::path::Path) -> anyhow::Result<String> {
    data::read_text(path, data::MAX_FILE_BYTES).map_err(|e| anyhow::anyhow!("cannot read {e}"))
}

/// Parses JSON text into `T`, refusing a key given twice in one object; a value of the wrong
/// type names its field (`field `optimizers[2].lr_max`: invalid type …`), not only a position.
pub fn from_json<T: DeserializeOwned>(text: &str) -> anyhow::Result<T> {
    serde_json::from_str::<Unique>(text)?;
    let mut json = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let path = e.path().to_string();
        match path.as_str() {
            "." | "" => anyhow::Error::new(e.into_inner()),
            _ => anyhow::anyhow!("field `{path}`: {}", e.into_inner()),
        }
    })?;
    json.end()?;
    Ok(value)
}

/// Any JSON value, refusing duplicate keys at every depth (serde_json's recursion limit of 128
/// applies).
struct Unique;

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !keys.insert(key.clone()) {
                return Err(de::Error::custom(format!(
                    "key `{}` appears twice in one object",
                    shown(&key)
                )));
            }
            map.next_value::<Unique>()?;
        }
        Ok(Unique)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
        while seq.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_str<E>(self, _: &str) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicate_key_at_any_depth_is_refused_and_named() {
        let ok: serde_json::Value = from_json(r#"{"a": [{"b": 1}, {"b": 2}], "c": null}"#).unwrap();
        assert_eq!(ok["a"][1]["b"], 2);
        for text in [r#"{"a": 1, "a": 2}"#, r#"{"x": {"y": [{"k": 1, "k": 1}]}}"#] {
            let err = from_json::<serde_json::Value>(text)
                .unwrap_err()
                .to_string();
            assert!(err.contains("appears twice"), "{err}");
        }
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(
            from_json::<serde_json::Value>(&deep).is_err(),
            "depth-limited"
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Row {
            seeds: Vec<u64>,
        }
        let err = format!(
            "{:#}",
            from_json::<Row>(r#"{"seeds": [1, "x"]}"#).unwrap_err()
        );
        assert!(err.contains("field `seeds[1]`"), "{err}");
        assert!(
            from_json::<Row>(r#"{"seeds": []} x"#).is_err(),
            "trailing characters"
        );
    }

    #[test]
    fn long_values_are_shortened() {
        assert_eq!(shown("sgd"), "sgd");
        let long = "x".repeat(5_000_000);
        let text = shown(&long);
        assert!(
            text.len() < 120 && text.ends_with("(5000000 characters)"),
            "{text}"
        );
    }
}
