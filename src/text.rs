//! Text from outside the library (the service's and the identity
//! platform's words, the caller's own input) made safe to show to people:
//! one line, no terminal escape sequence, bounded length.
//!
//! Every error the library answers ([`crate::Error`]'s JSON and `Display`)
//! and every log line goes through here, so a message holding `\r\n`,
//! `ESC[31m` or BEL cannot break the one-line error of the CLI or of a
//! PowerShell ErrorRecord, nor run escape sequences in a terminal.

use std::borrow::Cow;
use std::fmt::Write;

/// The longest piece of a caller's input quoted in a message.
pub const MAX_ECHO_CHARS: usize = 64;

/// The longest message (or log line) shown; what is longer is cut.
pub const MAX_MESSAGE_CHARS: usize = 2000;

/// Characters a terminal would act on rather than show: C0 and C1 controls,
/// DEL, the Unicode line and paragraph separators and the bidirectional
/// formatting characters (which reorder what follows them on the line).
fn acts_on_terminal(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
        )
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// `s` on one line with every control character escaped: `\n`, `\r`, `\t`
/// as those two characters, ESC as `\x1b`, the other ASCII and C1 controls
/// as `\xNN`, the Unicode formatting ones as `\u{NNNN}`. Other text,
/// backslashes included, is left as it is.
pub fn one_line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(acts_on_terminal) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if acts_on_terminal(c) && (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if acts_on_terminal(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`one_line`], cut to at most `max` characters (with `…` when cut).
pub fn clipped(s: &str, max: usize) -> String {
    let line = one_line(s);
    match line.char_indices().nth(max) {
        None => line.into_owned(),
        Some((end, _)) => format!("{}…", &line[..end]),
    }
}

/// A caller's input as quoted in an error message: escaped, and cut to
/// [`MAX_ECHO_CHARS`] so a 10 MB field is not sent back whole.
pub fn echo(s: &str) -> String {
    clipped(s, MAX_ECHO_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_on_one_line() {
        assert_eq!(one_line("plain text: C:\\x"), "plain text: C:\\x");
        assert!(matches!(one_line("plain"), Cow::Borrowed(_)));
        assert_eq!(
            one_line("a\r\nb\u{1b}[31mred\u{7}\tz\u{7f}\u{9b}"),
            "a\\r\\nb\\x1b[31mred\\x07\\tz\\x7f\\x9b"
        );
        assert_eq!(one_line("x\u{202e}y\u{2028}"), "x\\u{202e}y\\u{2028}");
        let out = one_line("\u{1b}]0;title\u{7}\u{1b}[2J");
        assert!(out.chars().all(|c| !acts_on_terminal(c)), "{out}");
    }

    #[test]
    fn long_text_is_cut() {
        assert_eq!(clipped("abcdef", 3), "abc…");
        assert_eq!(clipped("abc", 3), "abc");
        assert_eq!(clipped("éééé", 2), "éé…");
        assert_eq!(
            echo(&"x".repeat(10_000_000)).chars().count(),
            MAX_ECHO_CHARS + 1
        );
    }
}
