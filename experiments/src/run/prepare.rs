//! Prepare: every local check of a run before anything is written, the directory lock, and in a
//! multi-node run the nodes' agreement on config, backend and resume point.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::tensor::backend::AutodiffBackend;
use study::config::TrainConfig;
use study::run_dir::{BackendInfo, Fingerprint, Summary};

use super::options::RunOptions;
use super::resume::{check_dir_state, resume_point};
use super::setup::RunSetup;
use crate::loader::Shard;
use crate::lock::DirLock;
use crate::nodes::agree::{self, Item};
use crate::nodes::{NodeLink, NodeSpec};

/// What a run trains with, once every local check has passed: the directory lock, the setup,
/// and where the run starts.
pub struct Prepared<B: AutodiffBackend> {
    /// The run directory's lock, held until training ends (none for a check: it writes nothing).
    pub lock: Option<DirLock>,
    /// What the run trains with.
    pub setup: RunSetup<B>,
    /// Whether this process writes the run directory (one process, or node 0).
    pub writer: bool,
    /// Where burn-train works: the run directory, or `dir/node-R/` for node `R > 0`.
    pub work_dir: PathBuf,
    /// The checkpoint epoch the run starts from (0 = a fresh start).
    pub resumed_from: usize,
    /// The summary of a run that has already ended (nothing to train).
    pub ended: Option<Summary>,
    /// What must not change while the run is continued (written by the writer).
    pub fingerprint: Fingerprint,
}

impl<B: AutodiffBackend> Prepared<B> {
    /// Every local check of a run (directory state, config, data, devices), then its setup and
    /// starting point; the run directory is locked (created only after every check).
    pub fn new(
        config: &TrainConfig,
        dir: &Path,
        options: &RunOptions,
        devices: &[B::Device],
    ) -> anyhow::Result<Self> {
        let spec = options.nodes.as_ref();
        let writer = spec.is_none_or(NodeSpec::is_writer);
        let shard = spec.map_or(Shard::WHOLE, |s| Shard {
            rank: s.rank as usize,
            count: s.nodes as usize,
        });
        // Held until training ends: a second writer of this directory is refused. An existing
        // directory is locked before its state is read; a new one is created (and locked) only
        // after every check, so a refused config leaves no directory behind.
        // A check (`options.check`) only reads, so it takes no lock.
        let locks = !options.check;
        let existing = (locks && writer && dir.exists())
            .then(|| DirLock::acquire(dir))
            .transpose()?;
        if writer {
            check_dir_state(dir, options.resume)?;
        }
        let setup = RunSetup::<B>::new(config, devices, shard, options.loader_workers)?;
        let work_dir = match writer {
            true => dir.to_path_buf(),
            false => dir.join(format!("node-{}", shard.rank)),
        };
        let lock = match existing {
            Some(lock) => Some(lock),
            None if locks => Some(DirLock::create(&work_dir)?),
            None => None,
        };
        let point = resume_point::<B>(config, dir, options.resume, &setup.model, &devices[0])?;
        Ok(Self {
            lock,
            setup,
            writer,
            work_dir,
            resumed_from: point.epoch,
            ended: point.ended,
            fingerprint: point.fingerprint,
        })
    }
}

/// Joins the multi-node run of `spec` and checks that every node has the same config,
/// backend, resume point, and passed its own checks (`local`).
pub fn join_and_agree<B: AutodiffBackend>(
    spec: &NodeSpec,
    config: &TrainConfig,
    backend: &BackendInfo,
    device: &B::Device,
    local: &anyhow::Result<Prepared<B>>,
) -> anyhow::Result<Arc<NodeLink>> {
    let link = NodeLink::join::<B::InnerBackend>(spec, device)?;
    let mut items = agree::json_items(&serde_json::to_value(config)?);
    let (resumed, ended) = match local {
        Ok(p) => (p.resumed_from.to_string(), p.ended.is_some().to_string()),
        Err(_) => ("–".into(), "–".into()),
    };
    items.extend([
        Item::new("backend", backend.backend.clone()),
        Item::new("the checkpoint epoch to resume from", resumed),
        Item::new("whether the run has already ended", ended),
        Item::new(
            "its checks (a node refused the run: see its error)",
            local.is_ok().to_string(),
        ),
    ]);
    link.agree::<B::InnerBackend>(&items, device)?;
    Ok(link)
}
