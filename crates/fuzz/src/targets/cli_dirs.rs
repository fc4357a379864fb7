//! Command-line targets over folders: a suite file checked against a suite directory that holds
//! a finished run (`compare --check`), a dataset tree (`train --check`), and a run directory
//! continued for real (`train --resume`). Every entry of a tree can be replaced by hostile
//! bytes, nothing, a folder, a FIFO, a link to `/dev/zero` or a link to itself ([`Stand`]).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::ensure;

use super::binary::{META, batch_layout, cifar_batch, gzip, gzip_layout, idx_layout};
use super::cli::{Snapshot, Stand, binary, exec, judge, remove, tiny_fashion_mnist};
use super::text::FIELD_WORDS;
use super::{Target, Verdict};
use crate::mutate::{Layout, Rng, mutate_bytes, mutate_text};

/// Runs the binary with `args` in `cwd`, `fault` set as the fault-injection variable; its
/// success is required (the targets' starting states).
fn run_ok(bin: &Path, args: &[&str], cwd: &Path, fault: Option<&str>) -> anyhow::Result<()> {
    let mut command = Command::new(bin);
    command
        .args(args)
        .current_dir(cwd)
        .env_remove(data::FAULT_ENV);
    if let Some(point) = fault {
        command.env(data::FAULT_ENV, point);
    }
    let output = command.output()?;
    ensure!(
        output.status.success() == fault.is_none(),
        "{args:?} (fault {fault:?}): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// The files under `dir`, relative, sorted (folders too, after their files).
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(read) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut items: Vec<PathBuf> = read.flatten().map(|e| e.path()).collect();
    items.sort();
    for path in items {
        if path.is_dir() {
            out.extend(
                entries(&path)
                    .into_iter()
                    .map(|p| PathBuf::from(path.file_name().unwrap_or_default()).join(p)),
            );
        }
        out.push(PathBuf::from(path.file_name().unwrap_or_default()));
    }
    out
}

/// Copies the tree `from` into `to` (replaced).
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    remove(to);
    std::fs::create_dir_all(to)?;
    for item in std::fs::read_dir(from)? {
        let item = item?;
        let target = to.join(item.file_name());
        match item.file_type()?.is_dir() {
            true => copy_tree(&item.path(), &target)?,
            false => {
                std::fs::copy(item.path(), &target)?;
            }
        }
    }
    Ok(())
}

/// An input of a tree target: a starting state, what stands at one of its entries, and the
/// bytes when they stand there.
struct Edit<'a> {
    state: usize,
    stand: Stand,
    entry: usize,
    bytes: &'a [u8],
}

impl<'a> Edit<'a> {
    fn decode(input: &'a [u8]) -> Self {
        let byte = |i: usize| input.get(i).copied().unwrap_or(0);
        Edit {
            state: byte(0) as usize,
            stand: Stand::from_byte(byte(1)),
            entry: u16::from_le_bytes([byte(2), byte(3)]) as usize,
            bytes: input.get(4..).unwrap_or_default(),
        }
    }

    fn encode(state: usize, stand: u8, entry: usize, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![state as u8, stand];
        out.extend((entry as u16).to_le_bytes());
        out.extend_from_slice(bytes);
        out
    }
}

/// Mutates the bytes of `name` by its format.
fn mutate_file(name: &str, bytes: &[u8], rng: &mut Rng) -> Vec<u8> {
    let plain = |len: usize| Layout {
        fields: Vec::new(),
        boundaries: vec![len],
    };
    if name.ends_with(".gz") {
        let raw = super::binary::gunzip(bytes).unwrap_or_default();
        return match rng.below(2) {
            0 => gzip(&mutate_bytes(&raw, &idx_layout(3, raw.len()), rng)),
            _ => mutate_bytes(bytes, &gzip_layout(bytes.len()), rng),
        };
    }
    if name.ends_with(".bin") {
        return mutate_bytes(bytes, &batch_layout(bytes.len()), rng);
    }
    if name.ends_with(".mpk") {
        return mutate_bytes(bytes, &plain(bytes.len()), rng);
    }
    let mut words = FIELD_WORDS.to_vec();
    words.extend([
        "Complete",
        "Interrupted",
        "epoch",
        "null",
        "NaN",
        "cat",
        "\n",
    ]);
    mutate_text(&String::from_utf8_lossy(bytes), &words, rng).into_bytes()
}

/// Starting states (each a folder) and their entries; the mutants of a tree target.
struct States {
    dirs: Vec<PathBuf>,
    entries: Vec<Vec<PathBuf>>,
    seeds: Vec<Vec<u8>>,
}

