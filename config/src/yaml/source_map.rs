//! Where each value of a YAML file is: a map from field paths such as
//! `cells[1].cpus[0]` to byte ranges of the source, and back.
//!
//! The map is built from the YAML parser's event stream, independently of
//! serde, so that it serves both directions: a model finding names a path
//! and gets the span of the offending value, and a serde error gives a
//! position and gets the path of the field it is in. On malformed YAML the
//! map holds everything up to the syntax error.

use super::diagnostic::Diagnostic;
use miette::NamedSource;
use serde_saphyr::granit_parser::{Event, Marker, Parser, Span};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

/// One node (scalar, sequence, mapping or alias) of the document.
#[derive(Clone, Debug)]
struct Node {
    path: String,
    /// The key's bytes when the node is a mapping value.
    key: Option<Range<usize>>,
    /// The node's bytes (a block collection ends with its last child).
    value: Range<usize>,
}

/// Paths and spans of every node of the first document of a YAML source.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    nodes: Vec<Node>,
    by_path: HashMap<String, usize>,
    syntax_error: bool,
}

/// A byte range of the source.
pub type ByteSpan = Range<usize>;

/// A file's text, name and map together: what it takes to put a
/// diagnostic at a YAML path.
#[derive(Clone, Copy)]
pub(crate) struct Spans<'a> {
    pub(crate) source: &'a str,
    pub(crate) named: &'a NamedSource<Arc<str>>,
    pub(crate) map: &'a SourceMap,
}

impl Spans<'_> {
    /// The bytes of the value at `path` (see [`SourceMap::locate`]).
    pub(crate) fn span(&self, path: &str) -> ByteSpan {
        self.map.locate(self.source, path)
    }

    /// A problem with the value at `path`.
    pub(crate) fn diagnostic(
        &self,
        code: &'static str,
        path: &str,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic::new(self.named, code, path, self.span(path), message)
    }
}

enum Frame {
    Mapping {
        node: usize,
        flow: bool,
        /// The key of the value that comes next, or `None` when a key comes next.
        key: Option<(String, ByteSpan)>,
        last_end: usize,
    },
    Sequence {
        node: usize,
        flow: bool,
        next: usize,
        last_end: usize,
    },
    /// A complex (non-scalar) mapping key, skipped with its contents.
    Skip { depth: usize },
}

impl SourceMap {
    /// Builds the map of `source`.
    pub fn new(source: &str) -> SourceMap {
        let mut map = SourceMap::default();
        let offsets = CharOffsets::new(source);
        let mut stack: Vec<Frame> = Vec::new();
        let mut parser = Parser::new_from_str(source);
        let mut documents = 0;
        while let Some(next) = parser.next_event() {
            let Ok((event, span)) = next else {
                map.syntax_error = true;
                break;
            };
            let bytes = offsets.span(&span);
            // Skipped complex keys swallow everything up to their end.
            if let Some(Frame::Skip { depth }) = stack.last_mut() {
                match event {
                    Event::SequenceStart(..) | Event::MappingStart(..) => *depth += 1,
                    Event::SequenceEnd | Event::MappingEnd => {
                        *depth -= 1;
                        if *depth == 0 {
                            stack.pop();
                            if let Some(Frame::Mapping { key, .. }) = stack.last_mut() {
                                *key = Some(("?".to_string(), bytes.clone()));
                            }
                            child_done(&mut stack, bytes.end);
                        }
                    }
                    _ => {}
                }
                continue;
            }
            match event {
                Event::DocumentStart(..) => {
                    documents += 1;
                    if documents > 1 {
                        break;
                    }
                }
                Event::Scalar(..) | Event::Alias(_) => {
                    // A scalar is a mapping key or a value; an alias used
                    // as a key is named `*`.
                    let text = match &event {
                        Event::Scalar(text, ..) => text.to_string(),
                        _ => "*".to_string(),
                    };
                    if let Some(Frame::Mapping {
                        key: key @ None, ..
                    }) = stack.last_mut()
                    {
                        *key = Some((text, bytes.clone()));
                        child_done(&mut stack, bytes.end);
                        continue;
                    }
                    if map.open(&mut stack, bytes.clone()).is_some() {
                        child_done(&mut stack, bytes.end);
                    }
                }
                Event::SequenceStart(style, ..) | Event::MappingStart(style, ..) => {
                    let flow = style == serde_saphyr::granit_parser::StructureStyle::Flow;
                    if let Some(Frame::Mapping { key: None, .. }) = stack.last() {
                        stack.push(Frame::Skip { depth: 1 });
                        continue;
                    }
                    let Some(node) = map.open(&mut stack, bytes.clone()) else {
                        continue;
                    };
                    let last_end = bytes.end;
                    stack.push(if matches!(event, Event::SequenceStart(..)) {
                        Frame::Sequence {
                            node,
                            flow,
                            next: 0,
                            last_end,
                        }
                    } else {
                        Frame::Mapping {
                            node,
                            flow,
                            key: None,
                            last_end,
                        }
                    });
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let (node, flow, last_end) = match stack.pop() {
                        Some(Frame::Mapping {
                            node,
                            flow,
                            last_end,
                            ..
                        })
                        | Some(Frame::Sequence {
                            node,
                            flow,
                            last_end,
                            ..
                        }) => (node, flow, last_end),
                        _ => continue,
                    };
                    let end = if flow { bytes.end } else { last_end };
                    let value = &mut map.nodes[node].value;
                    value.end = end.max(value.start);
                    let end = value.end;
                    child_done(&mut stack, end);
                }
                _ => {}
            }
        }
        map
    }

