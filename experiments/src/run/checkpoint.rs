//! A run's checkpoints as `--resume` reads them: the three files of an epoch loaded, and checked
//! against the run before training continues from them (Burn's `load_record` checks neither a
//! parameter's shape nor its id, so a checkpoint of another model would load and fail later,
//! and one of another run would train on silently).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::{AutodiffModule, Module, ModuleVisitor, Param, ParamId};
use burn::optim::Optimizer;
use burn::optim::lr_scheduler::LrScheduler;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use lookahead_optim::AnySchedule;
use study::run_dir::param_digest;

use crate::model::Classifier;
use crate::optim::StudyOptimizer;

/// The recorder of checkpoints: full precision, so that a resumed run is bit-identical.
pub type CheckpointRecorder = NamedMpkFileRecorder<FullPrecisionSettings>;

/// The backend under the autodiff one.
type I<B> = <B as AutodiffBackend>::InnerBackend;

/// The optimizer record of a run's checkpoints.
type OptimRecord<B> = <StudyOptimizer<Classifier<B>, B> as Optimizer<Classifier<B>, B>>::Record;

/// Every float parameter of a module: its id and shape.
#[derive(Default, PartialEq)]
pub struct ParamShapes(BTreeMap<ParamId, Vec<usize>>);

impl<B: Backend> ModuleVisitor<B> for ParamShapes {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.0.insert(param.id, param.val().dims().to_vec());
    }
}

impl ParamShapes {
    /// The parameters of `module`.
    pub fn of<B: Backend, M: Module<B>>(module: &M) -> Self {
        let mut shapes = Self::default();
        module.visit(&mut shapes);
        shapes
    }

    /// The digest of the parameter ids (`fingerprint.json`'s `params`).
    pub fn digest(&self) -> String {
        param_digest(self.0.keys().map(ParamId::val))
    }

    /// The shapes, in the module's order of ids (ids differ between runs, shapes do not).
    fn shapes(&self) -> Vec<&Vec<usize>> {
        let mut shapes: Vec<_> = self.0.values().collect();
        shapes.sort();
        shapes
    }
}

/// Runs `f` with panics caught and their message kept off stderr (the caller reports them).
fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    outcome.map_err(|panic| {
        let message = crate::console::panic_message(panic.as_ref()).unwrap_or_default();
        format!("Burn's decoder failed: {message}")
    })
}

/// One epoch's checkpoint, loaded and checked against the run's model.
pub struct Loaded {
    /// The checkpoint's parameters.
    pub params: ParamShapes,
    /// `checkpoint/model-N.mpk`.
    pub model_file: PathBuf,
}

/// Why an epoch's checkpoint cannot be continued from.
pub enum Unusable {
    /// A file is missing, truncated or corrupt: an older checkpoint may do.
    Unreadable(String),
    /// The files load but belong to another model or run: an error, whatever older ones hold.
    Foreign(String),
}

/// Why one checkpoint file (`path` without its extension) does not load, naming it.
fn unreadable(path: &Path, e: burn::record::RecorderError) -> String {
    let file = path.with_extension("mpk");
    match file.exists() {
        false => format!("{} is missing", file.display()),
        true => format!("{}: {e}", file.display()),
    }
}

/// Loads the three files of `epoch`'s checkpoint in `dir` and checks that they hold `model`'s
/// parameters (same shapes) and one run's state (the optimizer's ids are the model's).
pub fn load<B: AutodiffBackend>(
    dir: &Path,
    epoch: usize,
    model: &Classifier<B>,
    device: &B::Device,
) -> Result<Loaded, Unusable> {
    let recorder = CheckpointRecorder::new();
    let file = |kind: &str| dir.join("checkpoint").join(format!("{kind}-{epoch}"));
    // Only regular files are opened: a FIFO would block the reader, a device feed it forever.
    for kind in ["model", "optim", "scheduler"] {
        let path = file(kind).with_extension("mpk");
        if path.exists() {
            data::check_regular(&path).map_err(|e| Unusable::Unreadable(e.to_string()))?;
        }
    }
    // Burn's decoding panics on some corrupt files (an invalid parameter id): a panic here is
    // an unreadable file like any other.
    let loaded = quietly(|| {
        // The model on the inner backend: no autodiff graph for a record only inspected.
        let model: Result<<Classifier<I<B>> as Module<I<B>>>::Record, _> =
            Recorder::<I<B>>::load(&recorder, file("model"), device);
        let optim: Result<OptimRecord<B>, _> = recorder.load(file("optim"), device);
        let sched: Result<<AnySchedule as LrScheduler>::Record<B>, _> =
            Recorder::<B>::load(&recorder, file("scheduler"), device);
        match (model, optim, sched) {
            (Ok(model), Ok(optim), Ok(_)) => Ok((model, optim)),
            (m, o, s) => Err([
                ("model", m.err()),
                ("optim", o.err()),
                ("scheduler", s.err()),
            ]
            .into_iter()
            .filter_map(|(kind, e)| Some(unreadable(&file(kind), e?)))
            .collect::<Vec<_>>()
            .join("; ")),
        }
    });
    let (record, optim) = loaded
        .and_then(|result| result)
        .map_err(Unusable::Unreadable)?;
    let model_file = dir.join("checkpoint").join(format!("model-{epoch}.mpk"));
    let inner = model.valid();
    let own = ParamShapes::of::<I<B>, _>(&inner);
    let params = ParamShapes::of::<I<B>, _>(&inner.load_record(record));
    if params.shapes() != own.shapes() {
        return Err(Unusable::Foreign(format!(
            "{} holds another model's parameters (their shapes differ from this run's model)",
            model_file.display()
        )));
    }
    if let Some(id) = optim.keys().find(|id| !params.0.contains_key(id)) {
        return Err(Unusable::Foreign(format!(
            "{} holds the optimizer state of another run (parameter id {} is not in {})",
            dir.join("checkpoint")
                .join(format!("optim-{epoch}.mpk"))
                .display(),
            id.serialize(),
            model_file.display()
        )));
    }
    Ok(Loaded { params, model_file })
}
