//! The YAML examples of `docs/config-reference.md` are checked here, so the
//! reference cannot drift from the tool.
//!
//! Each fenced block's info string says what it is:
//!
//! - ```` ```yaml ````: a complete config (it starts with `version:`); it
//!   must load, without warnings.
//! - ```` ```yaml fragment ````: cell fields (or `- name:` cells); placed
//!   in a small valid cell, whose fields it overrides, it must load, without
//!   warnings.
//! - ```` ```yaml mistake ````: a complete config or a fragment that must
//!   fail. The ```` ```text ```` block right after it lists the expected
//!   problems, one `error[CODE] PATH: MESSAGE` line each, optionally
//!   followed by `  help: TEXT` lines; each must match a reported problem
//!   (code and path equal, message and help containing the text), and no
//!   other problem may be reported.
//! - ```` ```yaml warning ````: a complete config or a fragment that must
//!   load with warnings; the ```` ```text ```` block after it lists them as
//!   `warning[CODE] PATH: MESSAGE` lines, matched like a mistake's errors.
//!
//! Image files named by `path:` are made up in a scratch directory.

mod common;
use bulkhead_config::yaml::{Diagnostics, LoadError, Loaded, Severity};
use common::{fake_file, paths, scratch_dir};
use std::path::Path;

/// One fenced block of the document.
struct Block {
    /// The info string after the opening fence.
    info: String,
    /// The block's text.
    text: String,
    /// Line of the opening fence (1-based).
    line: usize,
}

fn blocks(document: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (n, line) in document.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    info: info.trim().to_string(),
                    text: String::new(),
                    line: n + 1,
                })
            }
            (Some(_), Some("")) => blocks.extend(open.take()),
            (Some(block), _) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "an unclosed code block");
    blocks
}

/// The ```text block right after block `i`, which holds what the tool
/// must print for it.
fn text_after(blocks: &[Block], i: usize) -> Option<&str> {
    blocks
        .get(i + 1)
        .filter(|next| next.info == "text")
        .map(|next| next.text.as_str())
}

/// The base cell a fragment is placed in; its fields are left out when the
/// fragment sets them.
const BASE_CELL: [(&str, &str); 4] = [
    ("name", "name: demo"),
    ("cpus", "cpus: [0]"),
    ("memory", "memory: [{ base: 0x50000000, size: 16M }]"),
    ("kernel", "kernel: { path: kernel.bin }"),
];

/// The first line that is neither blank nor a comment.
fn first_line(text: &str) -> &str {
    text.lines()
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .unwrap_or("")
}

/// Whether a block is a whole config.
fn is_complete(text: &str) -> bool {
    first_line(text).starts_with("version:")
}

/// A complete config from a block: itself, or a fragment placed in a cell.
fn complete(text: &str) -> String {
    if is_complete(text) {
        return text.to_string();
    }
    let first = first_line(text);
    let mut config = String::from("version: 1\nboard: qemu-virt\ncells:\n");
    if first.starts_with("- ") {
        for line in text.lines() {
            config.push_str(&format!("  {line}\n"));
        }
        return config;
    }
    let keys: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with([' ', '#']))
        .filter_map(|l| l.split(':').next())
        .collect();
    let mut lines: Vec<String> = BASE_CELL
        .iter()
        .filter(|(key, _)| !keys.contains(key))
        .map(|(_, line)| line.to_string())
        .collect();
    lines.extend(text.lines().map(str::to_string));
    for (n, line) in lines.iter().enumerate() {
        let lead = if n == 0 { "  - " } else { "    " };
        config.push_str(&format!("{lead}{line}\n"));
    }
    config
}

