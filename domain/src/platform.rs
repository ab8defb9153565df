//! New-platform rows (`new-platform.md`), as the transform stage produces them and the load
//! stage writes them. Every migrated row keeps the legacy key it came from.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::Money;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal / $chinese:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value stored in the platform's TEXT column.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// What county staff call it.
            pub const fn chinese(self) -> &'static str {
                match self { $($name::$variant => $chinese),+ }
            }

            pub fn parse(text: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str() == text)
            }
        }

        impl Cell for $name {
            fn cell(&self) -> Option<String> {
                Some(self.as_str().to_owned())
            }

            fn from_cell(cell: Option<&str>) -> Result<Self, String> {
                let text = cell.ok_or("NULL")?;
                $name::parse(text).ok_or_else(|| format!("{text:?} is not a {}", stringify!($name)))
            }
        }
    };
}

/// A platform row as the stage holds it and the load writes it: one text cell per column,
/// `None` for NULL. The one conversion from the typed row; the columns are its fields.
pub trait PlatformRow {
    /// The platform table (the staged file's name).
    const TABLE: &'static str;
    /// Its columns, in the order of [`PlatformRow::cells`]: the SQL column names.
    const COLUMNS: &'static [&'static str];
    fn cells(&self) -> Vec<Option<String>>;
    /// The row back from cells named by `columns` (a staged file's header, in any order): the
    /// other conversion, so a reader of the stage gets the type the transform wrote.
    fn from_cells(columns: &[String], cells: &[Option<String>]) -> Result<Self, RowError>
    where
        Self: Sized;
}

/// A staged row that does not read back as its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{table}.{column}: {problem}")]
pub struct RowError {
    pub table: &'static str,
    pub column: &'static str,
    pub problem: String,
}

/// A value as a staged text cell, and back: numbers and money as written by `Display` (money
/// is already two decimals), days as `YYYY-MM-DD`, enums as the platform's text, `None` for
/// NULL.
pub trait Cell: Sized {
    fn cell(&self) -> Option<String>;
    fn from_cell(cell: Option<&str>) -> Result<Self, String>;
}

macro_rules! display_cell {
    ($($t:ty),+) => {
        $(impl Cell for $t {
            fn cell(&self) -> Option<String> {
                Some(self.to_string())
            }

            fn from_cell(cell: Option<&str>) -> Result<Self, String> {
                let text = cell.ok_or("NULL")?;
                text.parse()
                    .map_err(|_| format!("{text:?} is not a {}", stringify!($t)))
            }
        })+
    };
}
display_cell!(String, i16, i32, i64);

impl Cell for Money {
    fn cell(&self) -> Option<String> {
        Some(self.to_string())
    }

    /// A decimal read exactly (never rounded): amounts, rates and quantities.
    fn from_cell(cell: Option<&str>) -> Result<Self, String> {
        let text = cell.ok_or("NULL")?;
        crate::parse_money(text).ok_or_else(|| format!("{text:?} is not an exact decimal"))
    }
}

impl Cell for NaiveDate {
    fn cell(&self) -> Option<String> {
        use chrono::Datelike;
        Some(format!(
            "{:04}-{:02}-{:02}",
            self.year(),
            self.month(),
            self.day()
        ))
    }

    fn from_cell(cell: Option<&str>) -> Result<Self, String> {
        let text = cell.ok_or("NULL")?;
        NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| format!("{text:?} is not a day"))
    }
}

impl<T: Cell> Cell for Option<T> {
    fn cell(&self) -> Option<String> {
        self.as_ref().and_then(Cell::cell)
    }

    fn from_cell(cell: Option<&str>) -> Result<Self, String> {
        cell.map(|c| T::from_cell(Some(c))).transpose()
    }
}

