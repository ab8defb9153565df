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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    pub code: String,
    pub name: String,
    pub level: i16,
    pub parent_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    pub code: String,
    pub name: String,
    pub department: String,
    pub basis: Basis,
    pub rate: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub id: i64,
    pub county_code: String,
    pub program_code: String,
    pub fund_year: i16,
    pub doc_no: Option<String>,
    pub amount: Money,
    pub issued_on: Option<NaiveDate>,
    pub legacy_zbid: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beneficiary {
    pub id: i64,
    pub id_number: String,
    pub name: String,
    pub county_code: String,
    pub area_code: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub account_no: Option<String>,
    pub bank_name: Option<String>,
    pub household_head_id_number: Option<String>,
    pub status: BeneficiaryStatus,
    pub deceased_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentBatch {
    pub id: i64,
    pub batch_no: String,
    pub county_code: String,
    pub program_code: String,
    pub fund_year: i16,
    pub period: Option<String>,
    pub allocation_id: Option<i64>,
    pub announce_from: Option<NaiveDate>,
    pub announce_to: Option<NaiveDate>,
    pub status: BatchStatus,
    pub declared_count: Option<i32>,
    pub declared_amount: Option<Money>,
    pub entered_by: Option<String>,
    pub reviewed_by: Option<String>,
    pub legacy_pcid: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub id: i64,
    pub batch_id: i64,
    pub beneficiary_id: i64,
    pub county_code: String,
    pub program_code: String,
    pub fund_year: i16,
    pub quantity: Option<Money>,
    pub amount: Money,
    pub account_no: Option<String>,
    pub status: PaymentStatus,
    pub paid_on: Option<NaiveDate>,
    pub bank_serial: Option<String>,
    pub failure_reason: Option<String>,
    pub reissue_of: Option<i64>,
    pub system_of_record: SystemOfRecord,
    pub legacy_mxid: i64,
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
}

/// What the new platform itself changes on the payment lines it owns once it is live (paying
/// them, bank returns): the row diff leaves these to it, and a delta sync never writes over
/// them.
pub const LIVE_FIELDS: [&str; 4] = ["status", "paid_on", "bank_serial", "failure_reason"];

/// Column names of the platform tables as staged by the transform and loaded by the load
/// stage (the SQL column names). `reject` and `correction` are `migration_reject` and
/// `migration_correction` without `run_id`, which the load stage adds.
pub mod columns {
    pub const REGION: &[&str] = &["code", "name", "level", "parent_code"];
    pub const PROGRAM: &[&str] = &["code", "name", "department", "basis", "rate"];
    pub const ALLOCATION: &[&str] = &[
        "id",
        "county_code",
        "program_code",
        "fund_year",
        "doc_no",
        "amount",
        "issued_on",
        "legacy_zbid",
    ];
    pub const BENEFICIARY: &[&str] = &[
        "id",
        "id_number",
        "name",
        "county_code",
        "area_code",
        "address",
        "phone",
        "account_no",
        "bank_name",
        "household_head_id_number",
        "status",
        "deceased_on",
    ];
    pub const BENEFICIARY_LEGACY_MAP: &[&str] = &["legacy_dxid", "beneficiary_id"];
    pub const PAYMENT_BATCH: &[&str] = &[
        "id",
        "batch_no",
        "county_code",
        "program_code",
        "fund_year",
        "period",
        "allocation_id",
        "announce_from",
        "announce_to",
        "status",
        "declared_count",
        "declared_amount",
        "entered_by",
        "reviewed_by",
        "legacy_pcid",
    ];
    pub const PAYMENT: &[&str] = &[
        "id",
        "batch_id",
        "beneficiary_id",
        "county_code",
        "program_code",
        "fund_year",
        "quantity",
        "amount",
        "account_no",
        "status",
        "paid_on",
        "bank_serial",
        "failure_reason",
        "reissue_of",
        "system_of_record",
        "legacy_mxid",
    ];
    pub const REJECT: &[&str] = &[
        "source_table",
        "source_key",
        "county_code",
        "reason_code",
        "field",
        "raw_value",
        "detail",
    ];
    pub const CORRECTION: &[&str] = &[
        "source_table",
        "source_key",
        "county_code",
        "correction_code",
        "field",
        "before",
        "after",
    ];
}