    /// Records a node at the current position, returning its index (or
    /// `None` when the position makes no sense, which the parser prevents).
    fn open(&mut self, stack: &mut [Frame], value: ByteSpan) -> Option<usize> {
        let (path, key) = match stack.last_mut() {
            None => (String::new(), None),
            Some(Frame::Mapping { node, key, .. }) => {
                let (name, key_span) = key.take()?;
                (join_key(&self.nodes[*node].path, &name), Some(key_span))
            }
            Some(Frame::Sequence { node, next, .. }) => {
                let path = format!("{}[{}]", self.nodes[*node].path, next);
                *next += 1;
                (path, None)
            }
            Some(Frame::Skip { .. }) => return None,
        };
        let index = self.nodes.len();
        self.by_path.entry(path.clone()).or_insert(index);
        self.nodes.push(Node { path, key, value });
        Some(index)
    }

    /// Whether the source is not well-formed YAML.
    pub fn syntax_error(&self) -> bool {
        self.syntax_error
    }

    /// The bytes of the value at `path`, if the file has it.
    pub fn value(&self, path: &str) -> Option<ByteSpan> {
        self.by_path.get(path).map(|&i| self.nodes[i].value.clone())
    }

    /// The bytes of the key of the value at `path`, if it is a mapping value.
    pub fn key(&self, path: &str) -> Option<ByteSpan> {
        self.by_path
            .get(path)
            .and_then(|&i| self.nodes[i].key.clone())
    }

    /// Whether the file has a value at `path`.
    pub fn has(&self, path: &str) -> bool {
        self.by_path.contains_key(path)
    }

    /// The best place to point at for `path`: its value when it is a scalar
    /// or a one-line collection, else its key, else the nearest ancestor
    /// that exists (a missing optional field points at its parent).
    pub fn locate(&self, source: &str, path: &str) -> ByteSpan {
        let mut path = path;
        loop {
            if let Some(&i) = self.by_path.get(path) {
                let node = &self.nodes[i];
                let value = &node.value;
                let one_line = source
                    .get(value.clone())
                    .is_some_and(|text| !text.contains('\n'));
                if one_line && !value.is_empty() {
                    return value.clone();
                }
                if let Some(key) = &node.key {
                    return key.clone();
                }
                // A multi-line collection item: its first line.
                let first_line_end = source
                    .get(value.start..)
                    .and_then(|rest| rest.find('\n'))
                    .map_or(source.len(), |n| value.start + n);
                return value.start..first_line_end.min(value.end).max(value.start);
            }
            match parent(path) {
                Some(up) => path = up,
                None => return 0..0,
            }
        }
    }

    /// The path of the node at byte `offset` and whether the offset is on
    /// that node's key. Picks the innermost node whose key or value contains
    /// the offset; when none does, the last node that starts before it.
    pub fn path_at(&self, offset: usize) -> Option<(&str, bool)> {
        let mut best: Option<(usize, bool, usize)> = None;
        for (i, node) in self.nodes.iter().enumerate() {
            let candidates = [(node.key.as_ref(), true), (Some(&node.value), false)];
            for (range, on_key) in candidates {
                let Some(range) = range else { continue };
                let inside = range.start <= offset
                    && (offset < range.end || (range.is_empty() && offset == range.start));
                if inside {
                    let width = range.end - range.start;
                    if best.is_none_or(|(_, _, w)| width <= w) {
                        best = Some((i, on_key, width));
                    }
                }
            }
        }
        if let Some((i, on_key, _)) = best {
            return Some((&self.nodes[i].path, on_key));
        }
        self.nodes
            .iter()
            .rev()
            .find(|n| n.key.as_ref().unwrap_or(&n.value).start <= offset)
            .map(|n| (n.path.as_str(), false))
    }
}

