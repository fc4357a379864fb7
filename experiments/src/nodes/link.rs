//! A process's membership of a multi-node run: registration with burn-collective's orchestrator,
//! the config agreement, the per-step gradient all-reduce, and leaving.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use burn::module::{AutodiffModule, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::{GradientsParams, MultiGradientsParams};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor, TensorData, TensorPrimitive};
use burn_collective::{
    CollectiveConfig, PeerId, ReduceOperation, all_reduce, finish_collective, register,
};
use burn_communication::Address;

use super::agree::{self, Item};
use super::spec::NodeSpec;
use super::stop::Exchanged;
use super::watchdog::Watchdog;
use crate::console;
use study::run_dir::AllReduceStats;

/// A multi-node step that failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Registration with the orchestrator was refused or failed.
    #[error("node {rank}: cannot join the run at the orchestrator {orchestrator}: {detail}")]
    Join {
        /// This node's rank.
        rank: u32,
        /// The orchestrator's address.
        orchestrator: String,
        /// Why.
        detail: String,
    },
    /// The nodes' configs differ.
    #[error(
        "the nodes disagree on {fields}: every node must run the same config (the same flags \
         or file, the same --resume state and backend); nothing was trained"
    )]
    Disagree {
        /// The differing fields, comma-separated.
        fields: String,
    },
    /// A collective call failed.
    #[error(
        "node {rank}: {what} failed ({detail}): another node stopped or the connection between \
         the nodes broke"
    )]
    Collective {
        /// This node's rank.
        rank: u32,
        /// Which call.
        what: String,
        /// Burn's error.
        detail: String,
    },
    /// This process already belongs to another multi-node run.
    #[error("this process already joined a multi-node run as {0}")]
    AlreadyJoined(String),
}

/// This process's place in a multi-node run (see [`super`]): obtained by [`NodeLink::join`],
/// released by [`leave`].
pub struct NodeLink {
    spec: NodeSpec,
    peer: PeerId,
    watchdog: Watchdog,
    stats: Mutex<AllReduceStats>,
}

/// The process's one registration: its backend type, its spec, and how to leave.
struct Joined {
    backend: TypeId,
    link: Arc<NodeLink>,
    leave: Box<dyn Fn() + Send>,
}

static JOINED: Mutex<Option<Joined>> = Mutex::new(None);

fn joined() -> MutexGuard<'static, Option<Joined>> {
    JOINED.lock().unwrap_or_else(|e| e.into_inner())
}

/// Leaves the multi-node run this process joined, if any (burn-collective's `finish`, so that
/// the orchestrator forgets this node). Call once the process's runs are done.
pub fn leave() {
    if let Some(joined) = joined().take() {
        (joined.leave)();
    }
}

