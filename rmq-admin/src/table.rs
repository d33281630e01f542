//! A tiny aligned-column table, the shape of mqadmin's `printf("%-32s  %-4d ...")` output without its fixed
//! widths: each column is as wide as its widest cell, columns are two spaces apart, the last one is not padded.
//!
//! Widths count `char`s, which is right for the ASCII that topic, group and broker names are made of; cells are
//! made single-line (control characters escaped) so a message body cannot break the layout.

use std::fmt::Write as _;

/// Rows under a header, rendered with [`Table::render`].
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles (mqadmin writes them as `#Title`).
    pub fn new<I, S>(header: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells render empty, extra cells get an untitled column.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: ToString,
    {
        self.rows.push(
            cells
                .into_iter()
                .map(|c| one_line(&c.to_string()))
                .collect(),
        );
    }

    /// The header and rows, one line each, every line ending in `\n`.
    pub fn render(&self) -> String {
        let columns = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0);
        let mut widths = vec![0usize; columns];
        for line in std::iter::once(&self.header).chain(&self.rows) {
            for (i, cell) in line.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for line in std::iter::once(&self.header).chain(&self.rows) {
            let mut text = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = line.get(i).map_or("", String::as_str);
                if i > 0 {
                    text.push_str("  ");
                }
                let _ = write!(text, "{cell:<width$}");
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Aligned `key: value` lines (mqadmin's `%-32s: %s` for broker status and message fields).
pub fn key_values<'a, I>(pairs: I) -> String
where
    I: IntoIterator<Item = (&'a str, String)>,
{
    let pairs: Vec<(&str, String)> = pairs.into_iter().collect();
    let width = pairs
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        + 1;
    let mut out = String::new();
    for (k, v) in pairs {
        let key = format!("{k}:");
        let _ = writeln!(out, "{key:<width$} {}", one_line(&v));
    }
    out
}

/// `s` with line breaks, tabs and other control characters escaped, so it stays on one line.
pub fn one_line(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| match c {
            '\n' => "\\n".to_string(),
            '\r' => "\\r".to_string(),
            '\t' => "\\t".to_string(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let mut t = Table::new(["#Topic", "#QID", "#Diff"]);
        t.row(["OrderTopic", "0", "12"]);
        t.row(["T", "10", ""]);
        assert_eq!(
            t.render(),
            "#Topic      #QID  #Diff\n\
             OrderTopic  0     12\n\
             T           10\n"
        );
    }

    #[test]
    fn cells_stay_on_one_line() {
        let mut t = Table::new(["#Body"]);
        t.row(["a\nb\tc\u{1}"]);
        assert_eq!(t.render(), "#Body\na\\nb\\tc\\u{1}\n");
    }

    #[test]
    fn key_values_align_on_the_longest_key() {
        assert_eq!(
            key_values([
                ("Topic", "T".to_string()),
                ("Queue Offset", "3".to_string())
            ]),
            "Topic:        T\nQueue Offset: 3\n"
        );
    }
}
