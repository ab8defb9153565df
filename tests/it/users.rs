//! `ykt users check|import` on forms built like the notice's tables.

use std::path::{Path, PathBuf};

use rust_xlsxwriter::Workbook;
use ykt_db::Db;
use ykt_domain::id_check_char;

use crate::support::{Server, fresh_database, fresh_sqlite, temp_dir, ykt};

/// A valid ID number for a person born in 榆阳区 (the sequence makes it unique).
fn id(seq: u32) -> String {
    let first17 = format!("61080219800101{seq:03}");
    format!(
        "{first17}{}",
        id_check_char(first17.as_bytes()).unwrap() as char
    )
}

/// The same, with a wrong check character.
fn bad_id(seq: u32) -> String {
    let good = id(seq);
    let last = if good.ends_with('1') { '2' } else { '1' };
    format!("{}{last}", &good[..17])
}

fn finance_xlsx(path: &Path, rows: &[[&str; 5]]) {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("财政用户").unwrap();
    sheet.write_string(0, 0, "财政用户信息采集表").unwrap();
    sheet.write_string(1, 0, "财政操作").unwrap();
    for (c, h) in ["业务科（股）室", "市县", "姓名", "身份证号", "岗位"]
        .iter()
        .enumerate()
    {
        sheet.write_string(2, c as u16, *h).unwrap();
    }
    let examples = [
        [
            "与财政云一致，全称",
            "XX县",
            "张三",
            "610xxxxxxxxxxxxxxxx",
            "01（录入岗）",
        ],
        [
            "与财政云一致，全称",
            "XX县",
            "李四",
            "610xxxxxxxxxxxxxxxx",
            "02（审核岗）",
        ],
    ];
    for (r, row) in examples.iter().chain(rows).enumerate() {
        for (c, v) in row.iter().enumerate() {
            sheet.write_string(3 + r as u32, c as u16, *v).unwrap();
        }
    }
    book.save(path).unwrap();
}

fn department_csv(path: &Path, rows: &[[&str; 5]]) {
    let mut text = String::from(
        "部门用户信息采集表,,,,\r\n部门操作,,,,\r\n业务主管部门名称,市县(乡镇),姓名,身份证号,岗位\r\n",
    );
    text.push_str("\"与财政云一致, 全称\",xx乡镇,XX,610xxxxxxxxxxxxxxxxx,01 (录入岗)\r\n");
    for row in rows {
        text.push_str(&row.join(","));
        text.push_str("\r\n");
    }
    text.push_str(",,,,\r\n,,,,\r\n");
    let (bytes, _, _) = encoding_rs::GBK.encode(&text);
    std::fs::write(path, bytes).unwrap();
}

fn bad_forms(dir: &Path) -> (PathBuf, PathBuf) {
    let (i1, i2, i3, i4, i5, i6, i8, i9, i10) = (
        id(1),
        id(2),
        id(3),
        id(4),
        id(5),
        id(6),
        id(8),
        id(9),
        id(10),
    );
    let wrong = bad_id(7);
    let finance = dir.join("榆阳区财政用户.xlsx");
    finance_xlsx(
        &finance,
        &[
            ["农业股", "榆阳区", "王芳", &i1, "01（录入岗）"],
            ["农业股", "榆阳区", "李强", &i2, "01 (录入岗)"],
            ["农业股", "榆阳区", "赵敏", &i3, "02（审核岗）"],
            ["社保股", "榆阳区", "刘洋", &i4, "01"],
            ["社保股", "榆阳区", "陈静", &i5, "审核岗"],
            ["社保股", "榆阳区", "杨帆", &i6, "02"],
            ["预算股", "榆阳区", "周杰", &wrong, "录入岗"],
        ],
    );
    let department = dir.join("榆阳区部门用户.csv");
    department_csv(
        &department,
        &[
            ["农业农村局", "镇川镇", "孙丽", &i8, "01 (录入岗)"],
            ["农业农村局", "镇川镇", "吴刚", &i9, "01（录入岗）"],
            ["农业农村局", "榆阳区", "郑华", &i10, "01"],
            ["农业农村局", "榆阳区", "王芳", &i1, "02"],
        ],
    );
    (finance, department)
}

