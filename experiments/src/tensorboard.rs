//! TensorBoard event files for a run: `tensorboard --logdir runs/` shows every run's curves,
//! and `wandb sync --sync-tensorboard <run>` sends them to Weights & Biases.
//!
//! [`write_run`] writes `events.out.tfevents.lookahead-burn` in the run directory at the end of
//! each session, from the run's metrics on disk (every epoch so far, over every session):
//! - per iteration (step = iteration over the run): `train/loss`, `train/loss_smoothed`
//!   (fastai's debiased EMA, β 0.98);
//! - per epoch (step = epoch): `epoch/train_loss`, `epoch/train_loss_smoothed`,
//!   `epoch/train_accuracy`, `epoch/valid_loss`, `epoch/valid_accuracy`,
//!   `epoch/valid_top5_accuracy`, `epoch/lr`, and `epoch/momentum` when the schedule cycles it;
//! - the run's configuration as hparams (TensorBoard's HParams tab), with the final validation
//!   accuracy and loss as its metrics.
//!
//! The format: each event is a protobuf `Event` (tensorboard/compat/proto/event.proto) in a
//! TFRecord frame (length, masked CRC-32C of the length, data, masked CRC-32C of the data).
//! The messages are declared here with prost's derive, the fields this writer uses only, so no
//! protobuf compiler is needed to build.

use std::collections::BTreeMap;
use std::path::Path;

use prost::Message;
use study::config::TrainConfig;
use study::run_dir::EpochMetrics;

/// The event file's name (TensorBoard reads every file with `tfevents` in its name).
pub const EVENT_FILE: &str = "events.out.tfevents.lookahead-burn";

#[derive(Clone, PartialEq, Message)]
struct Event {
    #[prost(double, tag = "1")]
    wall_time: f64,
    #[prost(int64, tag = "2")]
    step: i64,
    #[prost(oneof = "What", tags = "3, 5")]
    what: Option<What>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum What {
    #[prost(string, tag = "3")]
    FileVersion(String),
    #[prost(message, tag = "5")]
    Summary(Summary),
}

#[derive(Clone, PartialEq, Message)]
struct Summary {
    #[prost(message, repeated, tag = "1")]
    value: Vec<SummaryValue>,
}

#[derive(Clone, PartialEq, Message)]
struct SummaryValue {
    #[prost(string, tag = "1")]
    tag: String,
    #[prost(float, optional, tag = "2")]
    simple_value: Option<f32>,
    #[prost(message, optional, tag = "9")]
    metadata: Option<SummaryMetadata>,
}

#[derive(Clone, PartialEq, Message)]
struct SummaryMetadata {
    #[prost(message, optional, tag = "1")]
    plugin_data: Option<PluginData>,
}

#[derive(Clone, PartialEq, Message)]
struct PluginData {
    #[prost(string, tag = "1")]
    plugin_name: String,
    #[prost(bytes = "vec", tag = "2")]
    content: Vec<u8>,
}

// The HParams plugin's messages (tensorboard/plugins/hparams/{plugin_data,api}.proto).

#[derive(Clone, PartialEq, Message)]
struct HParamsPluginData {
    #[prost(int32, tag = "1")]
    version: i32,
    #[prost(oneof = "HParamsData", tags = "2, 3, 4")]
    data: Option<HParamsData>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum HParamsData {
    #[prost(message, tag = "2")]
    Experiment(Experiment),
    #[prost(message, tag = "3")]
    SessionStartInfo(SessionStartInfo),
    #[prost(message, tag = "4")]
    SessionEndInfo(SessionEndInfo),
}

#[derive(Clone, PartialEq, Message)]
struct Experiment {
    #[prost(message, repeated, tag = "4")]
    hparam_infos: Vec<HParamInfo>,
    #[prost(message, repeated, tag = "5")]
    metric_infos: Vec<MetricInfo>,
}

#[derive(Clone, PartialEq, Message)]
struct HParamInfo {
    #[prost(string, tag = "1")]
    name: String,
    /// 1 = string, 2 = bool, 3 = float64 (api.proto's `DataType`).
    #[prost(int32, tag = "4")]
    r#type: i32,
}

#[derive(Clone, PartialEq, Message)]
struct MetricInfo {
    #[prost(message, optional, tag = "1")]
    name: Option<MetricName>,
}

#[derive(Clone, PartialEq, Message)]
struct MetricName {
    #[prost(string, tag = "1")]
    group: String,
    #[prost(string, tag = "2")]
    tag: String,
}

#[derive(Clone, PartialEq, Message)]
struct SessionStartInfo {
    #[prost(btree_map = "string, message", tag = "1")]
    hparams: BTreeMap<String, ProtoValue>,
    #[prost(double, tag = "5")]
    start_time_secs: f64,
}

#[derive(Clone, PartialEq, Message)]
struct SessionEndInfo {
    /// 1 = success (api.proto's `Status`).
    #[prost(int32, tag = "1")]
    status: i32,
    #[prost(double, tag = "2")]
    end_time_secs: f64,
}

/// google.protobuf.Value: a number, a string or a bool.
#[derive(Clone, PartialEq, Message)]
struct ProtoValue {
    #[prost(oneof = "Kind", tags = "2, 3, 4")]
    kind: Option<Kind>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum Kind {
    #[prost(double, tag = "2")]
    Number(f64),
    #[prost(string, tag = "3")]
    Text(String),
    #[prost(bool, tag = "4")]
    Bool(bool),
}

/// TFRecord's checksum: CRC-32C, rotated right by 15 bits, plus a constant.
fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Events framed as TFRecords, in memory.
struct Records {
    bytes: Vec<u8>,
    wall_time: f64,
}

impl Records {
    fn new(wall_time: f64) -> Self {
        let mut records = Self {
            bytes: Vec::new(),
            wall_time,
        };
        records.push(0, What::FileVersion("brain.Event:2".into()));
        records
    }