impl NodeLink {
    /// Joins the run of `spec` on backend `B` (the inner backend of training), once per process:
    /// later calls with the same spec return the same link, so a suite's runs share it. Waits
    /// for every node to register, at most `spec.timeout`.
    pub fn join<B: Backend>(spec: &NodeSpec, device: &B::Device) -> Result<Arc<Self>, NodeError> {
        let mut joined = joined();
        if let Some(j) = joined.as_ref() {
            if j.backend == TypeId::of::<B>() && j.link.spec == *spec {
                return Ok(j.link.clone());
            }
            return Err(NodeError::AlreadyJoined(format!("{:?}", j.link.spec)));
        }
        // burn-communication's servers would log INFO lines on stdout; warnings on stderr here.
        console::log_to_stderr("warn");
        // A peer that dies makes burn-collective's background tasks panic; our error follows.
        console::shorten_panics_in(
            &["burn-collective", "burn-communication"],
            format!("node {}", spec.rank),
        );
        let join_error = |detail: String| NodeError::Join {
            rank: spec.rank,
            orchestrator: spec.orchestrator.clone(),
            detail,
        };
        // burn-collective serves this node's tensors on the port from a background task and
        // only logs a failed bind; check it here so that a busy port is an error, not a hang.
        std::net::TcpListener::bind(("0.0.0.0", spec.data_port))
            .map_err(|e| join_error(format!("port {} of --node-address: {e}", spec.data_port)))?;
        let address = |text: &str| text.parse::<Address>().map_err(join_error);
        let config = CollectiveConfig::default()
            .with_num_devices(1)
            .with_num_nodes(spec.nodes)
            .with_global_address(address(&spec.orchestrator)?)
            .with_node_address(address(&spec.address)?)
            .with_data_service_port(spec.data_port);
        let link = Arc::new(Self {
            spec: spec.clone(),
            peer: PeerId(spec.rank),
            watchdog: Watchdog::start(timeout_message(spec)),
            stats: Mutex::new(AllReduceStats::default()),
        });
        {
            let _watch = link.watchdog.watch(
                format!("waiting for all {} nodes to join", spec.nodes),
                spec.timeout,
            );
            register::<B>(link.peer, device.clone(), config)
                .map_err(|e| join_error(format!("{e:?}")))?;
        }
        let leaving = link.clone();
        *joined = Some(Joined {
            backend: TypeId::of::<B>(),
            link: link.clone(),
            leave: Box::new(move || {
                let _watch = leaving
                    .watchdog
                    .watch("leaving the run", leaving.spec.timeout);
                if let Err(e) = finish_collective::<B>(leaving.peer) {
                    console::line(format!(
                        "warning: node {}: leaving the run: {e:?}",
                        leaving.spec.rank
                    ));
                }
            }),
        });
        Ok(link)
    }

    /// The spec this node joined with.
    pub fn spec(&self) -> &NodeSpec {
        &self.spec
    }

