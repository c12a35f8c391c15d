//! Every rule, broken on purpose: each file in `tests/fixtures/bad/` starts
//! with one or more `# expect: line N: PATH: MESSAGE` comments, and loading
//! it must report each of them, rendered with the line, path and message.
//!
//! Every warning, provoked on purpose: each file in `tests/fixtures/warn/`
//! starts with `# warn: line N: PATH: MESSAGE` comments (or `# warn: none`);
//! it must load, with exactly those warnings.

mod common;

use bulkhead_config::yaml::{self, LoadError};
use std::path::{Path, PathBuf};

struct Expectation {
    line: usize,
    path: String,
    message: String,
}

fn expectations(text: &str) -> Vec<Expectation> {
    header(text, "# expect: ")
}

/// The `PREFIX line N: PATH: MESSAGE` lines at the top of `text`; a
/// `PREFIX none` line stands for none.
fn header(text: &str, prefix: &str) -> Vec<Expectation> {
    text.lines()
        .map_while(|l| l.strip_prefix(prefix))
        .filter(|l| *l != "none")
        .map(|l| {
            let rest = l.strip_prefix("line ").expect("`line N:`");
            let (line, rest) = rest.split_once(": ").expect("line number");
            let (path, message) = rest.split_once(": ").expect("path");
            Expectation {
                line: line.parse().unwrap_or(0),
                path: if path == "-" {
                    String::new()
                } else {
                    path.to_string()
                },
                message: message.to_string(),
            }
        })
        .collect()
}

fn fixtures() -> Vec<PathBuf> {
    fixtures_in("bad")
}

fn fixtures_in(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_bad_config_is_reported_at_its_line() {
    let images = common::image_dir();
    let mut failures = Vec::new();
    let files = fixtures();
    assert!(files.len() >= 25, "fixtures missing");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let expected = expectations(&text);
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if expected.is_empty() {
            failures.push(format!("{name}: no `# expect:` line"));
            continue;
        }
        let diagnostics = match yaml::load(&file, std::slice::from_ref(&images)) {
            Ok(_) => {
                failures.push(format!("{name}: loaded without error"));
                continue;
            }
            Err(LoadError::Invalid(d)) => d,
            Err(e) => panic!("{name}: {e}"),
        };
        if std::env::var_os("BULKHEAD_SHOW").is_some() {
            for d in diagnostics.iter() {
                eprintln!("SHOW {name}: line {}: {}", d.line, d);
            }
        }
        for e in &expected {
            let found = diagnostics.iter().find(|d| {
                let rendered = d.render();
                d.line == e.line
                    && d.path == e.path
                    && rendered.contains(&format!(":{}:", e.line))
                    && rendered.contains(&e.path)
                    && rendered.contains(&e.message)
            });
            if found.is_none() {
                failures.push(format!(
                    "{name}: expected line {}: {}: {}\n got:\n{}",
                    e.line,
                    e.path,
                    e.message,
                    diagnostics
                        .iter()
                        .map(|d| format!("  line {}: {}", d.line, d))
                        .collect::<Vec<_>>()
                        .join("\n")
                ));
            }
        }
        if diagnostics.len() != expected.len() {
            failures.push(format!(
                "{name}: {} problems reported, {} expected:\n{}",
                diagnostics.len(),
                expected.len(),
                diagnostics.render()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_warning_is_reported_at_its_line() {
    let images = common::image_dir();
    let mut failures = Vec::new();
    let files = fixtures_in("warn");
    assert!(files.len() >= 2, "fixtures missing");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if !text.starts_with("# warn: ") {
            failures.push(format!("{name}: no `# warn:` line"));
            continue;
        }
        let expected = header(&text, "# warn: ");
        let warnings = match yaml::load(&file, std::slice::from_ref(&images)) {
            Ok(loaded) => loaded.warnings,
            Err(e) => {
                failures.push(format!("{name}: does not load: {e:?}"));
                continue;
            }
        };
        assert!(!warnings.has_errors(), "{name}");
        for e in &expected {
            let found = warnings.iter().find(|d| {
                let rendered = d.render();
                d.severity == yaml::Severity::Warning
                    && d.line == e.line
                    && d.path == e.path
                    && rendered.contains(&format!(":{}:", e.line))
                    && rendered.contains(&e.message)
            });
            if found.is_none() {
                failures.push(format!(
                    "{name}: expected warning at line {}: {}: {}\n got:\n{}",
                    e.line,
                    e.path,
                    e.message,
                    warnings.render()
                ));
            }
        }
        if warnings.len() != expected.len() {
            failures.push(format!(
                "{name}: {} warnings reported, {} expected:\n{}",
                warnings.len(),
                expected.len(),
                warnings.render()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn warnings_are_reported_with_errors() {
    let images = common::image_dir();
    let file = fixtures_in("warn")
        .into_iter()
        .find(|f| f.ends_with("realtime-shared-cluster.yaml"))
        .unwrap();
    // The same config with a CPU given twice: the errors and the warnings
    // come together.
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("cpus: [3]", "cpus: [0]");
    let Err(diagnostics) = yaml::load_source(&text, &images.join("rt.yaml"), &[]) else {
        panic!("loaded");
    };
    assert_eq!(diagnostics.errors().count(), 1);
    assert_eq!(diagnostics.warnings().count(), 1);
    assert!(diagnostics.has_errors());
    let rendered = diagnostics.render();
    assert!(
        rendered.contains("1 problem and 1 warning in"),
        "{rendered}"
    );
    assert!(
        rendered.contains("config::realtime_shared_cluster"),
        "{rendered}"
    );
}
