//! OpenStreetMap specifics of GDAL's OSM driver: which layer holds what, and the `other_tags`
//! hstore field in which the driver puts every tag its osmconf.ini does not map to a column
//! (by default `ref` and `int_ref` of ways end up there; `highway`, `place`, `population` and
//! `name` are columns of the default configuration).

use super::LayerKind;

/// The OSM driver layer for a kind of geometry: `points`, `lines` or `multipolygons`.
pub fn layer_for(kind: LayerKind) -> &'static str {
    match kind {
        LayerKind::Points => "points",
        LayerKind::Lines => "lines",
        LayerKind::Polygons => "multipolygons",
    }
}

/// Parses an hstore literal such as `"int_ref"=>"E 40;AH 5","ref"=>"M-39"` into key/value
/// pairs. Backslash escapes (`\"`, `\\`) inside quotes are honoured; a malformed tail is
/// ignored rather than guessed at.
pub fn parse_other_tags(hstore: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = hstore.chars().peekable();
    let quoted = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| -> Option<String> {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.next()? != '"' {
            return None;
        }
        let mut s = String::new();
        loop {
            match chars.next()? {
                '\\' => s.push(chars.next()?),
                '"' => return Some(s),
                c => s.push(c),
            }
        }
    };
    while let Some(k) = quoted(&mut chars) {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') || chars.next() != Some('>') {
            break;
        }
        let Some(v) = quoted(&mut chars) else { break };
        out.push((k, v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hstore() {
        let t = parse_other_tags(r#""int_ref"=>"E 40;AH 5","ref"=>"M-39","note"=>"say \"hi\"""#);
        assert_eq!(
            t,
            vec![
                ("int_ref".to_string(), "E 40;AH 5".to_string()),
                ("ref".to_string(), "M-39".to_string()),
                ("note".to_string(), "say \"hi\"".to_string())
            ]
        );
        assert!(parse_other_tags("").is_empty());
        assert_eq!(
            parse_other_tags(r#""a"=>"1",garbage"#),
            vec![("a".into(), "1".into())]
        );
    }
}
