//! Problems found in a config file, each with its place in the file, the
//! field it concerns, what is wrong and how to fix it, rendered by `miette`
//! with a snippet of the YAML.

use super::source_map::{line_column, ByteSpan};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use std::fmt;
use std::sync::Arc;

/// How serious a [`Diagnostic`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The config is wrong: nothing is built from it.
    Error,
    /// The config is valid but probably not what its author wants; it is
    /// shown and the config is used anyway.
    Warning,
}

/// One problem in a config file.
#[derive(Clone)]
pub struct Diagnostic {
    /// Whether it is an error or a warning.
    pub severity: Severity,
    /// Field path, like `cells[1].cpus[0]`; empty for the file as a whole.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// A stable identifier of the kind of problem, like `config::cpu_taken`.
    pub code: &'static str,
    /// 1-based line of the offending value.
    pub line: usize,
    /// 1-based column (in characters) of the offending value.
    pub column: usize,
    span: ByteSpan,
    label: String,
    related: Vec<(ByteSpan, String)>,
    source: NamedSource<Arc<str>>,
}

impl Diagnostic {
    /// A problem with the value at `span` of `source`.
    pub(crate) fn new(
        source: &NamedSource<Arc<str>>,
        code: &'static str,
        path: impl Into<String>,
        span: ByteSpan,
        message: impl Into<String>,
    ) -> Diagnostic {
        let text: &str = source.inner();
        let span = clamp(text, span);
        let (line, column) = line_column(text, span.start);
        Diagnostic {
            severity: Severity::Error,
            path: path.into(),
            message: message.into(),
            help: None,
            code,
            line,
            column,
            span,
            label: String::new(),
            related: Vec::new(),
            source: source.clone(),
        }
    }

    /// Makes it a warning.
    pub(crate) fn warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    /// Whether it is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Adds the fix.
    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Sets the text under the offending value.
    pub(crate) fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Points at a second place of the file (the other party of a conflict).
    pub(crate) fn also(mut self, span: ByteSpan, label: impl Into<String>) -> Self {
        let span = clamp(self.source.inner(), span);
        if span != self.span {
            self.related.push((span, label.into()));
        }
        self
    }

    /// The byte range of the offending value.
    pub fn span(&self) -> ByteSpan {
        self.span.clone()
    }

    /// The file name shown in the report.
    pub fn file(&self) -> &str {
        self.source.name()
    }

    /// Renders the report as `miette` does, with the YAML snippet, without
    /// colours and without wrapping long lines.
    pub fn render(&self) -> String {
        render(self, GraphicalTheme::unicode_nocolor(), usize::MAX)
    }
}

fn clamp(text: &str, span: ByteSpan) -> ByteSpan {
    let mut start = span.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = span.end.clamp(start, text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

/// Width of terminal reports; plain renderings are not wrapped, so that
/// logs and tests can search them for whole messages.
const TERMINAL_WIDTH: usize = 100;

fn render(diagnostic: &dyn miette::Diagnostic, theme: GraphicalTheme, width: usize) -> String {
    let mut out = String::new();
    let handler = GraphicalReportHandler::new_themed(theme).with_width(width);
    if handler.render_report(&mut out, diagnostic).is_err() {
        out = diagnostic.to_string();
    }
    out
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl fmt::Debug for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        };
        write!(
            f,
            "{}:{}:{}: {kind}{self}",
            self.source.name(),
            self.line,
            self.column
        )
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = LabeledSpan::new_primary_with_span(
            (!self.label.is_empty()).then(|| self.label.clone()),
            source_span(&self.span),
        );
        let others = self.related.iter().map(|(span, label)| {
            LabeledSpan::new_with_span(Some(label.clone()), source_span(span))
        });
        Some(Box::new(std::iter::once(primary).chain(others)))
    }
}

fn source_span(span: &ByteSpan) -> SourceSpan {
    SourceSpan::new(span.start.into(), span.end - span.start)
}

/// All problems found in one config file, in file order: the errors that
/// make it unusable, and the warnings, which do not.
#[derive(Clone, Debug)]
pub struct Diagnostics {
    file: String,
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub(crate) fn new(file: impl Into<String>, mut items: Vec<Diagnostic>) -> Diagnostics {
        items.sort_by_key(|d| d.span.start);
        Diagnostics {
            file: file.into(),
            items,
        }
    }

    /// The problems.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// How many problems there are, warnings included.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none (never the case for an error).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.is_error())
    }

    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| !d.is_error())
    }

    /// Whether any item is an error.
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }

    /// Renders every problem as `miette` does, without colours and without
    /// wrapping long lines.
    pub fn render(&self) -> String {
        self.render_all(GraphicalTheme::unicode_nocolor(), usize::MAX)
    }

    /// Renders every problem for a terminal with the given `miette` theme
    /// (for example `GraphicalTheme::default()`, which colours terminals
    /// that support it), wrapped to 100 columns.
    pub fn render_with(&self, theme: GraphicalTheme) -> String {
        self.render_all(theme, TERMINAL_WIDTH)
    }

    fn render_all(&self, theme: GraphicalTheme, width: usize) -> String {
        let mut out = String::new();
        for d in &self.items {
            out.push_str(&render(d, theme.clone(), width));
            out.push('\n');
        }
        out.push_str(&format!("{self}\n"));
        out
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let errors = self.errors().count();
        let warnings = self.warnings().count();
        match (errors, warnings) {
            (e, 0) => write!(f, "{e} problem{} in {}", plural(e), self.file),
            (0, w) => write!(f, "{w} warning{} in {}", plural(w), self.file),
            (e, w) => write!(
                f,
                "{e} problem{} and {w} warning{} in {}",
                plural(e),
                plural(w),
                self.file
            ),
        }
    }
}

impl std::error::Error for Diagnostics {}

impl miette::Diagnostic for Diagnostics {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(if self.has_errors() {
            "config::invalid"
        } else {
            "config::warnings"
        }))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(if self.has_errors() {
            miette::Severity::Error
        } else {
            miette::Severity::Warning
        })
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        Some(Box::new(
            self.items.iter().map(|d| d as &dyn miette::Diagnostic),
        ))
    }
}
