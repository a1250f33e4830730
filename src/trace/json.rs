//! JSON written by hand (the library has no serde): string escaping.

use std::io::{self, Write};

/// Writes `text` as the inside of a JSON string: quotes, backslashes and
/// control characters escaped.
pub(super) fn write_json_escaped<W: Write>(out: &mut W, text: &str) -> io::Result<()> {
    write_escaped(out, text, false)
}

/// As [`write_json_escaped`], and also `<`, `>`, `&`, U+2028 and U+2029 as
/// `\uXXXX`: JSON that sits inside an HTML `<script>` element, where a
/// literal `</script>` or `<!--` in a string would end or bend the element
/// before the JSON parser ever sees it.
pub(super) fn write_json_escaped_for_html<W: Write>(out: &mut W, text: &str) -> io::Result<()> {
    write_escaped(out, text, true)
}

fn write_escaped<W: Write>(out: &mut W, text: &str, in_html: bool) -> io::Result<()> {
    let mut plain = 0;
    for (at, c) in text.char_indices() {
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if (c as u32) < 0x20 => "",
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' if in_html => "",
            _ => continue,
        };
        out.write_all(&text.as_bytes()[plain..at])?;
        if escape.is_empty() {
            write!(out, "\\u{:04x}", c as u32)?;
        } else {
            out.write_all(escape.as_bytes())?;
        }
        plain = at + c.len_utf8();
    }
    out.write_all(&text.as_bytes()[plain..])
}
