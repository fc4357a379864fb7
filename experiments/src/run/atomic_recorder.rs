//! Checkpoints and final weights written atomically: Burn's `NamedMpkFileRecorder` writes its
//! file in place, so a process stopped mid-write, or a full disk, leaves half a checkpoint
//! (a 0-byte `model-1.mpk`) that `--resume` then cannot load. This recorder writes the same
//! bytes (MessagePack with field names, Burn's metadata naming `NamedMpkFileRecorder`) to a
//! temporary file beside the destination and renames it into place once complete; a write
//! error names the file and the OS reason (no space left, permission denied).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use burn::record::{
    BurnRecord, FileRecorder, FullPrecisionSettings, NamedMpkFileRecorder, Record, Recorder,
    RecorderError,
};
use burn::tensor::backend::Backend;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The recorder `AtomicMpkRecorder` writes as (its metadata names it, and it reads the files).
type Named = NamedMpkFileRecorder<FullPrecisionSettings>;

/// [`NamedMpkFileRecorder`] at full precision, written atomically. Its clones share the first
/// write error (burn-train's checkpointer threads stop training on it, with a message the
/// session does not keep): [`failure`](Self::failure) reads it after training.
#[derive(Debug, Default, Clone)]
pub struct AtomicMpkRecorder {
    named: Named,
    failure: Arc<Mutex<Option<String>>>,
}

impl AtomicMpkRecorder {
    /// The recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The first file this recorder or a clone could not write, and why.
    pub fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn fail(&self, why: String) -> RecorderError {
        let mut slot = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        slot.get_or_insert_with(|| why.clone());
        RecorderError::Unknown(why)
    }
}

impl<B: Backend> Recorder<B> for AtomicMpkRecorder {
    type Settings = FullPrecisionSettings;
    type RecordArgs = PathBuf;
    type RecordOutput = ();
    type LoadArgs = PathBuf;

    /// As Burn's default, with the metadata of `NamedMpkFileRecorder`: the files are the ones
    /// that recorder writes, byte for byte.
    fn record<R: Record<B>>(&self, record: R, args: PathBuf) -> Result<(), RecorderError> {
        let item = BurnRecord::<_, B>::new::<Named>(record.into_item::<FullPrecisionSettings>());
        Recorder::<B>::save_item(self, item, args)
    }

    fn save_item<I: Serialize>(&self, item: I, file: PathBuf) -> Result<(), RecorderError> {
        let path = file.with_extension(<Self as FileRecorder<B>>::file_extension());
        let mut bytes = Vec::new();
        rmp_serde::encode::write_named(&mut bytes, &item)
            .map_err(|e| self.fail(format!("{}: {e}", path.display())))?;
        data::write_atomic(&path, &bytes).map_err(|e| self.fail(e.to_string()))
    }

    fn load_item<I: DeserializeOwned>(&self, file: &mut PathBuf) -> Result<I, RecorderError> {
        Recorder::<B>::load_item(&self.named, file)
    }
}

impl<B: Backend> FileRecorder<B> for AtomicMpkRecorder {
    fn file_extension() -> &'static str {
        <Named as FileRecorder<B>>::file_extension()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::module::Module;
    use burn::nn::{Linear, LinearConfig};

    type B = NdArray;

    #[test]
    fn writes_what_burns_recorder_writes_and_names_a_failing_file() {
        let device = Default::default();
        let model: Linear<B> = LinearConfig::new(3, 2).init(&device);
        // Initialised now (lazily, each clone would draw its own values).
        let _ = (model.weight.val(), model.bias.as_ref().map(|b| b.val()));
        let dir = tempfile::tempdir().unwrap();
        let ours = dir.path().join("ours");
        let burns = dir.path().join("burns");
        model
            .clone()
            .save_file(&ours, &AtomicMpkRecorder::new())
            .unwrap();
        model.clone().save_file(&burns, &Named::new()).unwrap();
        let read = |p: &PathBuf| std::fs::read(p.with_extension("mpk")).unwrap();
        assert_eq!(read(&ours), read(&burns));
        // Only the file itself: no temporary left beside it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        let loaded = model
            .clone()
            .load_file(&ours, &AtomicMpkRecorder::new(), &device)
            .unwrap();
        assert_eq!(loaded.weight.val().to_data(), model.weight.val().to_data());
        // A folder that cannot be created: the error names the file.
        let blocked = dir.path().join("ours.mpk").join("model-1");
        let recorder = AtomicMpkRecorder::new();
        let e = model.save_file(&blocked, &recorder.clone()).unwrap_err();
        assert!(format!("{e:?}").contains("model-1.mpk"), "{e:?}");
        assert!(recorder.failure().unwrap().contains("model-1.mpk"));
    }
}