    /// The all-reduce costs so far.
    pub fn stats(&self) -> AllReduceStats {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sums `values` over the nodes (one all-reduce, under the watchdog).
    fn sum<B: Backend>(
        &self,
        values: Vec<f32>,
        what: &str,
        device: &B::Device,
    ) -> Result<Vec<f32>, NodeError> {
        let len = values.len();
        let tensor = Tensor::<B, 1>::from_data(TensorData::new(values, [len]), device);
        let reduced = self.all_reduce_tensor(tensor, ReduceOperation::Sum, what)?;
        reduced
            .into_data()
            .to_vec::<f32>()
            .map_err(|e| self.collective_error(what, format!("{e:?}")))
    }

    fn all_reduce_tensor<B: Backend>(
        &self,
        tensor: Tensor<B, 1>,
        op: ReduceOperation,
        what: &str,
    ) -> Result<Tensor<B, 1>, NodeError> {
        let _watch = self.watchdog.watch(what, self.spec.timeout);
        let reduced = all_reduce::<B>(self.peer, tensor.into_primitive().tensor(), op)
            .map_err(|e| self.collective_error(what, format!("{e:?}")))?;
        Ok(Tensor::from_primitive(TensorPrimitive::Float(reduced)))
    }

    fn collective_error(&self, what: &str, detail: String) -> NodeError {
        NodeError::Collective {
            rank: self.spec.rank,
            what: what.to_string(),
            detail,
        }
    }

    /// Checks that every node has the same `items` (config fields, backend, resume epoch…);
    /// otherwise every node fails naming the items that differ.
    pub fn agree<B: Backend>(&self, items: &[Item], device: &B::Device) -> Result<(), NodeError> {
        let nodes = self.spec.nodes;
        // A ring all-reduce needs at least one value per node; first the item count, so that
        // nodes with other field lists (other versions) fail here rather than on a shape.
        let width = (nodes as usize).max(2);
        let counts = self.sum::<B>(vec![items.len() as f32; width], "comparing configs", device)?;
        if counts[0] != (items.len() * nodes as usize) as f32 {
            return Err(NodeError::Disagree {
                fields: "the list of config fields (different versions of `experiments`?)".into(),
            });
        }
        let mut own = agree::fingerprint(items);
        own.resize(own.len().max(width), 0.0);
        let summed = self.sum::<B>(own.clone(), "comparing configs", device)?;
        let differ = agree::disagreements(items, &own, &summed, nodes);
        if differ.is_empty() {
            return Ok(());
        }
        Err(NodeError::Disagree {
            fields: differ
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// One optimizer step's exchange: averages over the nodes the gradients of `module` and
    /// its non-trainable float state (BatchNorm's running statistics, which each node updates
    /// from its own shard), in one all-reduce (mean) of all of them flattened in the module's
    /// parameter order (the same on every node: burn's own `GradientsParams::all_reduce`
    /// orders by `ParamId`, which is random per process), with one more value, 1 where a node
    /// asks to stop (`stop_requested`). Returns the module with the averaged statistics, the
    /// averaged gradients, so that every node takes the same step and holds the same weights,
    /// and what the exchange showed every node (a request, a non-finite average: see
    /// [`super::StopVote`]). Local devices' gradients (`Multi`) are summed first, as
    /// burn-train does. (PyTorch's DDP broadcasts rank 0's buffers instead of averaging them.)
    pub fn all_reduce_step<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
        module: M,
        grads: LocalGrads,
        stop_requested: bool,
    ) -> Result<(M, GradientsParams, Exchanged), NodeError> {
        // Burn keeps a forward pass's new running statistics aside until they are read for a
        // record; making the record of a clone (which shares them) folds them in first.
        let _ = module.clone().into_record();
        let mut collect = Collect::<B> {
            grads,
            parts: Vec::new(),
            entries: HashMap::new(),
            offset: 0,
        };
        module.visit(&mut collect);
        let Collect {
            mut parts,
            entries,
            offset,
            ..
        } = collect;
        let device = parts.first().map(|p| p.device()).unwrap_or_default();
        let flag = f32::from(u8::from(stop_requested));
        parts.push(Tensor::from_data(TensorData::new(vec![flag], [1]), &device));
        let flat = Tensor::cat(parts, 0);
        let start = Instant::now();
        let flat = self.all_reduce_tensor(flat, ReduceOperation::Mean, "averaging gradients")?;
        self.record(start.elapsed().as_secs_f64(), offset + 1);
        let exchanged = Exchanged {
            finite: flat
                .clone()
                .is_finite()
                .all()
                .int()
                .into_scalar()
                .elem::<i64>()
                == 1,
            // The mean of the nodes' flags: above 0 when any node asked.
            requested: flat
                .clone()
                .slice(offset..offset + 1)
                .into_scalar()
                .elem::<f32>()
                > 0.0,
        };
        let mut scatter = Scatter::<B> {
            flat,
            entries,
            grads: GradientsParams::new(),
        };
        module.visit(&mut scatter);
        let module = module.map(&mut scatter);
        Ok((module, scatter.grads, exchanged))
    }

    fn record(&self, seconds: f64, values: usize) {
        let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        stats.steps += 1;
        stats.seconds += seconds;
        stats.values = values;
    }

    /// Ends the process after a failed collective call inside training (where no error can be
    /// returned): the message, then exit status [`super::watchdog::EXIT_TIMEOUT`].
    pub fn fail(&self, error: &NodeError) -> ! {
        console::line(format!("error: {error}; {}", resume_hint()));
        std::process::exit(super::watchdog::EXIT_TIMEOUT);
    }
}

fn resume_hint() -> &'static str {
    "the run directory keeps every completed epoch: start a fresh orchestrator and rerun every \
     node with --resume"
}

/// The watchdog's message: which node, what it waited for, and what to do.
fn timeout_message(spec: &NodeSpec) -> impl Fn(&str) + Send + 'static {
    let spec = spec.clone();
    move |what: &str| {
        console::line(format!(
            "error: node {rank} of {nodes}: {what}: no answer within {secs} s (--node-timeout): \
             another node stopped or the orchestrator {orch} is unreachable; {hint}",
            rank = spec.rank,
            nodes = spec.nodes,
            secs = spec.timeout.as_secs_f64(),
            orch = spec.orchestrator,
            hint = resume_hint(),
        ));
    }
}

/// The gradients of one step on this node: one device's, or several local devices' (summed).
pub enum LocalGrads {
    /// One device.
    Single(GradientsParams),
    /// Several local devices (burn-train's multi-device strategy).
    Multi(MultiGradientsParams),
}

impl LocalGrads {
    fn remove<B: Backend, const D: usize>(
        &mut self,
        id: ParamId,
        device: &B::Device,
    ) -> Option<Tensor<B, D>> {
        match self {
            LocalGrads::Single(grads) => grads.remove::<B, D>(id),
            LocalGrads::Multi(grads) => grads.remove::<B, D>(id).map(|(g, _)| g.to_device(device)),
        }
    }
}

/// Where a parameter's values sit in the flattened exchange, and what they are.
#[derive(Clone, Copy)]
struct Entry {
    offset: usize,
    len: usize,
    /// A gradient (trainable parameter) or a value (running statistic).
    grad: bool,
}

/// First pass: every trainable parameter's gradient and every running statistic, flattened,
/// in visiting order.
struct Collect<B: AutodiffBackend> {
    grads: LocalGrads,
    parts: Vec<Tensor<B::InnerBackend, 1>>,
    entries: HashMap<ParamId, Entry>,
    offset: usize,
}

impl<B: AutodiffBackend> Collect<B> {
    fn push(&mut self, id: ParamId, part: Tensor<B::InnerBackend, 1>, grad: bool) {
        let len = part.dims()[0];
        let offset = self.offset;
        self.entries.insert(id, Entry { offset, len, grad });
        self.offset += len;
        self.parts.push(part);
    }
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Collect<B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let value = param.val();
        let device = value.device();
        if let Some(grad) = self.grads.remove::<B::InnerBackend, D>(param.id, &device) {
            self.push(param.id, grad.flatten::<1>(0, D - 1), true);
        } else if !value.is_require_grad() {
            self.push(param.id, value.inner().flatten::<1>(0, D - 1), false);
        }
    }
}