impl States {
    fn new(dirs: Vec<PathBuf>) -> anyhow::Result<Self> {
        let entries: Vec<Vec<PathBuf>> = dirs.iter().map(|d| entries(d)).collect();
        let mut seeds = Vec::new();
        for (state, (dir, list)) in dirs.iter().zip(&entries).enumerate() {
            for (i, entry) in list.iter().enumerate() {
                let path = dir.join(entry);
                if path.is_file() {
                    seeds.push(Edit::encode(state, 0, i, &std::fs::read(&path)?));
                }
            }
        }
        Ok(Self {
            dirs,
            entries,
            seeds,
        })
    }

    fn mutate(&self, seed: &[u8], rng: &mut Rng) -> Vec<u8> {
        let edit = Edit::decode(seed);
        let state = edit.state % self.dirs.len();
        let list = &self.entries[state];
        let (entry, bytes) = match rng.below(8) {
            // Another entry, and what stands there instead.
            0 => (rng.below(list.len()), Vec::new()),
            _ => {
                let name = list[edit.entry % list.len()].to_string_lossy().into_owned();
                (edit.entry, mutate_file(&name, edit.bytes, rng))
            }
        };
        let stand = match rng.below(3) {
            0 => rng.next() as u8,
            _ => 0,
        };
        Edit::encode(state, stand, entry, &bytes)
    }

    /// Copies the input's state to `to` and applies its edit; returns the edited entry.
    fn apply(&self, input: &[u8], to: &Path) -> PathBuf {
        let edit = Edit::decode(input);
        let state = edit.state % self.dirs.len();
        copy_tree(&self.dirs[state], to).expect("the scratch folder is writable");
        let list = &self.entries[state];
        let entry = list[edit.entry % list.len()].clone();
        let stand = match (edit.bytes.is_empty(), edit.stand) {
            (true, Stand::Bytes) => Stand::Absent,
            (_, stand) => stand,
        };
        stand
            .place(&to.join(&entry), edit.bytes)
            .expect("the scratch folder is writable");
        entry
    }
}

/// The tiny CIFAR-10 (2 records per batch) in `root/cifar-10-batches-bin/`.
fn tiny_cifar10(root: &Path) -> anyhow::Result<()> {
    let dir = root.join("cifar-10-batches-bin");
    std::fs::create_dir_all(&dir)?;
    for name in (1..=5).map(|i| format!("data_batch_{i}.bin")) {
        std::fs::write(dir.join(name), cifar_batch(2))?;
    }
    std::fs::write(dir.join("test_batch.bin"), cifar_batch(2))?;
    std::fs::write(dir.join("batches.meta.txt"), META)?;
    Ok(())
}

/// `train --check` on a mutated dataset tree (the tiny Fashion-MNIST, gzipped IDX; the tiny
/// CIFAR-10). Oracles: [`judge`], nothing written (the data included), a refusal names a path.
pub struct Data {
    bin: PathBuf,
    root: PathBuf,
    states: States,
}

impl Data {
    pub fn new(work: &Path) -> anyhow::Result<Self> {
        let root = work.join("cli-data");
        remove(&root);
        tiny_fashion_mnist(&root.join("states/fashion-mnist"))?;
        tiny_cifar10(&root.join("states/cifar10"))?;
        let dirs = ["fashion-mnist", "cifar10"].map(|d| root.join("states").join(d));
        Ok(Self {
            bin: binary()?,
            states: States::new(dirs.to_vec())?,
            root,
        })
    }
}

impl Target for Data {
    fn seeds(&self) -> &[Vec<u8>] {
        &self.states.seeds
    }

    fn mutate(&self, seed: &[u8], rng: &mut Rng) -> Vec<u8> {
        self.states.mutate(seed, rng)
    }

    fn run(&mut self, input: &[u8]) -> Verdict {
        let data = self.root.join("data");
        self.states.apply(input, &data);
        let dataset = ["fashion-mnist", "cifar10"][Edit::decode(input).state % 2];
        let before = Snapshot::of(&data);
        let args: Vec<OsString> = [
            "train",
            "--check",
            "--backend",
            "flex",
            "--no-dashboard",
            "--model",
            "micro-resnet",
            "--batch-size",
            "2",
            "--epochs",
            "1",
            "--dataset",
            dataset,
            "--data-dir",
        ]
        .map(OsString::from)
        .into_iter()
        .chain([
            data.clone().into(),
            "--out".into(),
            self.root.join("run").into(),
        ])
        .collect();
        let done = exec(&self.bin, &args, &self.root);
        before.assert_same(&Snapshot::of(&data), "a check (it writes nothing)");
        assert!(
            !self.root.join("run").exists(),
            "a check created its run directory"
        );
        let verdict = judge(&done, &args);
        if verdict == Verdict::Refused {
            let line = done.stderr.lines().find(|l| l.starts_with("error:"));
            assert!(
                line.is_some_and(|l| l.contains('/')),
                "a refusal of a dataset that names no path: {line:?}"
            );
        }
        verdict
    }
}

