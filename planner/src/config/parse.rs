//! The only place that handles untyped TOML: turns config text into typed sections while
//! collecting every problem with its line, so one run lists them all.
//!
//! - A syntax error does not hide the rest: the text is re-read one top-level table at a time
//!   (`[section]` headers start a table), every table that parses is kept, and each broken one
//!   is reported with its line and column.
//! - A section is deserialised on its own, tracking the key path of an error; the offending key
//!   (unknown, wrong type, bad value) is reported, removed, and the section is deserialised
//!   again, so one unknown key hides neither the other keys of its section nor other sections.
//! - Lines come from a span-keeping parse of the same text (`toml_edit`), looked up by key path.

use std::ops::Range;

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

use super::ConfigProblem;

/// A parsed config document from which typed sections are taken one by one.
#[derive(Debug)]
pub(crate) struct Document {
    table: toml::Table,
    /// Span-keeping parses (the whole text, or one per top-level table after a syntax error).
    spans: Vec<toml_edit::ImDocument<String>>,
    /// Byte offset of the start of each line of the text.
    line_starts: Vec<usize>,
    pub problems: Vec<ConfigProblem>,
    /// Some part of the text could not be read, so rules across sections are not checked.
    pub syntax_errors: bool,
}

impl Document {
    /// Parses `text`; syntax errors become problems and the readable tables are kept.
    pub fn parse(text: &str) -> Document {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let mut doc = Document {
            table: toml::Table::new(),
            spans: Vec::new(),
            line_starts,
            problems: Vec::new(),
            syntax_errors: false,
        };
        match text.parse::<toml::Table>() {
            Ok(t) => {
                doc.table = t;
                doc.spans
                    .extend(toml_edit::ImDocument::parse(text.to_string()).ok());
            }
            Err(_) => {
                doc.syntax_errors = true;
                for chunk in chunks(text) {
                    match chunk.parse::<toml::Table>() {
                        Ok(t) => {
                            merge(&mut doc.table, t);
                            doc.spans.extend(toml_edit::ImDocument::parse(chunk).ok());
                        }
                        Err(e) => {
                            let line = e.span().map(|s| doc.line_col(s.start));
                            let message = format!(
                                "TOML syntax error{}: {}",
                                line.map(|(_, c)| format!(" at column {c}"))
                                    .unwrap_or_default(),
                                e.message()
                                    .lines()
                                    .map(str::trim)
                                    .filter(|l| !l.is_empty())
                                    .collect::<Vec<_>>()
                                    .join("; ")
                            );
                            doc.problems.push(ConfigProblem {
                                line: line.map(|(l, _)| l),
                                key: None,
                                message,
                            });
                        }
                    }
                }
            }
        }
        doc
    }

    /// 1-based line and column of a byte offset.
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let line = self.line_starts.partition_point(|&s| s <= offset);
        (line, offset - self.line_starts[line - 1] + 1)
    }

    /// Takes section `key` as a `T`. Every problem in it is recorded; a key that cannot be
    /// used is dropped so the rest of the section still counts. `fallback` gives the value of
    /// an absent section, or of one that cannot be recovered (e.g. a required key is missing).
    pub fn section<T: DeserializeOwned>(&mut self, key: &str, fallback: impl Fn() -> T) -> T {
        let Some(mut value) = self.table.remove(key) else {
            return fallback();
        };
        // Each round removes one key, so a section of n keys needs at most n + 1 rounds.
        for _ in 0..256 {
            match serde_path_to_error::deserialize::<_, T>(value.clone()) {
                Ok(t) => return t,
                Err(e) => {
                    let mut path = vec![Segment::Map {
                        key: key.to_string(),
                    }];
                    path.extend(e.path().iter().cloned());
                    let dotted = dotted(&path);
                    // toml appends "in `key`" on a second line; the path already says where.
                    let inner = e.inner().to_string();
                    let inner = inner.lines().next().unwrap_or("").trim_end();
                    let message = format!("{dotted}: {inner}");
                    self.problems.push(ConfigProblem {
                        line: self.line_of(&path),
                        key: Some(dotted),
                        message,
                    });
                    if !remove(&mut value, &path[1..]) {
                        return fallback();
                    }
                }
            }
        }
        fallback()
    }

    /// Reports every top-level key not taken as a section.
    pub fn reject_rest(&mut self, known: &[&str]) {
        let rest: Vec<String> = self.table.keys().cloned().collect();
        for k in rest {
            let path = [Segment::Map { key: k.clone() }];
            let what = if self.table[&k].is_table() {
                format!("unknown section [{k}]")
            } else {
                format!("unknown top-level key `{k}`")
            };
            self.problems.push(ConfigProblem {
                line: self.line_of(&path),
                key: Some(k.clone()),
                message: format!("{what}; the sections are {}", known.join(", ")),
            });
        }
        self.table.clear();
    }

    /// Line of the deepest part of `path` found in the text.
    fn line_of(&self, path: &[Segment]) -> Option<usize> {
        self.spans
            .iter()
            .find_map(|d| span_of(d.as_item(), path))
            .map(|s| self.line_col(s.start).0)
    }

    /// Line of a dotted key such as `plan.site.cells[0].technology`, when it is in the text.
    pub fn line_of_key(&self, dotted_key: &str) -> Option<usize> {
        let path = parse_dotted(dotted_key)?;
        self.line_of(&path)
    }
}