/// Second pass: the averaged values back, as gradients (visiting) and as running statistics
/// (mapping), found by parameter id.
struct Scatter<B: AutodiffBackend> {
    flat: Tensor<B::InnerBackend, 1>,
    entries: HashMap<ParamId, Entry>,
    grads: GradientsParams,
}

impl<B: AutodiffBackend> Scatter<B> {
    fn part<const D: usize>(&self, entry: Entry, dims: [usize; D]) -> Tensor<B::InnerBackend, D> {
        self.flat
            .clone()
            .slice(entry.offset..entry.offset + entry.len)
            .reshape(dims)
    }
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Scatter<B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(&entry) = self.entries.get(&param.id)
            && entry.grad
        {
            let part = self.part(entry, param.val().dims());
            self.grads.register::<B::InnerBackend, D>(param.id, part);
        }
    }
}

impl<B: AutodiffBackend> ModuleMapper<B> for Scatter<B> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        match self.entries.get(&id) {
            Some(&entry) if !entry.grad => {
                let part = self.part(entry, tensor.dims());
                Param::from_mapped_value(id, Tensor::from_inner(part), mapper)
            }
            _ => Param::from_mapped_value(id, tensor, mapper),
        }
    }
}

/// `experiments orchestrator`: burn-collective's global orchestrator on `port` (all
/// interfaces), until the process is stopped (Ctrl-C).
pub fn run_orchestrator(port: u16) -> anyhow::Result<()> {
    // The orchestrator only logs a failed bind and returns; check the port first.
    drop(
        std::net::TcpListener::bind(("0.0.0.0", port))
            .map_err(|e| anyhow::anyhow!("--port {port}: {e}"))?,
    );
    // Its log (nodes joining, leaving) on stderr at INFO, uncoloured unless on a terminal.
    console::log_to_stderr("info");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!(
        "orchestrator on port {port} (all interfaces); start each node with \
         --orchestrator <this machine>:{port}"
    );
    runtime.block_on(burn_collective::start_global_orchestrator(port));
    Ok(())
}