/// The tiny suite: two optimizers, one seed, one epoch on the tiny Fashion-MNIST.
const SUITE: &str = "name = \"fuzz\"\ndatasets = [\"fashion-mnist\"]\nseeds = [1]\n\
                     baseline = \"sgd\"\n\n[recipe]\nmodel = \"micro-resnet\"\nepochs = 1\n\
                     batch_size = 8\nlr_max = 0.05\ntensorboard = false\n\n\
                     [[optimizers]]\nlabel = \"sgd\"\nspec = \"sgd(momentum=0.9)\"\n\n\
                     [[optimizers]]\nlabel = \"la-sgd\"\n\
                     spec = \"lookahead(sgd(momentum=0.9), k=5, alpha=0.5)\"\nlr_max = 0.1\n";

/// `compare --check` with a mutated suite file, against a suite directory in which the tiny
/// suite has run (its runs finished, its report written). Oracles: [`judge`], nothing written.
pub struct SuiteCheck {
    bin: PathBuf,
    root: PathBuf,
    seeds: Vec<Vec<u8>>,
}

impl SuiteCheck {
    pub fn new(work: &Path) -> anyhow::Result<Self> {
        let root = work.join("cli-suite");
        remove(&root);
        tiny_fashion_mnist(&root.join("data"))?;
        let suite = root.join("suite.toml");
        std::fs::write(&suite, SUITE)?;
        let bin = binary()?;
        let [suite, out, data] =
            [suite, root.join("out"), root.join("data")].map(|p| p.to_string_lossy().into_owned());
        run_ok(
            &bin,
            &[
                "compare",
                &suite,
                "--out",
                &out,
                "--data-dir",
                &data,
                "--backend",
                "flex",
            ],
            &root,
            None,
        )?;
        Ok(Self {
            bin,
            root,
            seeds: vec![SUITE.as_bytes().to_vec()],
        })
    }
}

impl Target for SuiteCheck {
    fn seeds(&self) -> &[Vec<u8>] {
        &self.seeds
    }

    fn mutate(&self, seed: &[u8], rng: &mut Rng) -> Vec<u8> {
        let mut words = FIELD_WORDS.to_vec();
        words.extend([
            "\"..\"",
            "\"/\"",
            "[[optimizers]]",
            "spec",
            "data_dir",
            "published",
        ]);
        mutate_text(&String::from_utf8_lossy(seed), &words, rng).into_bytes()
    }

    fn run(&mut self, input: &[u8]) -> Verdict {
        let suite = self.root.join("suite.toml");
        std::fs::write(&suite, input).expect("the scratch folder is writable");
        let before = Snapshot::of(&self.root);
        let args: Vec<OsString> = vec![
            "compare".into(),
            suite.into(),
            "--check".into(),
            "--backend".into(),
            "flex".into(),
            "--out".into(),
            self.root.join("out").into(),
            "--data-dir".into(),
            self.root.join("data").into(),
        ];
        let done = exec(&self.bin, &args, &self.root);
        before.assert_same(&Snapshot::of(&self.root), "a check (it writes nothing)");
        judge(&done, &args)
    }
}

/// `train --resume` of a mutated run directory, for real. Its states are left by real runs of
/// the tiny recipe: one finished, one whose summary could not be written, one interrupted
/// after epoch 1 (its epoch-2 checkpoint could not be written). Oracles: [`judge`]; a refusal
/// leaves the directory byte for byte; an accepted run ends complete, and with the
/// uninterrupted run's `metrics.csv` byte for byte unless the edit changed what it was trained
/// from (a checkpoint or an epoch's logs).
pub struct Resume {
    bin: PathBuf,
    root: PathBuf,
    states: States,
    expected: Vec<u8>,
}

