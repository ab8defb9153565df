//! Routing of payment operations by phase and fund year (`cutover-policy.md` § Routing). The
//! legacy guards enforce the same rule in the database: `legacy_may_write` is both.

use crate::{Phase, Policy};

/// Which system takes an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    Legacy,
    New,
}

impl System {
    pub const fn name(self) -> &'static str {
        match self {
            System::Legacy => "legacy",
            System::New => "new",
        }
    }
}

/// A payment operation (兑付): a new batch, a new line, a status change from the bank's return
/// file, or paying a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    NewBatch,
    NewLine,
    BankReturn,
    Pay,
}

impl Operation {
    pub const ALL: [Operation; 4] = [
        Operation::NewBatch,
        Operation::NewLine,
        Operation::BankReturn,
        Operation::Pay,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Operation::NewBatch => "new_batch",
            Operation::NewLine => "new_line",
            Operation::BankReturn => "bank_return",
            Operation::Pay => "pay",
        }
    }

    /// The English name, or the Chinese one (新建批次, 新增明细, 银行回盘, 发放).
    pub fn parse(text: &str) -> Option<Operation> {
        let text = text.trim();
        Operation::ALL.into_iter().find(|o| {
            o.name() == text
                || matches!(
                    (o, text),
                    (Operation::NewBatch, "新建批次")
                        | (Operation::NewLine, "新增明细")
                        | (Operation::BankReturn, "银行回盘")
                        | (Operation::Pay, "发放")
                )
        })
    }
}

/// Where an operation goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    To(System),
    /// No system may take it now; the reason in Chinese and English.
    Refused(String),
}

/// A fund year as `mapping-rules.md` reads it (the transform's own rule): trimmed, a trailing 年
/// dropped, `YY` = 20YY, four digits 2000–2030.
pub fn fund_year(raw: &str) -> Option<i32> {
    ykt_domain::rules::fund_year(Some(raw))
        .ok()
        .map(|y| i32::from(y.value))
}

/// Whether legacy may write a batch or payment line of this fund year: the rule of the
/// legacy guard. Open: anything; paused and frozen: nothing; dual-run: fund years up to the
/// routing year (an unreadable year is not provably old, so it is refused).
pub fn legacy_may_write(policy: &Policy, phase: Phase, year: Option<i32>) -> bool {
    match phase {
        Phase::Open => true,
        Phase::Paused | Phase::Frozen => false,
        Phase::DualRun => year.is_some_and(|y| y <= policy.legacy_max_fund_year),
    }
}

/// Where a payment operation of this fund year goes at this phase.
pub fn route(policy: &Policy, phase: Phase, _operation: Operation, year: Option<i32>) -> Route {
    if legacy_may_write(policy, phase, year) {
        return Route::To(System::Legacy);
    }
    match (phase, year) {
        (Phase::Paused, _) => Route::Refused(
            "暂停期：旧系统停止一切写入，新平台尚未开始办理发放 | paused: legacy takes no writes and the new platform is not live yet".to_owned(),
        ),
        (_, None) => Route::Refused(
            "资金年度无法识别，不能确定由哪个系统办理 | the fund year does not read as a year, so no system can take it".to_owned(),
        ),
        _ => Route::To(System::New),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_phase_and_year() {
        let p = Policy::default();
        let r = |phase, year: &str| route(&p, phase, Operation::NewLine, fund_year(year));
        assert_eq!(r(Phase::Open, "2020"), Route::To(System::Legacy));
        assert!(matches!(r(Phase::Paused, "2019"), Route::Refused(_)));
        assert_eq!(r(Phase::DualRun, "2019"), Route::To(System::Legacy));
        assert_eq!(r(Phase::DualRun, "19年"), Route::To(System::Legacy));
        assert_eq!(r(Phase::DualRun, "2020"), Route::To(System::New));
        assert!(matches!(r(Phase::DualRun, "20l9"), Route::Refused(_)));
        assert_eq!(r(Phase::Frozen, "2018"), Route::To(System::New));
        assert_eq!(Operation::parse("银行回盘"), Some(Operation::BankReturn));
        assert_eq!(fund_year(" 2019 "), Some(2019));
        assert_eq!(fund_year("1999"), None);
    }
}
