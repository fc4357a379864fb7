//! How a run is launched (beside its config): resume or not, dashboard, label, nodes.

use crate::nodes::NodeSpec;

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Continue from the run directory's last checkpoint.
    pub resume: bool,
    /// Use Burn's TUI dashboard when stdout is a terminal (otherwise plain lines).
    pub dashboard: bool,
    /// Prefix of the plain progress lines.
    pub label: String,
    /// This process's place in a multi-node run (`--nodes`, `--node-rank`, …); `None` for one
    /// process.
    pub nodes: Option<NodeSpec>,
    /// Where each non-default field of the config came from (recipe, file, flag), written to
    /// `config_sources.json` beside `config.json` (`study::recipe::Layered::sources_json`).
    pub config_sources: Option<serde_json::Value>,
    /// Check everything a start would (config, data, devices, the directory's state, the
    /// resume point) and train nothing: no file is written, no lock taken ([`super::check`]).
    pub check: bool,
    /// Threads building batches ahead of the training step (0: on the training thread); the
    /// batches are the same for any count.
    pub loader_workers: usize,
}

impl Default for RunOptions {
    /// A fresh start in one process, plain lines, batches built ahead on every core.
    fn default() -> Self {
        Self {
            resume: false,
            dashboard: false,
            label: String::new(),
            nodes: None,
            config_sources: None,
            check: false,
            loader_workers: crate::loader::default_workers(),
        }
    }
}
