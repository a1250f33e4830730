//! JSON written by hand (the library has no serde): string escaping.

use std::io::{self, Write};

/// Writes `text` as the inside of a JSON string: quotes, backslashes and
/// control characters escaped.
pub(super) fn write_json_escaped<W: Write>(out: &mut W, text: &str) -> io::Result<()> {
    let mut plain = 0;
    for (at, c) in text.char_indices() {
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if (c as u32) < 0x20 => "",
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
