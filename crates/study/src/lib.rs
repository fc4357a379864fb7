//! What a Lookahead study is, and what its runs leave behind, without Burn.
//!
//! * [`config::TrainConfig`]: a run's recipe (dataset, model, epochs, optimizer spec,
//!   schedule, mixup, seed, …), read from JSON, TOML or flags and checked before training.
//! * [`spec::OptimizerSpec`]: the optimizer grammar (`sgd`, `adam`, `adamw`, `rmsprop`,
//!   `radam`, `ranger`, `lookahead(<inner>, k, alpha, keep|reset|pullback|zero-moments)`).
//! * [`suite::Suite`] and [`claim`]: a grid of runs, the seed study's published numbers and
//!   the claims a report tests.
//! * [`run_dir`]: the files a run directory holds (`config.json`, `summary.json`,
//!   `metrics.csv`, `train_loss.csv`, `backend.json`) as typed values, written by training
//!   (`experiments`) and read by the report through the same types.
//! * [`report::report`]: Markdown, CSV and SVG from a suite's directory (load → pure
//!   aggregation and statistics → render).
//!
//! `experiments` trains; this crate is all a report needs, so `cargo xtask report` builds no
//! Burn crate.
//!
//! ```
//! use study::spec::OptimizerSpec;
//! use study::suite::Suite;
//!
//! let suite = Suite::load("seed-quick").unwrap();
//! let la = suite.optimizers.iter().find(|o| o.label == "la-sgd").unwrap();
//! assert!(matches!(la.spec, OptimizerSpec::Lookahead { k: 5, .. }));
//! let runs = suite.runs(std::path::Path::new("runs/seed-quick"));
//! assert_eq!(runs.len(), suite.datasets.len() * suite.optimizers.len() * suite.seeds.len());
//! ```

/// `Serialize`/`Deserialize` for a type through its `Display`/`FromStr`: configs and suites hold
/// typed values (parsed once, when read) and files keep the names users write.
#[macro_export]
macro_rules! serde_as_text {
    ($ty:ty) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse::<$ty>()
                    .map_err(|e| serde::de::Error::custom(format!("{e:#}")))
            }
        }
    };
}

pub mod claim;
pub mod config;
pub mod input;
pub mod model_kind;
pub mod recipe;
pub mod refresh;
pub mod report;
pub mod run_dir;
pub mod seed;
pub mod slice;
pub mod spec;
pub mod suite;
