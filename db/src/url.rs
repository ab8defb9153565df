//! Database URLs that never show their password.

use std::fmt;
use std::str::FromStr;

use crate::DbError;

/// The three engines ykt reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    Sqlite,
    MySql,
    Postgres,
}

impl Engine {
    pub const fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::MySql => "mysql",
            Engine::Postgres => "postgres",
        }
    }
}

/// A database URL: `sqlite://path`, `mysql://user:pass@host:port/db` (MariaDB too) or
/// `postgres://user:pass@host:port/db`. `Display` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl {
    raw: String,
    engine: Engine,
}

impl DbUrl {
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The full URL, password included: for the driver only, never for output.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// Whether the URL carries a password (`user:pass@`). Without one, the engines' own
    /// conventions supply it: `PGPASSWORD` or `~/.pgpass` for PostgreSQL, `MYSQL_PWD` or the
    /// `[client]` section of the MariaDB option files.
    pub fn has_password(&self) -> bool {
        let rest = self.raw.split_once("://").map_or("", |(_, r)| r);
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        authority
            .rsplit_once('@')
            .is_some_and(|(userinfo, _)| userinfo.contains(':'))
    }

    /// The database name (PostgreSQL and MySQL) or file path (SQLite).
    pub fn database(&self) -> &str {
        let rest = self.raw.split_once("://").map_or("", |(_, r)| r);
        let rest = rest.split('?').next().unwrap_or("");
        match self.engine {
            Engine::Sqlite => rest,
            _ => rest.split_once('/').map_or("", |(_, db)| db),
        }
    }

    /// The same server with another database (PostgreSQL and MySQL); for SQLite another file.
    pub fn with_database(&self, database: &str) -> DbUrl {
        let (scheme, rest) = self.raw.split_once("://").unwrap_or(("", ""));
        let query = rest.split_once('?').map(|(_, q)| q);
        let rest = rest.split('?').next().unwrap_or("");
        let mut raw = match self.engine {
            Engine::Sqlite => format!("{scheme}://{database}"),
            _ => {
                let authority = rest.split('/').next().unwrap_or("");
                format!("{scheme}://{authority}/{database}")
            }
        };
        if let Some(q) = query {
            raw.push('?');
            raw.push_str(q);
        }
        DbUrl {
            raw,
            engine: self.engine,
        }
    }
}

impl FromStr for DbUrl {
    type Err = DbError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let bad = |reason| DbError::BadUrl {
            url: redact(s),
            reason,
        };
        let (scheme, rest) = s.split_once("://").ok_or_else(|| {
            bad("not a database URL (expected sqlite://FILE, mysql://USER@HOST/DB or postgres://USER@HOST/DB)")
        })?;
        let engine = match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Engine::Sqlite,
            "mysql" | "mariadb" => Engine::MySql,
            "postgres" | "postgresql" => Engine::Postgres,
            _ => {
                return Err(bad(
                    "unsupported database scheme (use sqlite, mysql or postgres)",
                ));
            }
        };
        if rest.split('?').next().unwrap_or("").is_empty() {
            return Err(bad("the URL names no server or file"));
        }
        // sqlx knows `mysql://` only; MariaDB speaks the same protocol.
        let raw = if scheme.eq_ignore_ascii_case("mariadb") {
            format!("mysql://{rest}")
        } else {
            s.to_owned()
        };
        Ok(DbUrl { raw, engine })
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.raw))
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({self})")
    }
}

/// Replaces the password of a URL (and any `password=` query value) with `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority_end, _) = rest
        .char_indices()
        .find(|(_, c)| *c == '/' || *c == '?')
        .unwrap_or((rest.len(), ' '));
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_passwords_everywhere() {
        for (raw, shown) in [
            (
                "postgres://postgres:s3cret@127.0.0.1:5432/ykt",
                "postgres://postgres:***@127.0.0.1:5432/ykt",
            ),
            (
                "mysql://root@127.0.0.1/legacy",
                "mysql://root@127.0.0.1/legacy",
            ),
            ("mariadb://a:p@ss@h/db", "mysql://a:***@h/db"),
            (
                "postgres://h/db?user=u&password=pw",
                "postgres://h/db?user=u&password=***",
            ),
            (
                "sqlite://ykt-demo/legacy.sqlite",
                "sqlite://ykt-demo/legacy.sqlite",
            ),
        ] {
            let url: DbUrl = raw.parse().unwrap();
            assert_eq!(url.to_string(), shown);
            assert!(!format!("{url:?}").contains("s3cret"));
        }
    }

    #[test]
    fn bad_urls_say_why_without_the_password() {
        for (url, has) in [
            ("postgres://u:pw@h:5432/db", true),
            ("postgres://u@h:5432/db", false),
            ("mysql://root@127.0.0.1:3306/x", false),
            ("mysql://root:@127.0.0.1/x", true),
            ("postgres://h/db?password=x", false),
            ("sqlite:///tmp/a@b:c.sqlite", false),
        ] {
            assert_eq!(url.parse::<DbUrl>().unwrap().has_password(), has, "{url}");
        }
        let err = "oracle://u:topsecret@h/db".parse::<DbUrl>().unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("unsupported") && !text.contains("topsecret"),
            "{text}"
        );
        assert!("just-a-file.sqlite".parse::<DbUrl>().is_err());
        assert!("sqlite://".parse::<DbUrl>().is_err());
    }

    #[test]
    fn swaps_the_database() {
        let url: DbUrl = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
            .parse()
            .unwrap();
        let other = url.with_database("ykt_test_1");
        assert_eq!(
            other.expose(),
            "postgres://postgres@127.0.0.1:5432/ykt_test_1?sslmode=disable"
        );
        assert_eq!(other.database(), "ykt_test_1");
    }
}