/// `a.b[0].c` for a path.
fn dotted(path: &[Segment]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Segment::Seq { index } => s.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(key);
            }
            Segment::Enum { variant } => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(variant);
            }
            Segment::Unknown => s.push_str(".?"),
        }
    }
    s
}

/// Parses `a.b[0].c` into a path; `None` when it does not look like a key path.
fn parse_dotted(s: &str) -> Option<Vec<Segment>> {
    let mut out = Vec::new();
    for part in s.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return None;
        }
        out.push(Segment::Map {
            key: name.to_string(),
        });
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            out.push(Segment::Seq {
                index: r[..end].parse().ok()?,
            });
            rest = &r[end + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(out)
}

/// A place in the span-keeping parse tree.
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a toml_edit::Item),
    Table(&'a toml_edit::Table),
    Value(&'a toml_edit::Value),
}

impl<'a> Node<'a> {
    /// The child at `seg` and the span to report for it (the key where there is one).
    fn child(self, seg: &Segment) -> Option<(Option<Range<usize>>, Node<'a>)> {
        use toml_edit::{Item, Value};
        let table = |t: &'a toml_edit::Table, key: &str| {
            t.get_key_value(key)
                .map(|(k, v)| (k.span().or_else(|| v.span()), Node::Item(v)))
        };
        let inline = |t: &'a toml_edit::InlineTable, key: &str| {
            t.get_key_value(key)
                .map(|(k, v)| (k.span().or_else(|| v.span()), Node::Item(v)))
        };
        match (seg, self) {
            (Segment::Map { key }, Node::Item(Item::Table(t)) | Node::Table(t)) => table(t, key),
            (
                Segment::Map { key },
                Node::Item(Item::Value(Value::InlineTable(t))) | Node::Value(Value::InlineTable(t)),
            ) => inline(t, key),
            (Segment::Seq { index }, Node::Item(Item::ArrayOfTables(a))) => {
                a.get(*index).map(|t| (t.span(), Node::Table(t)))
            }
            (
                Segment::Seq { index },
                Node::Item(Item::Value(Value::Array(a))) | Node::Value(Value::Array(a)),
            ) => a.get(*index).map(|v| (v.span(), Node::Value(v))),
            _ => None,
        }
    }
}

/// Span of the deepest item along `path` that is in the text.
fn span_of(root: &toml_edit::Item, path: &[Segment]) -> Option<Range<usize>> {
    let mut node = Node::Item(root);
    let mut best = None;
    for seg in path {
        let Some((span, next)) = node.child(seg) else {
            break;
        };
        if span.is_some() {
            best = span;
        }
        node = next;
    }
    best
}

/// Removes the value at `path` below `value`; false when there is nothing to remove (the
/// path is empty or does not lead anywhere).
fn remove(value: &mut toml::Value, path: &[Segment]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut v = value;
    for seg in parents {
        let next = match (seg, v) {
            (Segment::Map { key }, toml::Value::Table(t)) => t.get_mut(key),
            (Segment::Seq { index }, toml::Value::Array(a)) => a.get_mut(*index),
            _ => None,
        };
        match next {
            Some(n) => v = n,
            None => return false,
        }
    }
    match (last, v) {
        (Segment::Map { key }, toml::Value::Table(t)) => t.remove(key).is_some(),
        (Segment::Seq { index }, toml::Value::Array(a)) if *index < a.len() => {
            a.remove(*index);
            true
        }
        _ => false,
    }
}

