//! `ykt users check|import`: the user forms of the provincial notice.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use ykt_domain::Regions;
use ykt_users::{
    FormSet, Townships, check, cross_check, import, read_forms, read_legacy_users,
    townships_from_legacy,
};

use super::{Classify, Failure, input};

/// Check and import the user forms (用户信息采集表, 附件 1-2 and 1-3 of 陕财办〔2020〕70号).
///
/// Each city and county sends two forms listing the people who will use the platform:
///   财政用户信息采集表 (finance users): 业务科（股）室 | 市县 | 姓名 | 身份证号 | 岗位
///   部门用户信息采集表 (department users): 业务主管部门名称 | 市县(乡镇) | 姓名 | 身份证号 | 岗位
/// as .xlsx (every sheet holding a form is read) or .csv (GBK or UTF-8). Title rows, the
/// notice's example rows (与财政云一致，全称 / XX县 / 610xxxx…) and empty rows are skipped.
/// 岗位 may be written 01（录入岗）, 01 (录入岗), 01 or 录入岗 (and likewise 02 审核岗).
///
/// The rules (cutover-policy.md):
///   财政用户: each 科（股）室, named in full as in 财政云, has one or more 录入岗 (01) and
///             exactly one 审核岗 (02).
///   部门用户: each department has, in principle, one 录入岗 per 乡镇 (a warning when not),
///             and one 录入岗 plus one 审核岗 per county and per city.
///   Everyone: a valid ID number (the migration's rules), one post in one unit, and appears
///             once across all forms. 市县 must be a Shaanxi city or county name (榆阳区 →
///             610802); a 乡镇 is written under its county (榆阳区镇川镇), or alone in a form
///             about one county.
///
/// Violations are printed in Chinese with file, sheet, row and cell.
///
/// 说明（系统管理员）：
///   1. 收齐本市县的财政、部门用户信息采集表（Excel 或 CSV 均可，示例行不删也可以）。
///   2. 运行 `ykt users check 表1.xlsx 表2.csv`，按提示的文件、行号、单元格逐条改正。
///      “错误”必须改正；“提示（原则性要求）”确认无误后可以保留。
///   3. 运行 `ykt users import --target 平台数据库 表1.xlsx 表2.csv` 创建账号；
///      每个县（区）得到一份账号清单 ykt-users/<区划代码>/accounts.xlsx（身份证号已脱敏）。
///      重复导入同一批表不会重复建号。
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
#[command(after_help = super::examples::USERS)]
pub struct UsersArgs {
    #[command(subcommand)]
    action: UsersAction,
}

#[derive(Debug, Subcommand)]
enum UsersAction {
    /// Check the forms and print every violation. Exit 1 when any rule is broken.
    Check(CheckArgs),
    /// Create the platform users from the forms (refused while errors remain), and write an
    /// account list per county for its administrator (ID numbers masked). Importing the same
    /// forms again changes nothing.
    Import(ImportArgs),
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// The filled-in forms (.xlsx or .csv).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The legacy database: township codes for 乡镇 names, and a cross-check with its users
    /// (T_YH): legacy users missing from the forms, people listed under another unit.
    #[arg(long, value_name = "URL")]
    legacy: Option<String>,
}

#[derive(Debug, Args)]
struct ImportArgs {
    #[command(flatten)]
    check: CheckArgs,
    /// The new platform: postgres://… or sqlite://FILE. Default: $YKT_TARGET_URL, else `[databases] target` in ykt.toml.
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// Import although "in principle" rules (原则性要求) are not met. Errors always block.
    #[arg(long)]
    accept_warnings: bool,
    /// Where to write the account lists (<DIR>/<county>/accounts.xlsx).
    #[arg(long, value_name = "DIR", default_value = "ykt-users")]
    out: PathBuf,
}

async fn checked(args: &CheckArgs) -> Result<FormSet, Failure> {
    for f in &args.files {
        if !f.is_file() {
            return Err(input(format!("the form {} does not exist", f.display())));
        }
    }
    let read = read_forms(&args.files).classify()?;
    let townships = match &args.legacy {
        Some(url) => townships_from_legacy(&url.parse::<ykt_db::DbUrl>().classify()?)
            .await
            .classify()?,
        None => Townships::default(),
    };
    let today = chrono::Local::now().date_naive();
    let set = check(read, &Regions::shaanxi(), &townships, today);
    for v in &set.violations {
        println!("{v}");
    }
    if let Some(url) = &args.legacy {
        let legacy = read_legacy_users(&url.parse::<ykt_db::DbUrl>().classify()?, today)
            .await
            .classify()?;
        let notes = cross_check(&set, &legacy);
        if !notes.is_empty() {
            println!("与旧系统用户核对：");
            for n in &notes {
                println!("  {n}");
            }
        }
    }
    if !set.note_rows.is_empty() {
        println!("跳过的说明、表尾和签字行：");
        for (file, sheet, row, text) in &set.note_rows {
            println!("  {file} {sheet} 第 {row} 行：{text}");
        }
    }
    println!(
        "共 {} 人；错误 {} 条，原则性提示 {} 条；跳过示例行 {} 行，说明和表尾行 {} 行。",
        set.entries.len(),
        set.errors(),
        set.warnings(),
        set.example_rows,
        set.note_rows.len()
    );
    Ok(set)
}

pub async fn run(ctx: &ykt_cutover::Context, args: UsersArgs) -> Result<ExitCode, Failure> {
    match args.action {
        UsersAction::Check(args) => {
            let set = checked(&args).await?;
            Ok(if set.violations.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        UsersAction::Import(args) => {
            let set = checked(&args.check).await?;
            if set.errors() > 0 {
                println!(
                    "有 {} 条错误，未导入：请改正采集表后重新导入。",
                    set.errors()
                );
                return Ok(ExitCode::from(1));
            }
            if set.warnings() > 0 && !args.accept_warnings {
                println!(
                    "有 {} 条原则性提示，未导入：确认无误后加 --accept-warnings 导入。",
                    set.warnings()
                );
                return Ok(ExitCode::from(1));
            }
            let target = super::required_url(ctx, &args.target, super::DbRole::Target)?;
            let write = super::open_target_for_writing(&target, "users", true, None).await?;
            let db = &write.db;
            ykt_load::apply_migrations(db).await.classify()?;
            let report = import(db, &set, &args.out).await.classify()?;
            db.close().await;
            println!(
                "新建 {} 个用户，更新 {} 个，未变 {} 个。",
                report.created, report.updated, report.unchanged
            );
            for p in &report.account_lists {
                println!("账号清单：{}", p.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