/// A platform row type: the struct, its table, its columns (the field names, in order) and
/// its cells.
macro_rules! platform_row {
    (
        $(#[$meta:meta])* $name:ident = $table:literal {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty ),+
        }

        impl PlatformRow for $name {
            const TABLE: &'static str = $table;
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];
            fn cells(&self) -> Vec<Option<String>> {
                vec![$(Cell::cell(&self.$field)),+]
            }

            fn from_cells(columns: &[String], cells: &[Option<String>]) -> Result<Self, RowError> {
                let cell = |column: &'static str| -> Result<Option<&str>, RowError> {
                    let i = columns.iter().position(|c| c == column).ok_or(RowError {
                        table: $table,
                        column,
                        problem: "no such column".to_owned(),
                    })?;
                    Ok(cells.get(i).and_then(|c| c.as_deref()))
                };
                Ok($name {
                    $($field: Cell::from_cell(cell(stringify!($field))?).map_err(|problem| RowError {
                        table: $table,
                        column: stringify!($field),
                        problem,
                    })?),+
                })
            }
        }
    };
}

text_enum! {
    /// `program.basis` (legacy BZLX 1–4).
    Basis {
        Area = "area" / "按面积", Person = "person" / "按人", Household = "household" / "按户",
        Fixed = "fixed" / "定额",
    }
}

impl Basis {
    /// Legacy BZLX codes.
    pub const LEGACY: &'static [(&'static str, Basis)] = &[
        ("1", Basis::Area),
        ("2", Basis::Person),
        ("3", Basis::Household),
        ("4", Basis::Fixed),
    ];
}

impl BeneficiaryStatus {
    /// Legacy DXZT codes.
    pub const LEGACY: &'static [(&'static str, BeneficiaryStatus)] = &[
        ("1", BeneficiaryStatus::Active),
        ("2", BeneficiaryStatus::Suspended),
        ("9", BeneficiaryStatus::Deceased),
    ];
}

impl BatchStatus {
    /// Legacy PCZT codes.
    pub const LEGACY: &'static [(&'static str, BatchStatus)] = &[
        ("0", BatchStatus::Entered),
        ("1", BatchStatus::Reviewed),
        ("2", BatchStatus::Announcing),
        ("3", BatchStatus::Announced),
        ("4", BatchStatus::Sent),
        ("5", BatchStatus::Returned),
        ("9", BatchStatus::Void),
    ];
}

/// The platform's name for a legacy status code of `table` (DXZT, PCZT or FFZT), when the code
/// is one of the spec's codes for that table; `None` for any other code or table.
pub fn legacy_status_name(table: crate::LegacyTable, code: &str) -> Option<&'static str> {
    fn find<T: Copy>(
        map: &[(&str, T)],
        code: &str,
        name: fn(T) -> &'static str,
    ) -> Option<&'static str> {
        map.iter()
            .find(|(legacy, _)| *legacy == code)
            .map(|&(_, value)| name(value))
    }
    match table {
        crate::LegacyTable::Beneficiaries => {
            find(BeneficiaryStatus::LEGACY, code, BeneficiaryStatus::as_str)
        }
        crate::LegacyTable::Batches => find(BatchStatus::LEGACY, code, BatchStatus::as_str),
        crate::LegacyTable::Payments => find(PaymentStatus::LEGACY, code, PaymentStatus::as_str),
        _ => None,
    }
}

impl PaymentStatus {
    /// Legacy FFZT codes.
    pub const LEGACY: &'static [(&'static str, PaymentStatus)] = &[
        ("0", PaymentStatus::Pending),
        ("1", PaymentStatus::Paid),
        ("2", PaymentStatus::Failed),
        ("3", PaymentStatus::Refunded),
        ("4", PaymentStatus::Reissued),
    ];
}
text_enum! {
    /// `beneficiary.status` (legacy DXZT 1, 2, 9).
    BeneficiaryStatus {
        Active = "active" / "正常", Suspended = "suspended" / "暂停", Deceased = "deceased" / "死亡",
    }
}
text_enum! {
    /// `payment_batch.status` (legacy PCZT 0–5, 9).
    BatchStatus {
        Entered = "entered" / "录入", Reviewed = "reviewed" / "已审核",
        Announcing = "announcing" / "公示中", Announced = "announced" / "已公示",
        Sent = "sent" / "已报送银行", Returned = "returned" / "已回盘", Void = "void" / "作废",
    }
}
text_enum! {
    /// `payment.status` (legacy FFZT 0–4).
    PaymentStatus {
        Pending = "pending" / "待发放", Paid = "paid" / "已发放", Failed = "failed" / "发放失败",
        Refunded = "refunded" / "已退回国库", Reissued = "reissued" / "已重发",
    }
}
text_enum! {
    /// `payment.system_of_record`: which system may still change the line.
    SystemOfRecord { Legacy = "legacy" / "旧系统", New = "new" / "新平台" }
}
text_enum! {
    /// `platform_user.role` (legacy JS CZ, BM, XZ, GL).
    Role {
        Finance = "finance" / "财政", Department = "department" / "主管部门",
        Township = "township" / "乡镇", Admin = "admin" / "管理员",
    }
}

