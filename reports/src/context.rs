//! What a county finds a rejected or corrected row by at the source (#14): the person (name and
//! ID number, masked in the reports), where they live, the batch number, program, fund year and
//! amount; and a change to a value said in words, for the masked values whose change the
//! county cannot see.

use std::collections::BTreeMap;

/// A row's context, as the reports read it from the target.
#[derive(Debug, Clone, Default)]
pub(crate) struct RowContext {
    pub name: Option<String>,
    pub id_number: Option<String>,
    pub area_code: Option<String>,
    pub area_name: Option<String>,
    pub batch_no: Option<String>,
    pub program: Option<String>,
    pub fund_year: Option<String>,
    pub amount: Option<String>,
}

impl RowContext {
    /// From eight cells in the order of the fields above.
    pub(crate) fn from_cells(cells: &mut [Option<String>]) -> RowContext {
        let mut take = |i: usize| cells.get_mut(i).and_then(Option::take);
        RowContext {
            name: take(0),
            id_number: take(1),
            area_code: take(2),
            area_name: take(3),
            batch_no: take(4),
            program: take(5),
            fund_year: take(6),
            amount: take(7),
        }
    }

    /// Its cells, in the order [`RowContext::from_cells`] takes them.
    pub(crate) fn cells(&self) -> [Option<&str>; 8] {
        [
            self.name.as_deref(),
            self.id_number.as_deref(),
            self.area_code.as_deref(),
            self.area_name.as_deref(),
            self.batch_no.as_deref(),
            self.program.as_deref(),
            self.fund_year.as_deref(),
            self.amount.as_deref(),
        ]
    }

    /// The order a county works in: village by village, person by person; rows with no place
    /// (a line whose person is not in T_BTDX) last.
    pub(crate) fn order(&self) -> (bool, &Option<String>, &Option<String>, &Option<String>) {
        (
            self.area_code.is_none(),
            &self.area_code,
            &self.name,
            &self.id_number,
        )
    }

    /// Where the person lives: the village's name and code, or the code alone.
    pub(crate) fn place(&self) -> String {
        match (&self.area_name, &self.area_code) {
            (Some(n), Some(c)) => format!("{n}（{c}）"),
            (None, Some(c)) => c.clone(),
            _ => String::new(),
        }
    }

    /// The program's name where the report knows it, else its code.
    pub(crate) fn program_name<'a>(&'a self, programs: &'a BTreeMap<String, String>) -> &'a str {
        self.program
            .as_ref()
            .map_or("", |p| programs.get(p).unwrap_or(p).as_str())
    }
}

/// What a correction changed, in words (去除空格, 全角转半角, 15 位升 18 位, …), read from the
/// values themselves: a masked ID number shows `610802********0222` before and after, and
/// only these words say what changed. Empty when nothing here describes it.
pub(crate) fn change_in_words(before: Option<&str>, after: Option<&str>) -> String {
    let (Some(before), Some(after)) = (before, after) else {
        return match (before, after) {
            (Some(_), None) => "置为空".to_owned(),
            _ => String::new(),
        };
    };
    if before == after {
        return "未改变".to_owned();
    }
    let mut words = Vec::new();
    if before.chars().any(char::is_whitespace) && !after.chars().any(char::is_whitespace) {
        words.push("去除空格");
    }
    let full_width = |c: char| ('\u{ff01}'..='\u{ff5e}').contains(&c);
    if before.chars().any(full_width) && !after.chars().any(full_width) {
        words.push("全角转半角");
    }
    if before.contains(['-', '－']) && !after.contains('-') {
        words.push("去除连字符");
    }
    if before.contains(',') && !after.contains(',') {
        words.push("去除千分位逗号");
    }
    if before.ends_with(['x', 'ｘ']) && after.ends_with('X') {
        words.push("末位小写 x 改为大写 X");
    }
    let digits = |s: &str| s.chars().filter(char::is_ascii_alphanumeric).count();
    match (digits(before), after.chars().count()) {
        (15, 18) if after.chars().all(|c| c.is_ascii_digit() || c == 'X') => {
            words.push("15 位升为 18 位");
        }
        (17, 18) if after.ends_with('X') => words.push("补回末位校验码 X"),
        _ => {}
    }
    if words.is_empty() {
        return String::new();
    }
    words.join("、")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_said_in_words() {
        let w = |b: &str, a: &str| change_in_words(Some(b), Some(a));
        assert_eq!(w("61080219800101 631", "610802198001010631"), "去除空格");
        assert_eq!(
            w("６１０８０２１９８００１０１０２２２", "610802198001010222"),
            "全角转半角"
        );
        assert_eq!(
            w("61080219800101022x", "61080219800101022X"),
            "末位小写 x 改为大写 X"
        );
        assert_eq!(
            w("610802800101022", "610802198001010224"),
            "15 位升为 18 位"
        );
        assert_eq!(
            w("61080219800101022", "61080219800101022X"),
            "补回末位校验码 X"
        );
        assert_eq!(w("6222-0000-1111-2222", "6222000011112222"), "去除连字符");
        assert_eq!(w("1,200.00 ", "1200.00"), "去除空格、去除千分位逗号");
        assert_eq!(change_in_words(Some("x"), None), "置为空");
        assert_eq!(w("0222", "0222"), "未改变");
        assert_eq!(w("a", "b"), "");
    }

    proptest::proptest! {
        /// No pair of strings makes it panic.
        #[test]
        fn never_panics(before in ".{0,24}", after in ".{0,24}") {
            let _ = change_in_words(Some(&before), Some(&after));
        }
    }
}
