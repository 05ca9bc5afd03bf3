//! A small well-formedness check for the XML we generate (SVG charts), since no XML parser
//! is among the dependencies: balanced and properly nested tags, one root element, quoted
//! attributes without duplicates, only known entities, names that are names. Stricter than
//! XML on one point: a raw `>` in text or an attribute is refused too, since our escaping
//! writes it as `&gt;` and a stray one means some text went out unescaped. It also returns
//! the elements with their attributes and decoded text, so tests can ask what a browser
//! would see (which elements exist, what a link points at, what a label reads).

#![allow(dead_code)]

#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    /// The element's own character data (not its children's), entities decoded.
    pub text: String,
    /// Names of the enclosing elements, outermost first.
    pub ancestors: Vec<String>,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Every element of `doc` in document order, or what is wrong with it and where.
pub fn parse(doc: &str) -> Result<Vec<Element>, String> {
    let b = doc.as_bytes();
    let mut i = 0;
    let mut stack: Vec<usize> = Vec::new(); // indexes into `elements`
    let mut elements: Vec<Element> = Vec::new();
    let mut roots = 0;
    let err = |at: usize, what: &str| Err(format!("{what} at byte {at}: {:?}", excerpt(doc, at)));
    while i < b.len() {
        if b[i] == b'<' {
            if doc[i..].starts_with("<!--") {
                let Some(end) = doc[i + 4..].find("-->") else {
                    return err(i, "unterminated comment");
                };
                if doc[i + 4..i + 4 + end].contains("--") {
                    return err(i, "`--` inside a comment");
                }
                i += 4 + end + 3;
                continue;
            }
            if doc[i..].starts_with("<?") {
                let Some(end) = doc[i..].find("?>") else {
                    return err(i, "unterminated processing instruction");
                };
                i += end + 2;
                continue;
            }
            if doc[i..].starts_with("</") {
                let start = i + 2;
                let len = name_len(&doc[start..]);
                if len == 0 {
                    return err(i, "end tag without a name");
                }
                let name = &doc[start..start + len];
                let mut j = start + len;
                while j < b.len() && b[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j >= b.len() || b[j] != b'>' {
                    return err(i, "malformed end tag");
                }
                match stack.pop() {
                    Some(open) if elements[open].name == name => {}
                    Some(open) => {
                        return err(i, &format!("</{name}> closes <{}>", elements[open].name));
                    }
                    None => return err(i, &format!("</{name}> without a start tag")),
                }
                i = j + 1;
                continue;
            }
            // A start tag.
            let start = i + 1;
            let len = name_len(&doc[start..]);
            if len == 0 {
                return err(i, "`<` not starting a tag (unescaped text?)");
            }
            if stack.is_empty() {
                roots += 1;
                if roots > 1 {
                    return err(i, "a second root element");
                }
            }
            let name = doc[start..start + len].to_string();
            let mut j = start + len;
            let mut attrs: Vec<(String, String)> = Vec::new();
            let self_closing;
            loop {
                let ws = j;
                while j < b.len() && b[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j >= b.len() {
                    return err(i, "unterminated start tag");
                }
                if b[j] == b'>' {
                    self_closing = false;
                    j += 1;
                    break;
                }
                if doc[j..].starts_with("/>") {
                    self_closing = true;
                    j += 2;
                    break;
                }
                if ws == j {
                    return err(j, "attributes not separated by whitespace");
                }
                let alen = name_len(&doc[j..]);
                if alen == 0 {
                    return err(j, "malformed attribute");
                }
                let aname = doc[j..j + alen].to_string();
                j += alen;
                if j >= b.len() || b[j] != b'=' {
                    return err(j, &format!("attribute {aname} without a value"));
                }
                j += 1;
                if j >= b.len() || (b[j] != b'"' && b[j] != b'\'') {
                    return err(j, &format!("attribute {aname} not quoted"));
                }
                let quote = b[j] as char;
                let vstart = j + 1;
                let Some(vlen) = doc[vstart..].find(quote) else {
                    return err(j, "unterminated attribute value");
                };
                let raw = &doc[vstart..vstart + vlen];
                if raw.contains('<') || raw.contains('>') {
                    return err(vstart, "raw `<` or `>` in an attribute value");
                }
                let value = decode(raw).map_err(|e| format!("{e} in attribute {aname}"))?;
                if attrs.iter().any(|(k, _)| *k == aname) {
                    return err(j, &format!("duplicate attribute {aname}"));
                }
                attrs.push((aname, value));
                j = vstart + vlen + 1;
            }
            let ancestors = stack.iter().map(|&e| elements[e].name.clone()).collect();
            elements.push(Element {
                name,
                attrs,
                text: String::new(),
                ancestors,
            });
            if !self_closing {
                stack.push(elements.len() - 1);
            }
            i = j;
            continue;
        }
        // Character data up to the next tag.
        let end = doc[i..].find('<').map_or(b.len(), |e| i + e);
        let raw = &doc[i..end];
        match stack.last() {
            Some(&open) => {
                if raw.contains('>') {
                    return err(i, "raw `>` in text");
                }
                let text = decode(raw)?;
                elements[open].text.push_str(&text);
            }
            None => {
                if !raw.trim().is_empty() {
                    return err(i, "text outside the root element");
                }
            }
        }
        i = end;
    }
    if let Some(&open) = stack.last() {
        return Err(format!("<{}> is never closed", elements[open].name));
    }
    if roots == 0 {
        return Err("no root element".into());
    }
    Ok(elements)
}

/// The length of the XML name at the start of `s` (0 when there is none).
fn name_len(s: &str) -> usize {
    let mut len = 0;
    for (i, c) in s.char_indices() {
        let ok = if i == 0 {
            c.is_ascii_alphabetic() || c == '_' || c == ':'
        } else {
            c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '.' | '-')
        };
        if !ok {
            break;
        }
        len = i + c.len_utf8();
    }
    len
}

/// Character data with its entities decoded; a bare `&` or an unknown entity is an error.
fn decode(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let Some(semi) = after.find(';') else {
            return Err(format!("bare `&` before {:?}", excerpt(after, 0)));
        };
        let entity = &after[..semi];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = entity.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32)
                    .ok_or_else(|| format!("unknown entity &{entity};"))?
            }
        };
        out.push(c);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn excerpt(s: &str, at: usize) -> String {
    s[at..].chars().take(40).collect()
}

#[test]
fn the_check_refuses_what_is_not_well_formed() {
    for bad in [
        "",
        "<a>",
        "<a></b>",
        "<a><b></a></b>",
        "<a x=1/>",
        "<a x=\"1\" x=\"2\"/>",
        "<a>x & y</a>",
        "<a>x < y</a>",
        "<a>x > y</a>",
        "<a>&bogus;</a>",
        "<a/><b/>",
        "text<a/>",
        "<a x=\"<\"/>",
        "<a x=\"1\"y=\"2\"/>",
        "<a><!-- a -- b --></a>",
    ] {
        assert!(parse(bad).is_err(), "{bad:?} passed");
    }
    let els = parse("<?xml version=\"1.0\"?><a k='v &amp; w'><b>x &lt;y&gt; &#x202E;</b><c/></a>")
        .unwrap();
    assert_eq!(els.len(), 3);
    assert_eq!(els[0].attr("k"), Some("v & w"));
    assert_eq!(els[1].text, "x <y> \u{202E}");
    assert_eq!(els[2].ancestors, vec!["a".to_string()]);
}
