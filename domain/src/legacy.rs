//! The legacy tables as found: names, columns, captions and SQL types, per `legacy-system.md`.
//!
//! A legacy row is kept as raw text, one `Option<String>` per column (`None` = SQL NULL or an
//! empty export field), in the column order below. Nothing is parsed here: parsing is the
//! transform stage's business, so that a malformed value can become a reject record.

/// One legacy row as found: raw text per column, in [`LegacyTable::columns`] order.
pub type LegacyRow = Vec<Option<String>>;

/// The SQL type of a legacy column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// `VARCHAR(n)`.
    Varchar(u16),
    /// `CHAR(n)`.
    Char(u16),
    /// `BIGINT`.
    BigInt,
    /// `INT`.
    Int,
    /// `DATETIME` (`TIMESTAMP` in PostgreSQL), read and written as `YYYY-MM-DD HH:MM:SS`.
    DateTime,
}

/// A legacy column: its name, its Chinese caption in the export files, its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegacyColumn {
    pub name: &'static str,
    pub caption: &'static str,
    pub kind: ColumnKind,
}

const fn col(name: &'static str, caption: &'static str, kind: ColumnKind) -> LegacyColumn {
    LegacyColumn {
        name,
        caption,
        kind,
    }
}

use ColumnKind::{BigInt, Char, DateTime, Int, Varchar};

// The spec gives the status columns DXZT, PCZT and FFZT as CHAR(1), yet quirk Q6 says they are
// found padded (`' 1'`), which a CHAR(1) column cannot hold on MariaDB or PostgreSQL. The legacy
// installations evidently have room for two characters, so they are VARCHAR(2) here.

const T_XZQH: &[LegacyColumn] = &[
    col("XZQHDM", "区划代码", Varchar(12)),
    col("XZQHMC", "区划名称", Varchar(60)),
    col("SJDM", "上级代码", Varchar(12)),
    col("JB", "级别", Char(1)),
    col("YXBZ", "有效标志", Char(1)),
];
const T_BTXM: &[LegacyColumn] = &[
    col("XMDM", "项目代码", Varchar(10)),
    col("XMMC", "项目名称", Varchar(100)),
    col("ZGBM", "主管部门", Varchar(60)),
    col("BZLX", "标准类型", Char(1)),
    col("BZJE", "补贴标准", Varchar(20)),
    col("YXBZ", "有效标志", Char(1)),
];
const T_ZJZB: &[LegacyColumn] = &[
    col("ZBID", "指标ID", BigInt),
    col("XZQHDM", "区划代码", Varchar(12)),
    col("XMDM", "项目代码", Varchar(10)),
    col("ND", "资金年度", Varchar(8)),
    col("ZBWH", "指标文号", Varchar(100)),
    col("ZBJE", "指标金额", Varchar(20)),
    col("XDRQ", "下达日期", Varchar(20)),
];
const T_BTDX: &[LegacyColumn] = &[
    col("DXID", "对象ID", BigInt),
    col("XM", "姓名", Varchar(50)),
    col("SFZH", "身份证号", Varchar(20)),
    col("XZQHDM", "区划代码", Varchar(12)),
    col("ZZ", "住址", Varchar(200)),
    col("LXDH", "联系电话", Varchar(20)),
    col("YHZH", "银行账号", Varchar(30)),
    col("KHYH", "开户银行", Varchar(100)),
    col("HZSFZH", "户主身份证号", Varchar(20)),
    col("DXZT", "对象状态", Varchar(2)),
    col("SWRQ", "死亡日期", Varchar(20)),
    col("CJSJ", "创建时间", DateTime),
    col("GXSJ", "更新时间", DateTime),
];
const T_FFPC: &[LegacyColumn] = &[
    col("PCID", "批次ID", BigInt),
    col("PCH", "批次号", Varchar(40)),
    col("XZQHDM", "区划代码", Varchar(12)),
    col("XMDM", "项目代码", Varchar(10)),
    col("ND", "资金年度", Varchar(8)),
    col("ZBID", "指标ID", BigInt),
    col("QH", "期号", Varchar(6)),
    col("GSKSRQ", "公示开始日期", Varchar(20)),
    col("GSJSRQ", "公示结束日期", Varchar(20)),
    col("PCZT", "批次状态", Varchar(2)),
    col("ZRS", "总人数", Int),
    col("ZJE", "总金额", Varchar(20)),
    col("LRR", "录入人", Varchar(30)),
    col("SHR", "审核人", Varchar(30)),
    col("CJSJ", "创建时间", DateTime),
    col("GXSJ", "更新时间", DateTime),
];
const T_FFMX: &[LegacyColumn] = &[
    col("MXID", "明细ID", BigInt),
    col("PCID", "批次ID", BigInt),
    col("DXID", "对象ID", BigInt),
    col("XMDM", "项目代码", Varchar(10)),
    col("ND", "资金年度", Varchar(8)),
    col("SL", "数量", Varchar(20)),
    col("JE", "金额", Varchar(20)),
    col("YHZH", "银行账号", Varchar(30)),
    col("FFZT", "发放状态", Varchar(2)),
    col("FFRQ", "发放日期", Varchar(20)),
    col("YHLSH", "银行流水号", Varchar(40)),
    col("SBYY", "失败原因", Varchar(200)),
    col("YMXID", "原明细ID", BigInt),
    col("GXSJ", "更新时间", DateTime),
];
const T_YH: &[LegacyColumn] = &[
    col("YHID", "用户ID", BigInt),
    col("DLM", "登录名", Varchar(30)),
    col("XM", "姓名", Varchar(50)),
    col("SFZH", "身份证号", Varchar(20)),
    col("DWMC", "单位名称", Varchar(100)),
    col("XZQHDM", "区划代码", Varchar(12)),
    col("JS", "角色", Varchar(2)),
    col("GW", "岗位", Varchar(2)),
    col("ZT", "状态", Char(1)),
];

