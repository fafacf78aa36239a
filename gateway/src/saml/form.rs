//! `application/x-www-form-urlencoded` (query strings and POST bodies) with each parameter's raw
//! bytes kept: the HTTP-Redirect signature covers the parameters exactly as the SP encoded them.

use std::ops::Range;

/// Most parameters read from one query or body.
const MAX_PARAMS: usize = 32;

/// One `name=value` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The decoded name.
    pub name: String,
    /// The decoded value (`+` is a space, `%XX` an octet; UTF-8).
    pub value: String,
    /// The byte range of `name=value` in the input, undecoded.
    pub raw: Range<usize>,
}

/// Splits and decodes `input`. Duplicate names are refused (which one would count?).
pub fn parse(input: &str) -> Result<Vec<Param>, String> {
    let mut out: Vec<Param> = Vec::new();
    let mut start = 0;
    for piece in input.split('&') {
        let range = start..start + piece.len();
        start = range.end + 1;
        if piece.is_empty() {
            continue;
        }
        if out.len() == MAX_PARAMS {
            return Err(format!("more than {MAX_PARAMS} parameters"));
        }
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        let name = decode(name).ok_or("a parameter name is not valid percent-encoded UTF-8")?;
        let value = decode(value)
            .ok_or_else(|| format!("parameter `{name}` is not valid percent-encoded UTF-8"))?;
        if out.iter().any(|p| p.name == name) {
            return Err(format!("parameter `{name}` appears twice"));
        }
        out.push(Param {
            name,
            value,
            raw: range,
        });
    }
    Ok(out)
}

fn decode(s: &str) -> Option<String> {
    let plus_as_space = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// `value` percent-encoded for a query string (RFC 3986 unreserved characters kept).
pub fn encode(value: &str) -> String {
    const RESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(value, RESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_raw_ranges_and_decodes_values() {
        let q = "SAMLRequest=a%2Bb%3D&RelayState=x+y%20z&SigAlg=http%3A%2F%2Fa&Signature=s";
        let p = parse(q).unwrap();
        assert_eq!(p[0].value, "a+b=");
        assert_eq!(&q[p[0].raw.clone()], "SAMLRequest=a%2Bb%3D");
        assert_eq!(p[1].value, "x y z");
        assert_eq!(&q[p[1].raw.clone()], "RelayState=x+y%20z");
        assert_eq!(p[2].value, "http://a");
        assert_eq!(&q[p[3].raw.clone()], "Signature=s");
    }

    #[test]
    fn refuses_duplicates_bad_utf8_and_floods() {
        assert!(parse("a=1&a=2").unwrap_err().contains("twice"));
        assert!(parse("a=%FF").is_err());
        let many: Vec<String> = (0..40).map(|i| format!("p{i}=1")).collect();
        assert!(parse(&many.join("&")).is_err());
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse("&&x").unwrap()[0].name, "x");
    }

    #[test]
    fn encode_round_trips() {
        let v = "https://sp/a?b=c&d=é ~";
        assert_eq!(parse(&format!("v={}", encode(v))).unwrap()[0].value, v);
    }
}
