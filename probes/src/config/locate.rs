//! Where a problem is in the file: the dotted key path a message is about, and the 1-based line
//! of that key (found with toml_edit's spans), so responses can name key and line without
//! quoting the file.

/// 1-based line of byte offset `at` in `text`.
pub fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The key path a problem message starts with: `tests.download.grace (3s) must…` gives
/// `tests.download.grace`; `targets[0] (t1).url = …` gives `targets[0].url`; `no [[targets]]…`
/// gives `targets`.
pub fn key_of_message(message: &str) -> Option<String> {
    if message.starts_with("no [[targets]]") {
        return Some("targets".into());
    }
    let is_key_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '-');
    let head: String = message.chars().take_while(|c| is_key_char(*c)).collect();
    let mut key = head.trim_end_matches('.').to_string();
    // `targets[i] (name)` is followed by the rest of the path.
    let rest = &message[head.len()..];
    if key.starts_with("targets[") && rest.starts_with(" (") {
        if let Some(close) = rest.find(')') {
            let tail: String = rest[close + 1..]
                .chars()
                .take_while(|c| is_key_char(*c))
                .collect();
            key.push_str(tail.trim_end_matches('.'));
        }
    }
    // A key never contains spaces and always starts with a section name.
    let first = key.split(['.', '[']).next().unwrap_or("");
    matches!(
        first,
        "agent" | "web" | "tests" | "targets" | "remote_write"
    )
    .then_some(key)
}

/// Fill in the line of every problem whose key is found in `text`: the key's own line, or the
/// line of the closest enclosing table that exists (a missing key is reported where its table
/// is).
pub fn lines(text: &str, mut problems: Vec<super::Problem>) -> Vec<super::Problem> {
    let Ok(doc) = toml_edit::ImDocument::parse(text.to_string()) else {
        return problems;
    };
    for p in &mut problems {
        if p.line.is_none() {
            if let Some(key) = &p.key {
                p.line = find(doc.as_table(), key).map(|at| line_of(text, at));
            }
        }
    }
    problems
}

/// Byte offset of `path` (`a.b[2].c`) below `table`, or of the deepest part of it that exists.
fn find(table: &toml_edit::Table, path: &str) -> Option<usize> {
    let mut segments = Vec::new();
    for part in path.split('.') {
        match part.split_once('[') {
            Some((name, idx)) => {
                segments.push((name, idx.trim_end_matches(']').parse::<usize>().ok()));
            }
            None => segments.push((part, None)),
        }
    }
    let mut best = table.span().map(|r| r.start);
    let mut cur = table;
    for (name, index) in segments {
        let Some(item) = cur.get(name) else {
            return best;
        };
        let key_at = cur.key(name).and_then(|k| k.span()).map(|r| r.start);
        best = key_at.or(item.span().map(|r| r.start)).or(best);
        let next = match (item, index) {
            (toml_edit::Item::ArrayOfTables(a), Some(i)) => a.get(i),
            (toml_edit::Item::Table(t), None) => Some(t),
            _ => None,
        };
        match next {
            Some(t) => {
                best = t.span().map(|r| r.start).or(best);
                cur = t;
            }
            None => return best,
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_messages() {
        let k = |m: &str| key_of_message(m);
        assert_eq!(
            k("tests.download.grace (3s) must be"),
            Some("tests.download.grace".into())
        );
        assert_eq!(
            k("targets[0] (t1).url = \"x\" is"),
            Some("targets[0].url".into())
        );
        assert_eq!(
            k("targets[0] (t1): tests is empty"),
            Some("targets[0]".into())
        );
        assert_eq!(k("remote_write: set either"), Some("remote_write".into()));
        assert_eq!(k("no [[targets]]: add"), Some("targets".into()));
        assert_eq!(k("TOML parse error"), None);
    }

    #[test]
    fn lines_of_keys_tables_and_array_elements() {
        let text = "[agent]\nsite = \"x\"\n\n[tests.download]\ngrace = \"3s\"\n\n[[targets]]\nname = \"a\"\n\n[[targets]]\nname = \"b\"\nurl = \"u\"\n";
        let doc = toml_edit::ImDocument::parse(text.to_string()).unwrap();
        let at = |k: &str| find(doc.as_table(), k).map(|o| line_of(text, o));
        assert_eq!(at("agent.site"), Some(2));
        assert_eq!(at("tests.download.grace"), Some(5));
        assert_eq!(at("targets[1].url"), Some(12));
        assert_eq!(at("targets[1]"), Some(10));
        assert_eq!(at("agent.latitude"), Some(1));
    }
}