/// Extends the enclosing collection to `end`, where one of its children ends.
fn child_done(stack: &mut [Frame], end: usize) {
    match stack.last_mut() {
        Some(Frame::Mapping { last_end, .. }) | Some(Frame::Sequence { last_end, .. }) => {
            *last_end = (*last_end).max(end);
        }
        _ => {}
    }
}

/// `parent.key`, or just `key` at the top level.
pub fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// The path one level up (`cells[1].cpus[0]` → `cells[1].cpus`), or `None`
/// at the top.
pub fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let cut = path.rfind(['.', '[']).unwrap_or(0);
    Some(&path[..cut])
}

/// Converts the parser's markers to byte offsets.
struct CharOffsets<'a> {
    source: &'a str,
}

impl<'a> CharOffsets<'a> {
    fn new(source: &'a str) -> Self {
        CharOffsets { source }
    }

    fn byte(&self, marker: &Marker) -> usize {
        let byte = marker.byte_offset().unwrap_or_else(|| {
            self.source
                .char_indices()
                .nth(marker.index())
                .map_or(self.source.len(), |(b, _)| b)
        });
        byte.min(self.source.len())
    }

    fn span(&self, span: &Span) -> ByteSpan {
        let start = self.byte(&span.start);
        let end = self.byte(&span.end).max(start);
        start..end
    }
}

/// Byte offset of a 1-based line and 1-based character column, clamped to
/// the source.
pub fn offset_of(source: &str, line: u64, column: u64) -> usize {
    let mut offset = 0;
    for _ in 1..line {
        match source[offset..].find('\n') {
            Some(n) => offset += n + 1,
            None => return source.len(),
        }
    }
    let line_text = &source[offset..];
    let line_end = line_text.find('\n').unwrap_or(line_text.len());
    let column_bytes = line_text[..line_end]
        .char_indices()
        .nth(column.saturating_sub(1) as usize)
        .map_or(line_end, |(b, _)| b);
    offset + column_bytes
}

/// The 1-based line and column (in characters) of byte `offset`.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    let column = source[line_start..offset].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "\
version: 1
cells:
  - name: a
    cpus: [0, 1]
    memory:
      - base: 0x50000000
        size: 16M
    kernel: { path: k.bin }
  - name: b
    ? [complex, key]
    : ignored
    cpus:
      - 2
";

    fn text(path: &str) -> &'static str {
        let map = SourceMap::new(SOURCE);
        &SOURCE[map.locate(SOURCE, path)]
    }

    #[test]
    fn finds_values_by_path() {
        assert_eq!(text("version"), "1");
        assert_eq!(text("cells[0].cpus[1]"), "1");
        assert_eq!(text("cells[0].cpus"), "[0, 1]");
        assert_eq!(text("cells[0].memory[0].size"), "16M");
        assert_eq!(text("cells[0].memory"), "memory");
        assert_eq!(text("cells[0].kernel.path"), "k.bin");
        assert_eq!(text("cells[1].cpus[0]"), "2");
        assert_eq!(text("cells[1]"), "name: b");
        // Missing paths fall back to the nearest ancestor.
        assert_eq!(text("cells[1].console"), "name: b");
    }

    #[test]
    fn finds_paths_by_offset() {
        let map = SourceMap::new(SOURCE);
        let at = |needle: &str| map.path_at(SOURCE.find(needle).unwrap());
        assert_eq!(at("16M"), Some(("cells[0].memory[0].size", false)));
        assert_eq!(at("size"), Some(("cells[0].memory[0].size", true)));
        assert_eq!(at("k.bin"), Some(("cells[0].kernel.path", false)));
    }

    #[test]
    fn lines_and_columns() {
        let offset = offset_of(SOURCE, 4, 12);
        assert_eq!(&SOURCE[offset..offset + 1], "0");
        assert_eq!(line_column(SOURCE, offset), (4, 12));
        assert_eq!(offset_of(SOURCE, 99, 1), SOURCE.len());
        assert_eq!(parent("cells[1].cpus[0]"), Some("cells[1].cpus"));
        assert_eq!(parent("cells"), Some(""));
        assert_eq!(parent(""), None);
    }

    #[test]
    fn malformed_yaml_gives_a_partial_map() {
        let map = SourceMap::new("a: 1\nb: [1, 2\nc: 3\n");
        assert!(map.has("a"));
    }
}
