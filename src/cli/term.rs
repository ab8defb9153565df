//! Terminal output: columns that stay aligned with Chinese county names (a CJK character takes
//! two cells), and the verdict in colour when stdout is a terminal (never with `NO_COLOR` set,
//! or when piped).

use std::io::IsTerminal;

use unicode_width::UnicodeWidthStr;
use ykt_reports::Verdict;

/// `text` padded with spaces to `width` terminal cells (left-aligned).
pub(crate) fn pad(text: &str, width: usize) -> String {
    let shown = text.width();
    format!("{text}{}", " ".repeat(width.saturating_sub(shown)))
}

fn colour_on() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}

/// A verdict's words in its colour: green 平衡且无待处理, yellow pending, bold red 不平衡.
pub(crate) fn verdict(v: Verdict, text: &str) -> String {
    if !colour_on() {
        return text.to_owned();
    }
    let code = match v {
        Verdict::Clean => "32",
        Verdict::Pending => "33",
        Verdict::Unbalanced => "1;31",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_names_take_two_cells_each() {
        assert_eq!(pad("神木市", 8), "神木市  ");
        assert_eq!(pad("x", 3), "x  ");
        assert_eq!(pad("未归属县区很长的名字", 4), "未归属县区很长的名字");
    }
}
