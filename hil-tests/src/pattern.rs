//! What a test waits for: a substring or a regular expression.

use regex::Regex;
use std::fmt;

/// A line matcher for [`Session::expect`](crate::Session::expect).
///
/// Plain strings convert into [`Pattern::Substring`]; use [`Pattern::regex`]
/// (or convert a [`Regex`]) for a regular expression.
#[derive(Clone, Debug)]
pub enum Pattern {
    /// The line contains this text.
    Substring(String),
    /// The regular expression matches somewhere in the line.
    Regex(Regex),
}

impl Pattern {
    /// A regular-expression pattern.
    ///
    /// # Panics
    /// When `expression` is not a valid regular expression: that is a bug in
    /// the test, and the panic message says where.
    #[track_caller]
    pub fn regex(expression: &str) -> Self {
        match Regex::new(expression) {
            Ok(regex) => Pattern::Regex(regex),
            Err(error) => panic!("invalid regular expression {expression:?}: {error}"),
        }
    }

    /// Whether `line` matches.
    pub fn matches(&self, line: &str) -> bool {
        match self {
            Pattern::Substring(text) => line.contains(text.as_str()),
            Pattern::Regex(regex) => regex.is_match(line),
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Substring(text) => write!(f, "{text:?}"),
            Pattern::Regex(regex) => write!(f, "/{}/", regex.as_str()),
        }
    }
}

impl From<&str> for Pattern {
    fn from(text: &str) -> Self {
        Pattern::Substring(text.to_string())
    }
}

impl From<String> for Pattern {
    fn from(text: String) -> Self {
        Pattern::Substring(text)
    }
}

impl From<&String> for Pattern {
    fn from(text: &String) -> Self {
        Pattern::Substring(text.clone())
    }
}

impl From<Regex> for Pattern {
    fn from(regex: Regex) -> Self {
        Pattern::Regex(regex)
    }
}

impl From<&Pattern> for Pattern {
    fn from(pattern: &Pattern) -> Self {
        pattern.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substring_and_regex() {
        let plain: Pattern = "beat".into();
        assert!(plain.matches("heartbeat 3"));
        assert!(!plain.matches("heart"));
        let regex = Pattern::regex(r"heartbeat \d+$");
        assert!(regex.matches("heartbeat 42"));
        assert!(!regex.matches("heartbeat x"));
        assert_eq!(regex.to_string(), r"/heartbeat \d+$/");
        assert_eq!(plain.to_string(), "\"beat\"");
    }
}
