//! No tensor of Lookahead's step or sync leaves its device: the optimizer's sources (the
//! `lookahead-optim` crate and the run optimizer of `experiments/src/optim`) hold no call that
//! copies a tensor to the host or builds one from host data, outside their tests and outside the
//! fallback compiled only without the `patched-burn-optim` feature (which the workspace enables).
//! A host read that comes back into the step or the sync path (as `read_field!` once did for
//! SGD's and RMSProp's momentum) fails this test with its file and line.
#![allow(clippy::unwrap_used)]

mod support;

use support::{rust_files, workspace};

/// Calls that move tensor data between the device and the host.
const HOST_CALLS: &[&str] = &[
    "into_data",
    "to_data",
    "into_item",
    "from_item",
    "into_scalar",
    "from_data",
    "from_floats",
    "to_vec",
];

/// Folders of the step and sync path.
const PATH: &[&str] = &["crates/lookahead-optim/src", "experiments/src/optim"];

/// Files of the crate that are tests only (`#[cfg(test)] mod test_util`).
const TEST_FILES: &[&str] = &["test_util.rs"];

/// The attribute of the host-copy fallback, left out of the scan.
const FALLBACK: &str = "#[cfg(not(feature = \"patched-burn-optim\"))]";

/// `text` with the item that starts at `start` blanked (up to its closing brace or its `;`),
/// line breaks kept so that line numbers stay true.
fn blank_item(text: &mut [u8], start: usize) {
    let mut depth = 0usize;
    let mut end = text.len();
    for (i, &b) in text.iter().enumerate().skip(start) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    end = i + 1;
                    break;
                }
            }
            b';' if depth == 0 => {
                end = i + 1;
                break;
            }
            _ => {}
        }
    }
    text[start..end]
        .iter_mut()
        .filter(|b| **b != b'\n')
        .for_each(|b| *b = b' ');
}

/// The lines of `text` (1-based) that call a host copy, its test module and fallback left out.
fn host_calls(text: &str) -> Vec<(usize, String)> {
    let mut bytes = text.as_bytes().to_vec();
    for marker in ["#[cfg(test)]", FALLBACK] {
        while let Some(at) = String::from_utf8_lossy(&bytes).find(marker) {
            blank_item(&mut bytes, at);
        }
    }
    let text = String::from_utf8(bytes).unwrap();
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .filter(|(_, line)| {
            HOST_CALLS.iter().any(|call| {
                line.match_indices(call).any(|(at, _)| {
                    let before = line[..at].chars().last();
                    let after = line[at + call.len()..].chars().next();
                    matches!(before, Some('.' | ':')) && matches!(after, Some('(' | ':'))
                })
            })
        })
        .map(|(i, line)| (i + 1, line.trim().to_string()))
        .collect()
}

#[test]
fn the_step_and_sync_path_never_copies_a_tensor_to_the_host() {
    let mut files = Vec::new();
    PATH.iter()
        .for_each(|dir| rust_files(&workspace().join(dir), &mut files));
    assert!(files.len() > 10, "the optimizer's sources were not found");
    let mut found = Vec::new();
    for file in files {
        if TEST_FILES.iter().any(|t| file.ends_with(t)) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, code) in host_calls(&text) {
            found.push(format!("{}:{line}: {code}", file.display()));
        }
    }
    assert!(
        found.is_empty(),
        "host copies in Lookahead's step or sync path:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scan_finds_a_host_read_and_skips_tests_and_the_fallback() {
    let read = "fn sync() {\n    let v = Tensor::from_item::<S>(item.velocity, device);\n}\n";
    assert_eq!(host_calls(read).len(), 1);
    assert_eq!(
        host_calls("let x = m.into_data().to_vec::<f32>();").len(),
        1
    );
    let fallback = format!("{FALLBACK}\nmacro_rules! take {{ () => {{ r.into_item() }} }}\n");
    assert!(host_calls(&fallback).is_empty());
    let test = "#[cfg(test)]\nmod tests {\n    fn f() { t.into_data(); }\n}\nfn g() {}\n";
    assert!(host_calls(test).is_empty());
    assert_eq!(
        host_calls(&format!("{test}fn h() {{ t.to_data(); }}")).len(),
        1
    );
    assert!(host_calls("// t.into_data() in a comment").is_empty());
}