#[test]
fn check_reports_exactly_the_broken_rules() {
    let dir = temp_dir("users_check");
    let (finance, department) = bad_forms(&dir);
    let out = ykt(&[
        "users",
        "check",
        finance.to_str().unwrap(),
        department.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with('[')).collect();
    let f = finance.display().to_string();
    let d = department.display().to_string();
    let expected = vec![
        format!(
            "[错误] 文件 {f} · 工作表 财政用户 · 第 9 行：科（股）室“社保股”（榆阳区）有 2 个审核岗（02）（第 10、11 行），应为 1 个"
        ),
        format!(
            "[错误] 文件 {f} · 工作表 财政用户 · 第 12 行：科（股）室“预算股”（榆阳区）有 0 个审核岗（02），应为 1 个"
        ),
        format!(
            "[错误] 文件 {f} · 工作表 财政用户 · 第 12 行 · 单元格 D12：身份证号“{}”无效：身份证号校验位错误（可能录入时输错了某一位）",
            bad_id(7)
        ),
        format!(
            "[提示（原则性要求）] 文件 {d} · 第 5 行：部门“农业农村局”在乡镇“镇川镇”有 2 个录入岗（01）（第 5、6 行），原则上每个乡镇 1 个"
        ),
        format!(
            "[错误] 文件 {d} · 第 8 行 · 单元格 D8：“王芳”（身份证号同 {f} 第 6 行）在采集表中重复出现"
        ),
    ];
    assert_eq!(lines, expected, "\n{stdout}");
    assert!(stdout.contains("跳过示例行 3 行"), "{stdout}");
}

#[test]
fn one_person_two_posts_in_one_unit_and_unknown_regions() {
    let dir = temp_dir("users_two_posts");
    let finance = dir.join("f.xlsx");
    let (a, b) = (id(21), id(22));
    finance_xlsx(
        &finance,
        &[
            ["农业股", "榆阳区", "王芳", &a, "01"],
            ["农业股", "榆阳区", "王芳", &a, "02"],
            ["农业股", "火星县", "李强", &b, "03"],
        ],
    );
    let out = ykt(&["users", "check", finance.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout.contains("第 7 行 · 单元格 D7：“王芳”在同一单位“农业股”担任两个岗位（另见第 6 行）"),
        "{stdout}"
    );
    assert!(
        stdout.contains("单元格 B8：“火星县”不是陕西省现行的市或县（区）名称"),
        "{stdout}"
    );
    assert!(stdout.contains("单元格 E8：岗位“03”无法识别"), "{stdout}");
}

fn good_forms(dir: &Path) -> (PathBuf, PathBuf) {
    let finance = dir.join("finance.xlsx");
    let ids: Vec<String> = (31..40).map(id).collect();
    finance_xlsx(
        &finance,
        &[
            ["农业股", "榆阳区", "王芳", &ids[0], "01（录入岗）"],
            ["农业股", "榆阳区", "王芳", &ids[1], "01（录入岗）"],
            ["农业股", "榆阳区", "赵敏", &ids[2], "02（审核岗）"],
            ["农业科", "榆林市", "钱进", &ids[3], "01"],
            ["农业科", "榆林市", "孙悦", &ids[4], "02"],
        ],
    );
    let department = dir.join("department.csv");
    department_csv(
        &department,
        &[
            ["农业农村局", "榆阳区镇川镇", "吴刚", &ids[5], "01 (录入岗)"],
            ["农业农村局", "榆阳区", "郑华", &ids[6], "01"],
            ["农业农村局", "榆阳区", "冯雪", &ids[7], "02"],
        ],
    );
    (finance, department)
}

async fn import_is_idempotent(target: ykt_db::DbUrl, test: &str) {
    let dir = temp_dir(test);
    let (finance, department) = good_forms(&dir);
    let out_dir = dir.join("accounts");
    let args = [
        "users",
        "import",
        "--target",
        target.expose(),
        "--out",
        out_dir.to_str().unwrap(),
        finance.to_str().unwrap(),
        department.to_str().unwrap(),
    ];
    let first = ykt(&args);
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        stdout.contains("新建 8 个用户，更新 0 个，未变 0 个"),
        "{stdout}"
    );
    let db = Db::connect(&target).await.unwrap();
    let dump = |db: Db| async move {
        let rows = db.fetch_text_rows("users", "SELECT CAST(id AS TEXT), login, name, id_number, unit_name, region_code, role, post FROM platform_user ORDER BY id").await.unwrap();
        db.close().await;
        rows
    };
    let before = dump(db).await;
    let logins: Vec<&str> = before.iter().map(|r| r[1].as_deref().unwrap()).collect();
    assert!(
        logins.contains(&"610802wangfang") && logins.contains(&"610802wangfang2"),
        "unique logins: {logins:?}"
    );
    assert!(logins.contains(&"610800qianjin"), "a city user: {logins:?}");
    let second = ykt(&args);
    assert!(
        String::from_utf8_lossy(&second.stdout).contains("新建 0 个用户，更新 0 个，未变 8 个")
    );
    assert_eq!(
        dump(Db::connect(&target).await.unwrap()).await,
        before,
        "a re-import changes nothing"
    );

    // The account list of 榆阳区 masks ID numbers.
    use calamine::{Reader, open_workbook_auto};
    let mut book = open_workbook_auto(out_dir.join("610802").join("accounts.xlsx")).unwrap();
    let range = book.worksheet_range("账号清单").unwrap();
    let cells: Vec<String> = range.rows().skip(1).map(|r| r[3].to_string()).collect();
    assert_eq!(cells.len(), 6);
    assert!(
        cells
            .iter()
            .all(|c| c.len() == 18 && c.contains("********")),
        "{cells:?}"
    );
    assert!(out_dir.join("610800").join("accounts.xlsx").exists());
}

#[tokio::test]
async fn import_into_sqlite_is_idempotent() {
    import_is_idempotent(
        fresh_sqlite("users_import_sqlite", "platform.sqlite"),
        "users_import_sqlite",
    )
    .await;
}

#[tokio::test]
async fn import_into_postgres_is_idempotent() {
    if let Some(url) = fresh_database(Server::Postgres, "users_import").await {
        import_is_idempotent(url, "users_import_pg").await;
    }
}

#[test]
fn import_refuses_warnings_unless_accepted_and_errors_always() {
    let dir = temp_dir("users_refuse");
    let (finance, department) = bad_forms(&dir);
    let target = fresh_sqlite("users_refuse", "platform.sqlite");
    let out = ykt(&[
        "users",
        "import",
        "--target",
        target.expose(),
        "--accept-warnings",
        finance.to_str().unwrap(),
        department.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("条错误，未导入"));

    let ids: Vec<String> = (51..54).map(id).collect();
    let only_warning = dir.join("warn.csv");
    department_csv(
        &only_warning,
        &[
            ["农业农村局", "榆阳区镇川镇", "孙丽", &ids[0], "01"],
            ["农业农村局", "榆阳区镇川镇", "吴刚", &ids[1], "01"],
        ],
    );
    let acc = dir.join("acc");
    let args = [
        "users",
        "import",
        "--target",
        target.expose(),
        "--out",
        acc.to_str().unwrap(),
        only_warning.to_str().unwrap(),
    ];
    let out = ykt(&args);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("--accept-warnings"));
    let mut accepted = args.to_vec();
    accepted.push("--accept-warnings");
    let out = ykt(&accepted);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn cross_check_with_legacy_users() {
    let dir = temp_dir("users_legacy");
    let legacy = fresh_sqlite("users_legacy", "legacy.sqlite");
    crate::support::ykt_ok(&[
        "generate",
        "--county",
        "610802",
        "--beneficiaries-per-county",
        "30",
        "--legacy",
        legacy.expose(),
    ]);
    let (finance, _) = good_forms(&dir);
    let out = ykt(&[
        "users",
        "check",
        "--legacy",
        legacy.expose(),
        finance.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("与旧系统用户核对"), "{stdout}");
    // The simulator's six users of 榆阳区 are not in the forms.
    assert_eq!(
        stdout.matches("未出现在 610802 的采集表中").count(),
        6,
        "{stdout}"
    );
}