/// Whether a line is a table header (`[a.b]`, `[[a]]`), which starts a new top-level table.
fn is_header(line: &str) -> bool {
    let t = line.split('#').next().unwrap_or("").trim();
    let inner = t
        .strip_prefix("[[")
        .and_then(|r| r.strip_suffix("]]"))
        .or_else(|| t.strip_prefix('[').and_then(|r| r.strip_suffix(']')));
    inner.is_some_and(|s| {
        !s.trim().is_empty()
            && s.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | '"' | '\'')
            })
    })
}

/// The text cut at table headers, each piece padded so byte offsets and lines stay those of
/// the whole text (lines of other pieces become spaces).
fn chunks(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut starts: Vec<usize> = vec![0];
    starts.extend(
        lines
            .iter()
            .enumerate()
            .filter(|(i, l)| *i > 0 && is_header(l))
            .map(|(i, _)| i),
    );
    starts.push(lines.len());
    starts
        .windows(2)
        .map(|w| {
            lines
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    if (w[0]..w[1]).contains(&i) {
                        (*l).to_string()
                    } else {
                        let body = l.trim_end_matches(['\n', '\r']);
                        format!("{}{}", " ".repeat(body.len()), &l[body.len()..])
                    }
                })
                .collect()
        })
        .collect()
}

/// Deep-merges `from` into `into`: tables key by key, arrays of tables appended.
fn merge(into: &mut toml::Table, from: toml::Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            (Some(toml::Value::Array(a)), toml::Value::Array(b)) => a.extend(b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq, Default)]
    #[serde(deny_unknown_fields, default)]
    struct Inner {
        a: f64,
        b: Vec<u32>,
    }

    #[test]
    fn every_bad_key_of_a_section_is_reported_and_the_rest_kept() {
        let mut d = Document::parse("[s]\na = 2.5\nx = 1\nb = [1, \"two\"]\ny = true\n");
        let s: Inner = d.section("s", Inner::default);
        assert_eq!(s.a, 2.5);
        d.problems.sort_by_key(|p| p.line);
        let m: Vec<String> = d
            .problems
            .iter()
            .map(|p| format!("{:?}: {}", p.line, p.message))
            .collect();
        assert_eq!(m.len(), 3, "{m:#?}");
        assert!(m[0].starts_with("Some(3): s.x: unknown field `x`"), "{m:?}");
        assert!(
            m[1] == "Some(4): s.b[1]: invalid type: string \"two\", expected u32",
            "{m:?}"
        );
        assert!(m[2].starts_with("Some(5): s.y: unknown field `y`"), "{m:?}");
    }

    #[test]
    fn syntax_errors_do_not_hide_other_tables() {
        let text = "[s]\na = 1.0\n\n[t]\nbroken = \n[u]\nz = 1\n";
        let mut d = Document::parse(text);
        assert!(d.syntax_errors);
        let s: Inner = d.section("s", Inner::default);
        assert_eq!(s.a, 1.0);
        assert_eq!(d.problems.len(), 1, "{:?}", d.problems);
        assert_eq!(d.problems[0].line, Some(5), "{:?}", d.problems);
        assert!(d.problems[0]
            .message
            .starts_with("TOML syntax error at column"));
        d.reject_rest(&["s"]);
        // [t] was unreadable; [u] is read and rejected as unknown, at its own line.
        assert_eq!(d.problems.len(), 2, "{:?}", d.problems);
        assert_eq!(d.problems[1].line, Some(6));
        assert!(d.problems[1].message.contains("unknown section [u]"));
    }

    #[test]
    fn headers_and_dotted_keys() {
        assert!(is_header("[plan.targets]  # comment"));
        assert!(is_header("[[plan.site.cells]]"));
        assert!(!is_header("  [1, 2],"));
        assert!(!is_header("a = [1]"));
        let p = parse_dotted("plan.site.cells[0].technology").unwrap();
        assert_eq!(dotted(&p), "plan.site.cells[0].technology");
        assert!(parse_dotted("not a key").is_none());
    }

    #[test]
    fn lines_of_nested_keys() {
        let d = Document::parse(
            "[plan]\nx = 1\n[plan.site]\ncells = [\n  { technology = \"4g\" },\n  { technology = \"6g\" },\n]\n",
        );
        assert_eq!(d.line_of_key("plan.x"), Some(2));
        assert_eq!(d.line_of_key("plan.site.cells[1].technology"), Some(6));
        assert_eq!(d.line_of_key("plan.site.cells[1]"), Some(6));
        assert_eq!(d.line_of_key("nothing.here"), None);
    }
}
