//! An XML writer whose output is already canonical: the bytes it writes are the Exclusive XML
//! Canonicalization 1.0 form (<https://www.w3.org/TR/xml-exc-c14n/>, without comments) of the
//! element it writes. So the digest of a signed element is the SHA-256 of the bytes as written,
//! with no parse and no canonicalization pass: what lets a signed response cost little more than
//! its RSA signature (issue 4 §3). `xmlsec1 --verify` checks the claim in the tests.
//!
//! What makes the output canonical (exc-c14n §2 and C14N 1.0 §2.3/§2.4):
//! - no XML declaration, no DTD, no comments, no whitespace between elements;
//! - every element written as a start and an end tag (`<a></a>`, never `<a/>`);
//! - namespace declarations first, sorted by prefix, then the attributes sorted by namespace
//!   URI and local name (the attributes here are unqualified, or `xml:lang`, whose namespace
//!   sorts after the empty one);
//! - a namespace declared on the element that first uses its prefix, and only there (the
//!   callers declare `saml`, `samlp`, `ds` exactly where exc-c14n renders them);
//! - text escaped as `&amp; &lt; &gt; &#xD;`, attribute values as `&amp; &lt; &quot; &#x9;
//!   &#xA; &#xD;`;
//! - characters XML 1.0 cannot carry at all (C0 controls but tab, LF and CR; U+FFFE, U+FFFF)
//!   replaced by U+FFFD, so a stray control character in an AD attribute cannot break the
//!   document or its signature.

/// A canonical XML writer.
#[derive(Debug, Default)]
pub struct Canonical {
    buf: String,
    open: Vec<&'static str>,
}

impl Canonical {
    /// An empty writer.
    pub fn new() -> Self {
        Self::with_capacity(4096)
    }

    /// An empty writer with room for `bytes`.
    pub fn with_capacity(bytes: usize) -> Self {
        Self {
            buf: String::with_capacity(bytes),
            open: Vec::with_capacity(8),
        }
    }

    /// Writes a start tag: `ns` are `(prefix, uri)` declarations, `attrs` `(name, value)`.
    pub fn open(&mut self, name: &'static str, ns: &[(&str, &str)], attrs: &[(&str, &str)]) {
        self.buf.push('<');
        self.buf.push_str(name);
        let mut ns: Vec<&(&str, &str)> = ns.iter().collect();
        ns.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (prefix, uri) in ns {
            self.buf.push_str(" xmlns");
            if !prefix.is_empty() {
                self.buf.push(':');
                self.buf.push_str(prefix);
            }
            self.buf.push_str("=\"");
            escape_attr(&mut self.buf, uri);
            self.buf.push('"');
        }
        let mut attrs: Vec<&(&str, &str)> = attrs.iter().collect();
        // Unqualified names (no namespace URI) sort first; among the qualified ones only
        // `xml:` is used, so sorting by name is sorting by (URI, local name).
        attrs.sort_unstable_by(|a, b| (a.0.contains(':'), a.0).cmp(&(b.0.contains(':'), b.0)));
        for (attr, value) in attrs {
            self.buf.push(' ');
            self.buf.push_str(attr);
            self.buf.push_str("=\"");
            escape_attr(&mut self.buf, value);
            self.buf.push('"');
        }
        self.buf.push('>');
        self.open.push(name);
    }

    /// Writes text content.
    pub fn text(&mut self, text: &str) {
        escape_text(&mut self.buf, text);
    }

    /// Writes the end tag of the innermost open element.
    pub fn close(&mut self) {
        if let Some(name) = self.open.pop() {
            self.buf.push_str("</");
            self.buf.push_str(name);
            self.buf.push('>');
        }
    }

    /// An element with attributes and text only.
    pub fn leaf(&mut self, name: &'static str, attrs: &[(&str, &str)], text: &str) {
        self.open(name, &[], attrs);
        self.text(text);
        self.close();
    }

    /// Appends bytes that are already canonical XML (a signed element written before).
    pub fn raw(&mut self, xml: &str) {
        self.buf.push_str(xml);
    }

    /// The byte offset where the next write goes.
    pub fn position(&self) -> usize {
        self.buf.len()
    }

    /// The text written so far.
    pub fn as_str(&self) -> &str {
        &self.buf
    }

    /// The document; every element is closed.
    pub fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.close();
        }
        self.buf
    }
}

/// A character XML 1.0 can carry (production `Char`).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn escape_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
}

fn escape_attr(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
}

/// `text` escaped for an HTML text node or a double-quoted attribute value (the pages).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_namespaces_then_attributes_and_never_self_closes() {
        let mut w = Canonical::new();
        w.open(
            "saml:Assertion",
            &[("saml", "urn:oasis:names:tc:SAML:2.0:assertion")],
            &[("Version", "2.0"), ("IssueInstant", "t"), ("ID", "_1")],
        );
        w.open("saml:Empty", &[], &[]);
        w.close();
        w.leaf("saml:Issuer", &[], "https://idp");
        let xml = w.finish();
        assert_eq!(
            xml,
            "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_1\" \
             IssueInstant=\"t\" Version=\"2.0\"><saml:Empty></saml:Empty>\
             <saml:Issuer>https://idp</saml:Issuer></saml:Assertion>"
        );
    }

    #[test]
    fn qualified_attributes_sort_after_unqualified_ones() {
        let mut w = Canonical::new();
        w.open("md:Name", &[], &[("xml:lang", "en"), ("z", "1")]);
        assert_eq!(w.finish(), "<md:Name z=\"1\" xml:lang=\"en\"></md:Name>");
    }

    #[test]
    fn escapes_as_c14n_does() {
        let mut w = Canonical::new();
        w.open("a", &[], &[("v", "<&\"\t\n\r>'")]);
        w.text("<&>\"'\r\n\t");
        let xml = w.finish();
        assert_eq!(
            xml,
            "<a v=\"&lt;&amp;&quot;&#x9;&#xA;&#xD;>'\">&lt;&amp;&gt;\"'&#xD;\n\t</a>"
        );
    }

    #[test]
    fn characters_xml_cannot_carry_become_replacement_characters() {
        let mut w = Canonical::new();
        w.open("a", &[], &[("v", "x\u{1}y")]);
        w.text("\u{0}\u{1b}[31m\u{FFFE}ok");
        assert_eq!(
            w.finish(),
            "<a v=\"x\u{FFFD}y\">\u{FFFD}\u{FFFD}[31m\u{FFFD}ok</a>"
        );
    }

    #[test]
    fn html_escaping_covers_quotes() {
        assert_eq!(
            escape_html("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