impl Resume {
    pub fn new(work: &Path) -> anyhow::Result<Self> {
        let root = work.join("cli-run-dir");
        remove(&root);
        tiny_fashion_mnist(&root.join("data"))?;
        let bin = binary()?;
        let data = root.join("data").to_string_lossy().into_owned();
        let mut dirs = Vec::new();
        for (name, fault) in [
            ("finished", None),
            ("no-summary", Some("summary.json")),
            ("interrupted", Some("checkpoint/model-2.mpk")),
        ] {
            let dir = root.join("states").join(name);
            let out = dir.to_string_lossy().into_owned();
            let args = [
                "train",
                "--backend",
                "flex",
                "--no-dashboard",
                "--dataset",
                "fashion-mnist",
                "--data-dir",
                &data,
                "--model",
                "micro-resnet",
                "--epochs",
                "2",
                "--batch-size",
                "8",
                "--seed",
                "3",
                "--tensorboard",
                "false",
                "--out",
                &out,
            ];
            run_ok(&bin, &args, &root, fault)?;
            dirs.push(dir);
        }
        let expected = std::fs::read(dirs[0].join("metrics.csv"))?;
        Ok(Self {
            bin,
            states: States::new(dirs)?,
            root,
            expected,
        })
    }
}

impl Target for Resume {
    fn seeds(&self) -> &[Vec<u8>] {
        &self.states.seeds
    }

    fn mutate(&self, seed: &[u8], rng: &mut Rng) -> Vec<u8> {
        self.states.mutate(seed, rng)
    }

    fn run(&mut self, input: &[u8]) -> Verdict {
        let dir = self.root.join("run");
        let entry = self.states.apply(input, &dir);
        let before = Snapshot::of(&dir);
        let summary = summary_text(&dir);
        let ended = summary.contains("\"status\": \"complete\"");
        let args: Vec<OsString> = vec![
            "train".into(),
            "--resume".into(),
            "--backend".into(),
            "flex".into(),
            "--no-dashboard".into(),
            "--out".into(),
            dir.clone().into(),
        ];
        let done = exec(&self.bin, &args, &self.root);
        let verdict = judge(&done, &args);
        match verdict {
            // A checkpoint edited into weights that diverge: a run that trained, and said so.
            Verdict::Refused if trained_from(&entry) && diverged(&dir) => {}
            Verdict::Refused => {
                let error = done.stderr.lines().find(|l| l.starts_with("error:"));
                let what = format!(
                    "a refused --resume (after an edit of {}: {})",
                    entry.display(),
                    error.unwrap_or_default()
                );
                before.assert_same(&Snapshot::of(&dir), &what);
            }
            // A run that has ended has nothing to train: it stays as it is.
            Verdict::Accepted if ended => {
                before.assert_same(&Snapshot::of(&dir), "an accepted --resume of an ended run");
            }
            Verdict::Accepted => self.check_finished(&dir, &entry),
        }
        verdict
    }
}

/// Whether `entry` of a run directory is something a resumed run trains from (a checkpoint, an
/// epoch's logs): an edit of it may change the run's metrics.
fn trained_from(entry: &Path) -> bool {
    ["checkpoint", "train", "valid"]
        .iter()
        .any(|top| entry.starts_with(top))
}

/// `dir/summary.json`, read only when it is a regular file (the fuzzer itself must not wait on
/// a FIFO put there); empty otherwise.
fn summary_text(dir: &Path) -> String {
    let path = dir.join("summary.json");
    match path.is_file() {
        true => std::fs::read_to_string(&path).unwrap_or_default(),
        false => String::new(),
    }
}

/// Whether the run in `dir` ended diverged, by its summary.
fn diverged(dir: &Path) -> bool {
    let summary = summary_text(dir);
    summary.contains("\"status\": \"diverged\"")
}

impl Resume {
    /// The oracle of an accepted `--resume` (see [`Resume`]).
    fn check_finished(&self, dir: &Path, entry: &Path) {
        let summary = summary_text(dir);
        assert!(
            summary.contains("\"status\": \"complete\""),
            "an accepted --resume ended without a complete summary: {summary}"
        );
        let metrics = std::fs::read(dir.join("metrics.csv")).unwrap_or_default();
        match trained_from(entry) {
            false => assert!(
                metrics == self.expected,
                "an accepted --resume (after an edit of {}) ended with another metrics.csv:\n{}",
                entry.display(),
                String::from_utf8_lossy(&metrics)
            ),
            true => assert_eq!(
                metrics.iter().filter(|&&b| b == b'\n').count(),
                3,
                "metrics.csv of an accepted --resume lacks an epoch"
            ),
        }
    }
}
