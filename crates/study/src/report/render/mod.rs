//! Rendering a report: Markdown, CSV (with the `csv` crate) and SVG plots (plotters), from the
//! tables of the aggregation.

mod csv;
mod markdown;
mod plots;

pub use self::csv::{epochs_csv, published_csv, results_csv, summary_csv};
pub use markdown::{conclusions, dataset_section, header, published_section, verdict_section};
pub use plots::dataset_plots;
