//! Rendering a report: Markdown, CSV (with the `csv` crate) and SVG plots (plotters), from the
//! tables of the aggregation.

mod csv;
mod markdown;
mod plots;
mod seed;

pub use self::csv::{epochs_csv, published_csv, results_csv, summary_csv, verdicts_csv};
pub use markdown::{conclusions, dataset_section, families, header};
pub use plots::dataset_plots;
pub use seed::{published_section, verdict_section};
