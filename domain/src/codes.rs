//! The codes that name every decision of the mapping rules (`mapping-rules.md`).
//!
//! County finance and auditors read these codes in the reports, so the spelling is part of the
//! product. Each code carries its Chinese explanation; a reject also says what the county must do.

use serde::{Deserialize, Serialize};

macro_rules! codes {
    (
        $(#[$meta:meta])* $name:ident {
            $( $variant:ident = $code:literal, $zh:literal $(, $action:literal)? ; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(
                #[doc = $zh]
                #[serde(rename = $code)]
                $variant,
            )+
        }

        impl $name {
            /// Every code, in the order the spec lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The code as written in the spec, e.g. `R_ID_CHECKSUM`.
            pub const fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// What the code means, in Chinese, for a county clerk.
            pub const fn explanation(self) -> &'static str {
                match self { $($name::$variant => $zh),+ }
            }

            /// The code for its spelling, e.g. `"R_ID_CHECKSUM"`.
            pub fn from_code(code: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|c| c.code() == code)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

codes! {
    /// Why a legacy row was not loaded (`R_…`). A rejected row is quarantined for the county
    /// to fix at the source; a re-run picks it up.
    RejectCode {
        IdInvalid = "R_ID_INVALID", "身份证号格式无效（位数、字符或出生日期不正确）";
        IdChecksum = "R_ID_CHECKSUM", "身份证号校验位错误（可能录入时输错了某一位）";
        NameMissing = "R_NAME_MISSING", "姓名为空";
        RegionUnknown = "R_REGION_UNKNOWN", "区划代码不存在（既不是现行代码，也不在撤并对照表中）";
        AmountInvalid = "R_AMOUNT_INVALID", "金额无法识别（为空、NULL、含有非数字字符，或超出系统可保存的范围）";
        AmountPrecision = "R_AMOUNT_PRECISION", "金额超过两位小数（不做四舍五入）";
        AmountNonpositive = "R_AMOUNT_NONPOSITIVE", "金额为零或负数";
        DateInvalid = "R_DATE_INVALID", "已发放（或失败、退回、重发）的明细缺少有效的发放日期";
        YearInvalid = "R_YEAR_INVALID", "资金年度无效（应为 2000–2030 年）";
        StatusUnknown = "R_STATUS_UNKNOWN", "状态代码不在规定范围内";
        ProgramUnknown = "R_PROGRAM_UNKNOWN", "补贴项目代码在项目表中不存在";
        OrphanBatch = "R_ORPHAN_BATCH", "发放明细所属的批次不存在";
        BatchRejected = "R_BATCH_REJECTED", "发放明细所属的批次未通过校验，随批次一并暂缓迁移";
        OrphanBeneficiary = "R_ORPHAN_BENEFICIARY", "发放明细对应的补贴对象不存在";
        BeneficiaryRejected = "R_BENEFICIARY_REJECTED", "发放明细对应的补贴对象未通过校验，随对象一并暂缓迁移";
    }
}

impl RejectCode {
    /// What the county must do about a row rejected with this code, in Chinese.
    pub const fn county_action(self) -> &'static str {
        match self {
            RejectCode::IdInvalid | RejectCode::IdChecksum => {
                "请核对本人身份证原件，在旧系统中更正身份证号后重新迁移"
            }
            RejectCode::NameMissing => "请在旧系统中补录姓名后重新迁移",
            RejectCode::RegionUnknown => "请在旧系统中更正区划代码后重新迁移",
            RejectCode::AmountInvalid
            | RejectCode::AmountPrecision
            | RejectCode::AmountNonpositive => {
                "请对照原始发放凭证（或指标文件）核实金额，在旧系统中更正后重新迁移"
            }
            RejectCode::DateInvalid => "请对照银行回单补录发放日期后重新迁移",
            RejectCode::YearInvalid => "请在旧系统中更正资金年度后重新迁移",
            RejectCode::StatusUnknown => "请核实实际状态，在旧系统中更正后重新迁移",
            RejectCode::ProgramUnknown => "请核实补贴项目，在旧系统中更正项目代码后重新迁移",
            RejectCode::OrphanBatch | RejectCode::OrphanBeneficiary => {
                "请核实该明细是否有效：有效的补录批次或对象后重新迁移，无效的报省级确认"
            }
            RejectCode::BatchRejected | RejectCode::BeneficiaryRejected => {
                "先处理其所属批次或补贴对象的问题，本明细随之重新迁移"
            }
        }
    }
}

codes! {
    /// A deterministic, lossless-in-meaning fix made on the way in (`C_…`), recorded with the
    /// value before and after.
    CorrectionCode {
        IdNormalized = "C_ID_NORMALIZED", "身份证号去除空格、全角转半角、小写 x 改为大写 X";
        Id15Upgraded = "C_ID15_UPGRADED", "15 位身份证号升位为 18 位";
        IdCheckRestored = "C_ID_CHECK_RESTORED", "补回丢失的末位校验码 X";
        NameNormalized = "C_NAME_NORMALIZED", "姓名去除空格，少数民族姓名间隔号统一为“·”";
        RegionRemapped = "C_REGION_REMAPPED", "已撤销的旧区划代码改为现行代码";
        AmountNormalized = "C_AMOUNT_NORMALIZED", "金额去除空格和千分位逗号、全角转半角";
        DateNormalized = "C_DATE_NORMALIZED", "日期统一为 YYYY-MM-DD 格式";
        YearNormalized = "C_YEAR_NORMALIZED", "资金年度统一为四位数字";
        AccountNormalized = "C_ACCOUNT_NORMALIZED", "银行账号去除空格和连字符";
        ValueCleared = "C_VALUE_CLEARED", "无效的非必填值置为空（原值保留在更正记录中）";
        BeneficiaryMerged = "C_BENEFICIARY_MERGED", "同一身份证号的重复登记合并为一人（一人一卡）";
        TextCleaned = "C_TEXT_CLEANED", "去除文本中数据库无法保存的空字符（NUL）";
    }
}

codes! {
    /// Suspicious but real history in loaded data (`A_…`), for auditors. A flag never changes
    /// what is loaded.
    AuditFlag {
        DuplicatePayment = "A_DUPLICATE_PAYMENT", "同一人同一项目同一年度同一期发放两次及以上";
        PaidAfterDeath = "A_PAID_AFTER_DEATH", "死亡日期之后仍有发放";
        SharedAccount = "A_SHARED_ACCOUNT", "同一年度同一账号发放给不同户的多人";
        BatchTotalMismatch = "A_BATCH_TOTAL_MISMATCH", "批次申报的总人数或总金额与明细不符";
        PaidBeforeAnnounced = "A_PAID_BEFORE_ANNOUNCED", "公示期结束前已发放";
        RateMismatch = "A_RATE_MISMATCH", "数量乘以补贴标准不等于发放金额";
        FailedNotReissued = "A_FAILED_NOT_REISSUED", "发放失败后既未重发也未退回国库";
        NameConflict = "A_NAME_CONFLICT", "合并的重复登记姓名不一致";
        ProgramMismatch = "A_PROGRAM_MISMATCH", "明细的补贴项目与所属批次不一致";
        LegacyWriteAfterFreeze = "A_LEGACY_WRITE_AFTER_FREEZE", "旧系统冻结后仍有数据改动";
        DoublePaidAcrossSystems = "A_DOUBLE_PAID_ACROSS_SYSTEMS", "同一明细在新旧两个系统都已发放";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_have_the_right_prefix() {
        for c in RejectCode::ALL {
            assert!(c.code().starts_with("R_"));
            assert_eq!(RejectCode::from_code(c.code()), Some(*c));
            assert!(!c.explanation().is_empty() && !c.county_action().is_empty());
        }
        for c in CorrectionCode::ALL {
            assert!(c.code().starts_with("C_"));
            assert_eq!(CorrectionCode::from_code(c.code()), Some(*c));
        }
        for c in AuditFlag::ALL {
            assert!(c.code().starts_with("A_"));
            assert_eq!(AuditFlag::from_code(c.code()), Some(*c));
        }
        assert_eq!(RejectCode::ALL.len(), 15);
        assert_eq!(CorrectionCode::ALL.len(), 12);
        assert_eq!(AuditFlag::ALL.len(), 11);
    }
}

/// One code as the catalogue lists it: the code, what it means, what the county does.
pub struct CodeEntry {
    pub code: &'static str,
    pub kind: &'static str,
    pub explanation: &'static str,
    pub county_action: Option<&'static str>,
}

/// Every R_, C_ and A_ code, in the spec's order, with its explanation (and, for a reject,
/// what the county does about it): the one list `docs/codes.md` and `ykt explain` come from.
pub fn catalogue() -> Vec<CodeEntry> {
    let rejects = RejectCode::ALL.iter().map(|c| CodeEntry {
        code: c.code(),
        kind: "拒绝（未迁移）",
        explanation: c.explanation(),
        county_action: Some(c.county_action()),
    });
    let corrections = CorrectionCode::ALL.iter().map(|c| CodeEntry {
        code: c.code(),
        kind: "更正（已迁移）",
        explanation: c.explanation(),
        county_action: None,
    });
    let flags = AuditFlag::ALL.iter().map(|c| CodeEntry {
        code: c.code(),
        kind: "审计标记（供核查）",
        explanation: c.explanation(),
        county_action: None,
    });
    rejects.chain(corrections).chain(flags).collect()
}

/// `docs/codes.md`: the catalogue as a Markdown table (a test keeps the file equal to this).
pub fn catalogue_markdown() -> String {
    let mut out = String::from(
        "# 迁移代码一览（R_ 拒绝 · C_ 更正 · A_ 审计标记）\n\n\
         Generated from `domain/src/codes.rs` (`ykt explain --all` prints the same); a test fails\n\
         when this file and the code list differ. Regenerate with\n\
         `ykt explain --all --markdown > docs/codes.md`.\n\n\
         | 代码 | 类别 | 说明 | 县区需做的处理 |\n|---|---|---|---|\n",
    );
    for e in catalogue() {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            e.code,
            e.kind,
            e.explanation,
            e.county_action.unwrap_or("—")
        ));
    }
    out
}

#[cfg(test)]
mod catalogue_tests {
    use super::*;

    #[test]
    fn docs_codes_md_is_the_code_list() {
        let committed = include_str!("../../docs/codes.md");
        assert_eq!(
            committed,
            catalogue_markdown(),
            "docs/codes.md differs from the code list: ykt explain --all --markdown > docs/codes.md"
        );
    }

    #[test]
    fn every_code_is_listed_once() {
        let all = catalogue();
        let mut codes: Vec<&str> = all.iter().map(|e| e.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        assert_eq!(
            all.len(),
            RejectCode::ALL.len() + CorrectionCode::ALL.len() + AuditFlag::ALL.len()
        );
        assert!(all.iter().all(|e| !e.explanation.is_empty()));
    }
}