platform_row! {
    /// `region`: the reference's regions, legacy's own names kept below county level.
    Region = "region" {
        code: String,
        name: String,
        level: i16,
        parent_code: Option<String>,
    }
}

platform_row! {
    /// `program`: a reference table; a basis or rate that does not read is cleared.
    Program = "program" {
        code: String,
        name: String,
        department: String,
        basis: Option<Basis>,
        rate: Option<Money>,
    }
}

platform_row! {
    /// `allocation`, one per legacy T_ZJZB row loaded.
    Allocation = "allocation" {
        id: i64,
        county_code: String,
        program_code: String,
        fund_year: i16,
        doc_no: Option<String>,
        amount: Money,
        issued_on: Option<NaiveDate>,
        legacy_zbid: i64,
    }
}

platform_row! {
    /// `beneficiary`: one per person (the survivor of a merge keeps its own DXID as id).
    Beneficiary = "beneficiary" {
        id: i64,
        id_number: String,
        name: String,
        county_code: String,
        area_code: Option<String>,
        address: Option<String>,
        phone: Option<String>,
        account_no: Option<String>,
        bank_name: Option<String>,
        household_head_id_number: Option<String>,
        status: BeneficiaryStatus,
        deceased_on: Option<NaiveDate>,
    }
}

platform_row! {
    /// `beneficiary_legacy_map`: every loaded or merged DXID and the person it became.
    BeneficiaryLegacyMap = "beneficiary_legacy_map" {
        legacy_dxid: i64,
        beneficiary_id: i64,
    }
}

platform_row! {
    /// `payment_batch`, one per legacy T_FFPC row loaded.
    PaymentBatch = "payment_batch" {
        id: i64,
        batch_no: String,
        county_code: String,
        program_code: String,
        fund_year: i16,
        period: Option<String>,
        allocation_id: Option<i64>,
        announce_from: Option<NaiveDate>,
        announce_to: Option<NaiveDate>,
        status: BatchStatus,
        declared_count: Option<i32>,
        declared_amount: Option<Money>,
        entered_by: Option<String>,
        reviewed_by: Option<String>,
        legacy_pcid: i64,
    }
}

platform_row! {
    /// `payment`, one per legacy T_FFMX line loaded.
    Payment = "payment" {
        id: i64,
        batch_id: i64,
        beneficiary_id: i64,
        county_code: String,
        program_code: String,
        fund_year: i16,
        quantity: Option<Money>,
        amount: Money,
        account_no: Option<String>,
        status: PaymentStatus,
        paid_on: Option<NaiveDate>,
        bank_serial: Option<String>,
        failure_reason: Option<String>,
        /// The loaded line this one reissues (legacy YMXID), when that line loaded.
        reissue_of: Option<i64>,
        system_of_record: SystemOfRecord,
        legacy_mxid: i64,
    }
}

platform_row! {
    /// A rejected legacy row, as staged (`migration_reject` without the run, which the load
    /// adds).
    RejectRecord = "reject" {
        source_table: String,
        source_key: String,
        county_code: String,
        reason_code: String,
        field: String,
        raw_value: Option<String>,
        detail: String,
        // What the county searches by to find the row at the source (#14), as the legacy row
        // has it: its person (DXID) and batch (PCID), and their own values where the row holds
        // them. Reports fill a line's person and batch in from the target or their own rejects.
        person_key: Option<String>,
        batch_key: Option<String>,
        name: Option<String>,
        id_number: Option<String>,
        area_code: Option<String>,
        batch_no: Option<String>,
        program_code: Option<String>,
        fund_year: Option<String>,
        amount: Option<String>,
    }
}

