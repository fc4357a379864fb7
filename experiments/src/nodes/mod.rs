//! Multi-node data parallel training on Burn's collective (`burn-collective` 0.21).
//!
//! A run of `N` nodes is `N` processes, one per machine, launched like `torchrun`'s: one
//! `experiments orchestrator --port P` somewhere, then on every machine the same
//! `experiments train … --nodes N --node-rank R --orchestrator HOST:P`. Each node:
//!
//! * trains on its shard of every global batch ([`crate::loader::Shard`]: batch `b` of the
//!   epoch's permutation, drawn from (seed, epoch) as in one process, split into `N` disjoint
//!   parts of `batch_size / N` images);
//! * averages its gradients with the other nodes' before every optimizer step
//!   ([`NodeLink::all_reduce_step`]: one ring all-reduce of the gradients, and of BatchNorm's
//!   running statistics, flattened in the model's parameter order), so every node applies the
//!   same update and Lookahead's state and the weights stay identical on all nodes;
//! * refuses to start unless every node has the same config, backend and resume epoch
//!   ([`agree`], one all-reduce of fingerprints, naming the fields that differ);
//! * gives up with a clear error when another node or the orchestrator stops answering
//!   ([`watchdog`]);
//! * stops after the same step as every other node when any of them diverges ([`stop`]).
//!
//! Node 0 alone writes the run directory (`run::train`); node `R > 0` keeps its own final
//! weights and shard logs in `<out>/node-R/`.

pub mod agree;
mod link;
pub mod stop;
pub mod watchdog;

mod spec;

pub use link::{LocalGrads, NodeError, NodeLink, leave, run_orchestrator};
pub use spec::{NodeSpec, NodeSpecError};
pub use stop::{Exchanged, StopVote};
pub use study::run_dir::AllReduceStats;
