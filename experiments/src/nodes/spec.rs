//! [`NodeSpec`]: where one process stands in a multi-node run, from its flags.

use std::time::Duration;

use super::agree;

/// Where one process stands in a multi-node run, parsed from `--nodes`, `--node-rank`,
/// `--orchestrator`, `--node-address` and `--node-timeout`.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSpec {
    /// Nodes in the run (`--nodes`, 2 ..= 256).
    pub nodes: u32,
    /// This node's rank (`--node-rank`, 0 ..= nodes − 1); rank 0 writes the run directory.
    pub rank: u32,
    /// The orchestrator's address, `ws://host:port`.
    pub orchestrator: String,
    /// This node's address as the other nodes reach it, `ws://host:port`.
    pub address: String,
    /// The port this node serves its tensors on (the port of `address`).
    pub data_port: u16,
    /// How long a collective call may wait for the other nodes before this node gives up.
    pub timeout: Duration,
}

/// A multi-node option that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum NodeSpecError {
    /// `--nodes` out of range.
    #[error("--nodes {0}: must be 2 to {max}", max = agree::MAX_NODES)]
    Nodes(u32),
    /// `--node-rank` out of range.
    #[error("--node-rank {rank}: must be below --nodes {nodes}")]
    Rank {
        /// The rank given.
        rank: u32,
        /// The node count.
        nodes: u32,
    },
    /// An address that is not `host:port`.
    #[error("{flag} `{value}`: expected host:port (e.g. 10.0.0.1:29400)")]
    Address {
        /// The flag.
        flag: &'static str,
        /// What was given.
        value: String,
    },
    /// A remote orchestrator without this node's own address.
    #[error(
        "--node-address is needed when the orchestrator ({0}) is on another machine: give the \
         address and a free port at which the other nodes reach this one"
    )]
    NodeAddressNeeded(String),
    /// A timeout that is not a positive number of seconds.
    #[error("--node-timeout {0}: must be a positive number of seconds")]
    Timeout(f64),
}

/// Splits `host:port` (with or without `ws://`).
fn host_port(flag: &'static str, value: &str) -> Result<(String, u16), NodeSpecError> {
    let bad = || NodeSpecError::Address {
        flag,
        value: value.to_string(),
    };
    let text = value.strip_prefix("ws://").unwrap_or(value);
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 || host.contains('/') {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

impl NodeSpec {
    /// The default seconds a collective call may wait (`--node-timeout`): long enough for the
    /// slowest node's validation and checkpoint between epochs.
    pub const DEFAULT_TIMEOUT_S: f64 = 600.0;

    /// Checks and parses the flags. Without `node_address`, an orchestrator on this machine
    /// (`127.0.0.1`/`localhost`) gives `127.0.0.1:<orchestrator port + 1 + rank>`.
    pub fn new(
        nodes: u32,
        rank: u32,
        orchestrator: &str,
        node_address: Option<&str>,
        timeout_s: f64,
    ) -> Result<Self, NodeSpecError> {
        if !(2..=agree::MAX_NODES).contains(&nodes) {
            return Err(NodeSpecError::Nodes(nodes));
        }
        if rank >= nodes {
            return Err(NodeSpecError::Rank { rank, nodes });
        }
        if !(timeout_s.is_finite() && timeout_s > 0.0) {
            return Err(NodeSpecError::Timeout(timeout_s));
        }
        let (orch_host, orch_port) = host_port("--orchestrator", orchestrator)?;
        let (host, data_port) = match node_address {
            Some(address) => host_port("--node-address", address)?,
            None if matches!(orch_host.as_str(), "127.0.0.1" | "localhost") => {
                let port = u16::try_from(u32::from(orch_port) + 1 + rank).map_err(|_| {
                    NodeSpecError::Address {
                        flag: "--orchestrator",
                        value: orchestrator.to_string(),
                    }
                })?;
                ("127.0.0.1".to_string(), port)
            }
            None => return Err(NodeSpecError::NodeAddressNeeded(orchestrator.to_string())),
        };
        Ok(Self {
            nodes,
            rank,
            orchestrator: format!("ws://{orch_host}:{orch_port}"),
            address: format!("ws://{host}:{data_port}"),
            data_port,
            timeout: Duration::from_secs_f64(timeout_s),
        })
    }

    /// Whether this node writes the run directory.
    pub fn is_writer(&self) -> bool {
        self.rank == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_into_addresses() {
        let spec = NodeSpec::new(2, 1, "127.0.0.1:29400", None, 30.0).unwrap();
        assert_eq!(spec.orchestrator, "ws://127.0.0.1:29400");
        assert_eq!(
            (spec.address.as_str(), spec.data_port),
            ("ws://127.0.0.1:29402", 29402)
        );
        assert!(!spec.is_writer());
        let remote = NodeSpec::new(4, 0, "ws://10.0.0.1:29400", Some("10.0.0.2:29500"), 5.0);
        assert_eq!(remote.unwrap().address, "ws://10.0.0.2:29500");
    }

    #[test]
    fn bad_flags_are_named() {
        let err = |r: Result<NodeSpec, NodeSpecError>| r.unwrap_err().to_string();
        assert!(err(NodeSpec::new(1, 0, "127.0.0.1:1", None, 1.0)).contains("--nodes 1"));
        assert!(err(NodeSpec::new(2, 2, "127.0.0.1:1", None, 1.0)).contains("--node-rank 2"));
        assert!(err(NodeSpec::new(2, 0, "nowhere", None, 1.0)).contains("--orchestrator"));
        assert!(err(NodeSpec::new(2, 0, "10.0.0.1:9", None, 1.0)).contains("--node-address"));
        assert!(err(NodeSpec::new(2, 0, "127.0.0.1:9", Some("x:y"), 1.0)).contains("x:y"));
        assert!(err(NodeSpec::new(2, 0, "127.0.0.1:9", None, 0.0)).contains("--node-timeout"));
    }
}