/// The seven legacy tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LegacyTable {
    Regions,
    Programs,
    Allocations,
    Beneficiaries,
    Batches,
    Payments,
    Users,
}

impl LegacyTable {
    /// All tables, in dependency order (referenced tables first).
    pub const ALL: [LegacyTable; 7] = [
        LegacyTable::Regions,
        LegacyTable::Programs,
        LegacyTable::Allocations,
        LegacyTable::Beneficiaries,
        LegacyTable::Batches,
        LegacyTable::Payments,
        LegacyTable::Users,
    ];

    /// The SQL table name, e.g. `T_FFMX`.
    pub const fn name(self) -> &'static str {
        match self {
            LegacyTable::Regions => "T_XZQH",
            LegacyTable::Programs => "T_BTXM",
            LegacyTable::Allocations => "T_ZJZB",
            LegacyTable::Beneficiaries => "T_BTDX",
            LegacyTable::Batches => "T_FFPC",
            LegacyTable::Payments => "T_FFMX",
            LegacyTable::Users => "T_YH",
        }
    }

    /// The table for a SQL name (case-insensitive), e.g. `t_ffmx`.
    pub fn from_name(name: &str) -> Option<LegacyTable> {
        Self::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name))
    }

    /// The Chinese caption of the table, e.g. `发放明细`.
    pub const fn caption(self) -> &'static str {
        match self {
            LegacyTable::Regions => "行政区划",
            LegacyTable::Programs => "补贴项目",
            LegacyTable::Allocations => "资金指标",
            LegacyTable::Beneficiaries => "补贴对象",
            LegacyTable::Batches => "发放批次",
            LegacyTable::Payments => "发放明细",
            LegacyTable::Users => "用户",
        }
    }

    /// The export file name, e.g. `T_FFMX.csv`.
    pub fn file_name(self) -> String {
        format!("{}.csv", self.name())
    }

    /// The columns, in table order.
    #[inline]
    pub const fn columns(self) -> &'static [LegacyColumn] {
        match self {
            LegacyTable::Regions => T_XZQH,
            LegacyTable::Programs => T_BTXM,
            LegacyTable::Allocations => T_ZJZB,
            LegacyTable::Beneficiaries => T_BTDX,
            LegacyTable::Batches => T_FFPC,
            LegacyTable::Payments => T_FFMX,
            LegacyTable::Users => T_YH,
        }
    }

    /// The primary key column (always the first).
    pub const fn key_column(self) -> &'static LegacyColumn {
        &self.columns()[0]
    }

    /// Whether the primary key is a `BIGINT` (all but the two reference tables).
    pub const fn has_numeric_key(self) -> bool {
        matches!(self.columns()[0].kind, ColumnKind::BigInt)
    }

    /// Index of a column by name. Inlined: called with a table and a name the compiler knows
    /// (as the transform does for every cell it reads), the search folds to a constant; out of
    /// line, it compared names for every cell (6 % of the transform's CPU at the county preset).
    #[inline]
    pub fn column_index(self, name: &str) -> Option<usize> {
        self.columns().iter().position(|c| c.name == name)
    }

    /// Index of the `GXSJ` (last change) column, for tables that have one.
    pub fn change_stamp_index(self) -> Option<usize> {
        self.column_index("GXSJ")
    }
}

/// A `BIGINT` legacy key as the database writes it (`123`, `-5`; never `0123`, `+5`, `-0`,
/// ` 1` or `12a`): its number, else `None`. Allocates nothing: it runs on every legacy row.
pub fn canonical_bigint(raw: &str) -> Option<i64> {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits.len() == 1 || !digits.starts_with('0'))
        && !(digits == "0" && digits.len() < raw.len());
    canonical.then(|| raw.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Read as a number and written back, a canonical key is the same text: two readings.
        #[test]
        fn a_canonical_key_is_its_number_written_back(
            raw in "[-+ ]?0?[0-9]{0,19}|-?922337203685477580[0-9]|.{0,6}"
        ) {
            let written_back = raw.parse::<i64>().ok().filter(|n| n.to_string() == raw);
            proptest::prop_assert_eq!(canonical_bigint(&raw), written_back);
        }
    }

    #[test]
    fn every_table_has_its_key_first_and_unique_columns() {
        for table in LegacyTable::ALL {
            let cols = table.columns();
            let mut names: Vec<_> = cols.iter().map(|c| c.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), cols.len(), "{}", table.name());
            assert_eq!(
                LegacyTable::from_name(&table.name().to_lowercase()),
                Some(table)
            );
        }
        assert_eq!(LegacyTable::Payments.change_stamp_index(), Some(13));
        assert_eq!(LegacyTable::Users.change_stamp_index(), None);
    }
}