/// Loads `config` with the tool (device trees generated), its files made
/// up in a fresh directory.
fn load(config: &str) -> Result<Loaded, LoadError> {
    let dir = scratch_dir();
    let mut files = paths(config);
    files.push("kernel.bin".into());
    for file in files {
        let path = dir.join(&file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, fake_file(&file)).unwrap();
    }
    let file = dir.join("config.yaml");
    std::fs::write(&file, config).unwrap();
    match bulkhead::check(&file, &[]) {
        Ok(loaded) => Ok(loaded),
        Err(bulkhead::Error::Config(e)) => Err(e),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

/// Checks `diagnostics` against an expectation block; returns what is wrong.
fn compare(diagnostics: &Diagnostics, expected: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut matched = 0;
    let mut current: Option<&bulkhead_config::yaml::Diagnostic> = None;
    for line in expected.lines().filter(|l| !l.trim().is_empty()) {
        let entry = match (line.strip_prefix("error["), line.strip_prefix("warning[")) {
            (Some(rest), _) => Some((Severity::Error, rest)),
            (None, Some(rest)) => Some((Severity::Warning, rest)),
            (None, None) => None,
        };
        if let Some((severity, rest)) = entry {
            let (code, rest) = rest.split_once("] ").expect("`error[CODE] PATH: MESSAGE`");
            let (path, message) = rest.split_once(": ").expect("`PATH: MESSAGE`");
            current = diagnostics.iter().find(|d| {
                d.severity == severity
                    && d.code == code
                    && d.path == path
                    && d.message.contains(message)
            });
            match current {
                Some(_) => matched += 1,
                None => problems.push(format!("no {code} at {path}: {message}")),
            }
        } else if let Some(help) = line.strip_prefix("  help: ") {
            if let Some(d) = current {
                if !d.help.as_deref().unwrap_or("").contains(help) {
                    problems.push(format!("{} help is {:?}, not {help:?}", d.code, d.help));
                }
            }
        } else {
            problems.push(format!("cannot read expectation line {line:?}"));
        }
    }
    if matched != diagnostics.len() {
        problems.push(format!(
            "{} problems reported, {matched} expected",
            diagnostics.len()
        ));
    }
    if !problems.is_empty() {
        let got: Vec<String> = diagnostics
            .iter()
            .map(|d| {
                format!(
                    "  {}[{}] {}: {}\n    help: {}",
                    if d.is_error() { "error" } else { "warning" },
                    d.code,
                    d.path,
                    d.message,
                    d.help.as_deref().unwrap_or("-")
                )
            })
            .collect();
        problems.push(format!("reported:\n{}", got.join("\n")));
    }
    problems
}

#[test]
fn every_example_of_the_config_reference_is_right() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/config-reference.md");
    let document = std::fs::read_to_string(&path).unwrap();
    let blocks = blocks(&document);
    let mut failures = Vec::new();
    let mut counts = [0usize; 4];
    for (i, block) in blocks.iter().enumerate() {
        let at = format!("config-reference.md:{}", block.line);
        match block.info.as_str() {
            "yaml" => {
                counts[0] += 1;
                if !is_complete(&block.text) {
                    failures.push(format!(
                        "{at}: a ```yaml block must be a complete config; mark fragments ```yaml fragment"
                    ));
                    continue;
                }
                match load(&block.text) {
                    Err(e) => failures.push(format!("{at}: does not load:\n{e:?}")),
                    Ok(loaded) if !loaded.warnings.is_empty() => failures.push(format!(
                        "{at}: warns; mark it ```yaml warning:\n{}",
                        loaded.warnings.render()
                    )),
                    Ok(_) => {}
                }
            }
            "yaml fragment" => {
                counts[1] += 1;
                let config = complete(&block.text);
                match load(&config) {
                    Err(e) => failures.push(format!("{at}: does not load as\n{config}\n{e:?}")),
                    Ok(loaded) if !loaded.warnings.is_empty() => failures.push(format!(
                        "{at}: warns; mark it ```yaml warning:\n{}",
                        loaded.warnings.render()
                    )),
                    Ok(_) => {}
                }
            }
            "yaml warning" => {
                counts[3] += 1;
                let config = complete(&block.text);
                let Some(expected) = text_after(&blocks, i) else {
                    failures.push(format!("{at}: no ```text block follows"));
                    continue;
                };
                match load(&config) {
                    Err(e) => failures.push(format!("{at}: does not load as\n{config}\n{e:?}")),
                    Ok(loaded) if loaded.warnings.is_empty() => {
                        failures.push(format!("{at}: loads without warnings:\n{config}"))
                    }
                    Ok(loaded) => {
                        for problem in compare(&loaded.warnings, expected) {
                            failures.push(format!("{at}: {problem}"));
                        }
                    }
                }
            }
            "yaml mistake" => {
                counts[2] += 1;
                let config = complete(&block.text);
                let Some(expected) = text_after(&blocks, i) else {
                    failures.push(format!("{at}: no ```text block follows"));
                    continue;
                };
                match load(&config) {
                    Ok(_) => failures.push(format!("{at}: loads, but should fail:\n{config}")),
                    Err(LoadError::Invalid(diagnostics)) => {
                        for problem in compare(&diagnostics, expected) {
                            failures.push(format!("{at}: {problem}"));
                        }
                    }
                    Err(e) => failures.push(format!("{at}: {e}")),
                }
            }
            "yaml " | "yml" => failures.push(format!("{at}: write ```yaml")),
            info if info.starts_with("yaml") => {
                failures.push(format!("{at}: unknown block kind ```{info}"))
            }
            _ => {}
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
    assert!(counts[0] >= 2, "complete examples missing: {counts:?}");
    assert!(counts[1] >= 10, "field examples missing: {counts:?}");
    assert!(counts[2] >= 10, "mistakes missing: {counts:?}");
    assert!(counts[3] >= 1, "warnings missing: {counts:?}");
}

#[test]
fn fragments_are_placed_in_a_cell() {
    let config = complete("cpus: [2]\non_fault: restart\n");
    assert_eq!(
        config,
        "version: 1\nboard: qemu-virt\ncells:\n  - name: demo\n    \
         memory: [{ base: 0x50000000, size: 16M }]\n    kernel: { path: kernel.bin }\n    \
         cpus: [2]\n    on_fault: restart\n"
    );
    assert_eq!(
        paths("kernel: { path: a.bin }\ninitrd:\n  path: \"b.cpio\"\n"),
        ["a.bin", "b.cpio"]
    );
}
