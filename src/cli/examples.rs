//! The examples under each command's `--help`. The URLs can also come from `YKT_LEGACY_URL` and
//! `YKT_TARGET_URL` (or `[databases]` in ykt.toml), and their passwords from `PGPASSWORD`,
//! `~/.pgpass`, `MYSQL_PWD` or `~/.my.cnf`: the examples leave passwords out.

pub const EXTRACT: &str = "Examples:
  ykt extract --legacy mysql://ykt@10.61.0.5:3306/dfxt --stage /data/ykt-stage
  ykt extract --legacy-export /data/legacy-export --stage /data/ykt-stage";

pub const TRANSFORM: &str = "Examples:
  ykt transform --stage /data/ykt-stage
  ykt transform --stage /data/ykt-stage --as-of 2020-11-10";

pub const LOAD: &str = "Examples:
  ykt load --stage /data/ykt-stage --target postgres://ykt@10.61.0.9:5432/platform
  ykt load --stage /data/ykt-stage --target postgres://ykt@10.61.0.9:5432/platform --resume";

pub const MIGRATE: &str = "Examples:
  ykt migrate --legacy mysql://ykt@10.61.0.5:3306/dfxt --stage /data/ykt-stage \\
      --target postgres://ykt@10.61.0.9:5432/platform
  ykt migrate --legacy mysql://ykt@10.61.0.5:3306/dfxt --stage /data/ykt-stage --dry-run
  export YKT_LEGACY_URL=mysql://ykt@10.61.0.5:3306/dfxt
  export YKT_TARGET_URL=postgres://ykt@10.61.0.9:5432/platform
  ykt migrate --stage /data/ykt-stage --resume";

pub const RECONCILE: &str = "Examples:
  ykt reconcile --legacy mysql://ykt@10.61.0.5:3306/dfxt --stage /data/ykt-stage \\
      --target postgres://ykt@10.61.0.9:5432/platform --out /data/ykt-out
  ykt reconcile --stage /data/ykt-stage --out /data/ykt-out --json   # URLs from YKT_*_URL";

pub const RUN: &str = "Examples:
  ykt run --legacy mysql://ykt@10.61.0.5:3306/dfxt --stage /data/ykt-stage \\
      --target postgres://ykt@10.61.0.9:5432/platform --out /data/ykt-out
  ykt run --stage /data/ykt-stage --out /data/ykt-out --resume   # after a crash";

pub const DEMO: &str = "Examples:
  ykt demo
  ykt demo --dir /tmp/ykt-demo";

pub const REPORT: &str = "Examples:
  ykt report verify /data/ykt-out
  ykt report diff /data/ykt-out-1120 /data/ykt-out-1121";

pub const STATUS: &str = "Examples:
  ykt status
  ykt status --target postgres://ykt@10.61.0.9:5432/platform --json
  ykt --at \"2020-11-20 10:00\" status   # as it will be then";

pub const GUARD: &str = "Examples:
  ykt guard install --legacy mysql://ykt@10.61.0.5:3306/dfxt \\
      --target postgres://ykt@10.61.0.9:5432/platform --by 张工 --reason \"11 月 10 日起暂停\"
  ykt guard verify --legacy mysql://ykt@10.61.0.5:3306/dfxt \\
      --target postgres://ykt@10.61.0.9:5432/platform
  ykt guard remove --legacy … --target … --by 张工 --reason \"回退到旧系统\"";

pub const ROUTE: &str = "Examples:
  ykt route operations.csv --out /data/ykt-routed
  ykt --at 2020-12-01 route operations.csv";

pub const SYNC: &str = "Examples:
  ykt sync --legacy mysql://ykt@10.61.0.5:3306/dfxt --stage /data/ykt-stage \\
      --target postgres://ykt@10.61.0.9:5432/platform --out /data/ykt-out";

pub const FREEZE: &str = "Examples:
  ykt freeze --legacy mysql://ykt@10.61.0.5:3306/dfxt --stage /data/ykt-stage \\
      --target postgres://ykt@10.61.0.9:5432/platform --out /data/ykt-out \\
      --archive /data/ykt-archive --by 张工";

pub const SCHEMA: &str = "Examples:
  ykt schema apply --target postgres://ykt@10.61.0.9:5432/platform
  ykt schema legacy-ddl --engine mysql > legacy.sql";

pub const USERS: &str = "Examples:
  ykt users check forms/*.xlsx
  ykt users import forms/*.xlsx --target postgres://ykt@10.61.0.9:5432/platform \\
      --out /data/ykt-users";