platform_row! {
    /// A correction made to a legacy value, as staged (`migration_correction` without the run).
    CorrectionRecord = "correction" {
        source_table: String,
        source_key: String,
        county_code: String,
        correction_code: String,
        field: String,
        before: Option<String>,
        after: Option<String>,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformUser {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub id_number: String,
    pub unit_name: String,
    pub region_code: String,
    pub role: Role,
    pub post: Option<String>,
    pub active: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_texts_round_trip() {
        for s in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(BatchStatus::ALL.len(), 7);
        assert_eq!(PaymentStatus::parse("PAID"), None);
    }

    #[test]
    fn a_row_stages_as_one_text_cell_per_column() {
        let line = Payment {
            id: 7,
            batch_id: 3,
            beneficiary_id: 5,
            county_code: "610802".into(),
            program_code: "NY001".into(),
            fund_year: 2020,
            quantity: None,
            amount: Money::new(15000, 2),
            account_no: Some("6217860000000000001".into()),
            status: PaymentStatus::Paid,
            paid_on: NaiveDate::from_ymd_opt(2020, 3, 5),
            bank_serial: None,
            failure_reason: None,
            reissue_of: Some(2),
            system_of_record: SystemOfRecord::New,
            legacy_mxid: 7,
        };
        let cells = line.cells();
        assert_eq!(cells.len(), Payment::COLUMNS.len());
        let cell = |column: &str| {
            let i = Payment::COLUMNS.iter().position(|c| *c == column).unwrap();
            cells[i].clone()
        };
        assert_eq!(cell("amount").as_deref(), Some("150.00"));
        assert_eq!(cell("paid_on").as_deref(), Some("2020-03-05"));
        assert_eq!(cell("status").as_deref(), Some("paid"));
        assert_eq!(cell("quantity"), None);
        assert_eq!(cell("reissue_of").as_deref(), Some("2"));
        assert_eq!(Payment::TABLE, "payment");
        assert_eq!(columns::PAYMENT, Payment::COLUMNS);

        let header: Vec<String> = Payment::COLUMNS.iter().map(|c| c.to_string()).collect();
        assert_eq!(Payment::from_cells(&header, &cells), Ok(line));
        let mut bad = cells.clone();
        let amount = Payment::COLUMNS
            .iter()
            .position(|c| *c == "amount")
            .unwrap();
        bad[amount] = Some("1200.00000000000000000000000001".into());
        let error = Payment::from_cells(&header, &bad).unwrap_err();
        assert_eq!(
            (error.table, error.column),
            ("payment", "amount"),
            "never rounded"
        );
        bad[amount] = None;
        assert_eq!(
            Payment::from_cells(&header, &bad).unwrap_err().problem,
            "NULL"
        );
        let status = Payment::COLUMNS
            .iter()
            .position(|c| *c == "status")
            .unwrap();
        let mut unknown = cells.clone();
        unknown[status] = Some("lost".into());
        assert_eq!(
            Payment::from_cells(&header, &unknown).unwrap_err().column,
            "status"
        );
    }
}

/// What the new platform itself changes on the payment lines it owns once it is live (paying
/// them, bank returns): the row diff leaves these to it, and a delta sync never writes over
/// them.
pub const LIVE_FIELDS: [&str; 4] = ["status", "paid_on", "bank_serial", "failure_reason"];

/// Column names of the platform tables as staged by the transform and loaded by the load
/// stage (the SQL column names). `reject` and `correction` are `migration_reject` and
/// `migration_correction` without `run_id`, which the load stage adds.
pub mod columns {
    use super::*;

    pub const REGION: &[&str] = Region::COLUMNS;
    pub const PROGRAM: &[&str] = Program::COLUMNS;
    pub const ALLOCATION: &[&str] = Allocation::COLUMNS;
    pub const BENEFICIARY: &[&str] = Beneficiary::COLUMNS;
    pub const BENEFICIARY_LEGACY_MAP: &[&str] = BeneficiaryLegacyMap::COLUMNS;
    pub const PAYMENT_BATCH: &[&str] = PaymentBatch::COLUMNS;
    pub const PAYMENT: &[&str] = Payment::COLUMNS;
    pub const REJECT: &[&str] = RejectRecord::COLUMNS;
    pub const CORRECTION: &[&str] = CorrectionRecord::COLUMNS;
}