    fn push(&mut self, step: i64, what: What) {
        let data = Event {
            wall_time: self.wall_time,
            step,
            what: Some(what),
        }
        .encode_to_vec();
        let len = (data.len() as u64).to_le_bytes();
        self.bytes.extend_from_slice(&len);
        self.bytes
            .extend_from_slice(&masked_crc(&len).to_le_bytes());
        self.bytes.extend_from_slice(&data);
        self.bytes
            .extend_from_slice(&masked_crc(&data).to_le_bytes());
    }

    fn scalar(&mut self, step: usize, tag: &str, value: Option<f64>) {
        let Some(value) = value else { return };
        let value = SummaryValue {
            tag: tag.into(),
            simple_value: Some(value as f32),
            metadata: None,
        };
        self.push(step as i64, What::Summary(Summary { value: vec![value] }));
    }

    fn hparams(&mut self, tag: &str, data: HParamsData) {
        let content = HParamsPluginData {
            version: 0,
            data: Some(data),
        }
        .encode_to_vec();
        let value = SummaryValue {
            tag: tag.into(),
            simple_value: None,
            metadata: Some(SummaryMetadata {
                plugin_data: Some(PluginData {
                    plugin_name: "hparams".into(),
                    content,
                }),
            }),
        };
        self.push(0, What::Summary(Summary { value: vec![value] }));
    }
}

/// The run's configuration as hparams: every scalar field of `config.json` (numbers, strings,
/// bools; lists and absent values left out).
fn hparams_of(config: &TrainConfig) -> anyhow::Result<BTreeMap<String, ProtoValue>> {
    let serde_json::Value::Object(fields) = serde_json::to_value(config)? else {
        anyhow::bail!("a config is not a table");
    };
    Ok(fields
        .into_iter()
        .filter_map(|(k, v)| {
            let kind = match v {
                serde_json::Value::Number(n) => Kind::Number(n.as_f64()?),
                serde_json::Value::String(s) => Kind::Text(s),
                serde_json::Value::Bool(b) => Kind::Bool(b),
                _ => return None,
            };
            Some((k, ProtoValue { kind: Some(kind) }))
        })
        .collect())
}

/// The event file of a run from its metrics: `iterations` (loss per iteration over the run),
/// `epochs`, and the momentum at each epoch's end where the schedule cycles it.
pub fn event_file(
    config: &TrainConfig,
    epochs: &[EpochMetrics],
    iterations: &[f64],
    momenta: &[(usize, f64)],
    wall_time: f64,
) -> anyhow::Result<Vec<u8>> {
    let mut records = Records::new(wall_time);
    let smoothed = study::run_dir::metrics::smooth(iterations);
    for (i, (loss, smooth)) in iterations.iter().zip(&smoothed).enumerate() {
        records.scalar(i + 1, "train/loss", Some(*loss));
        records.scalar(i + 1, "train/loss_smoothed", Some(*smooth));
    }
    for e in epochs {
        records.scalar(e.epoch, "epoch/train_loss", Some(e.train_loss));
        records.scalar(e.epoch, "epoch/train_loss_smoothed", e.train_loss_smoothed);
        records.scalar(e.epoch, "epoch/train_accuracy", Some(e.train_accuracy));
        records.scalar(e.epoch, "epoch/valid_loss", e.valid_loss);
        records.scalar(e.epoch, "epoch/valid_accuracy", e.valid_accuracy);
        records.scalar(e.epoch, "epoch/valid_top5_accuracy", e.valid_top5_accuracy);
        records.scalar(e.epoch, "epoch/lr", Some(e.lr));
    }
    for (epoch, momentum) in momenta {
        records.scalar(*epoch, "epoch/momentum", Some(*momentum));
    }
    let hparams = hparams_of(config)?;
    let infos = hparams
        .iter()
        .map(|(name, v)| HParamInfo {
            name: name.clone(),
            r#type: match v.kind {
                Some(Kind::Text(_)) => 1,
                Some(Kind::Bool(_)) => 2,
                _ => 3,
            },
        })
        .collect();
    let metric = |tag: &str| MetricInfo {
        name: Some(MetricName {
            group: String::new(),
            tag: tag.into(),
        }),
    };
    records.hparams(
        "_hparams_/experiment",
        HParamsData::Experiment(Experiment {
            hparam_infos: infos,
            metric_infos: vec![metric("epoch/valid_accuracy"), metric("epoch/valid_loss")],
        }),
    );
    records.hparams(
        "_hparams_/session_start_info",
        HParamsData::SessionStartInfo(SessionStartInfo {
            hparams,
            start_time_secs: wall_time,
        }),
    );
    records.hparams(
        "_hparams_/session_end_info",
        HParamsData::SessionEndInfo(SessionEndInfo {
            status: 1,
            end_time_secs: wall_time,
        }),
    );
    Ok(records.bytes)
}

/// Writes the run's event file into `dir` (atomically: a TensorBoard reading the folder never
/// sees half a file).
pub fn write_run(
    dir: &Path,
    config: &TrainConfig,
    epochs: &[EpochMetrics],
    iterations: &[f64],
    momenta: &[(usize, f64)],
) -> anyhow::Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let bytes = event_file(config, epochs, iterations, momenta, now)?;
    data::write_atomic(&dir.join(EVENT_FILE), &bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TFRecord's masked CRC-32C, checked against TensorFlow's own values: CRC-32C("123456789")
    /// = 0xE3069283 (the catalogue's check value), masked = rotr(0xE3069283, 15) + 0xA282EAD8.
    #[test]
    fn records_are_framed_with_masked_crc32c() {
        let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(b"123456789");
        assert_eq!(crc, 0xE306_9283);
        assert_eq!(
            masked_crc(b"123456789"),
            0xE306_9283u32.rotate_right(15).wrapping_add(0xa282_ead8)
        );
        let epochs = vec![EpochMetrics {
            epoch: 1,
            train_loss: 1.0,
            train_accuracy: 50.0,
            valid_loss: Some(0.9),
            valid_accuracy: Some(60.0),
            lr: 0.1,
            train_loss_smoothed: Some(1.1),
            valid_top5_accuracy: Some(95.0),
        }];
        let bytes =
            event_file(&TrainConfig::new(), &epochs, &[1.2, 0.8], &[(1, 0.9)], 1.0).unwrap();
        // Walk the frames: each length and each payload checks out, and the first event is the
        // file version.
        let mut at = 0;
        let mut events = Vec::new();
        while at < bytes.len() {
            let len = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
            let len_crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
            assert_eq!(len_crc, masked_crc(&bytes[at..at + 8]));
            let data = &bytes[at + 12..at + 12 + len];
            let crc = u32::from_le_bytes(bytes[at + 12 + len..at + 16 + len].try_into().unwrap());
            assert_eq!(crc, masked_crc(data));
            events.push(Event::decode(data).unwrap());
            at += 16 + len;
        }
        assert_eq!(
            events[0].what,
            Some(What::FileVersion("brain.Event:2".into()))
        );
        // 2 iterations × 2 tags, 7 epoch tags and the momentum, 3 hparams summaries.
        assert_eq!(events.len(), 1 + 4 + 8 + 3);
    }
}
