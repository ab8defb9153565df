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

    /// What database the URL reaches, whoever connects and however: the engine, the server
    /// (host in lower case, the engine's default port filled in) and the database; for SQLite
    /// the file, its path made absolute where it exists. The user, the password and the
    /// connection options (`?ssl-mode=…`, `?sslmode=…`) are left out: a read-only account or
    /// another TLS setting reaches the same data. (Compared whole, `mysql://root@h/db` and
    /// `mysql://root@h/db?ssl-mode=disabled` were two sources, and a reconciliation refused a
    /// stage extracted through the other.) Two names of one server (`localhost`, `127.0.0.1`)
    /// stay two: a URL alone cannot tell.
    pub fn identity(&self) -> String {
        let engine = self.engine.name();
        if self.engine == Engine::Sqlite {
            let file = self.database();
            let file = std::fs::canonicalize(file)
                .map_or_else(|_| file.to_owned(), |p| p.display().to_string());
            return format!("{engine}://{file}");
        }
        let rest = self.raw.split_once("://").map_or("", |(_, r)| r);
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        let server = authority.rsplit_once('@').map_or(authority, |(_, s)| s);
        // `host:port`, `[v6]:port` or either without a port.
        let default = if self.engine == Engine::MySql {
            3306
        } else {
            5432
        };
        let (host, port) = match server.rsplit_once(':') {
            Some((host, port)) if !host.starts_with('[') || host.ends_with(']') => {
                match port.parse::<u64>() {
                    Ok(port) => (host, port),
                    Err(_) if port.is_empty() => (host, default),
                    Err(_) => (server, default),
                }
            }
            _ => (server, default),
        };
        format!(
            "{engine}://{}:{port}/{}",
            host.to_ascii_lowercase(),
            self.database()
        )
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

    /// Everything a URL may carry besides the server and the database: who connects, with
    /// what password, through which TLS setting, by which scheme's spelling.
    fn spelled(
        engine: Engine,
        user: &str,
        password: Option<&str>,
        query: &str,
    ) -> (String, String) {
        let scheme = match engine {
            Engine::MySql => "mariadb",
            Engine::Postgres => "postgresql",
            Engine::Sqlite => "sqlite",
        };
        let userinfo = match password {
            Some(p) if !user.is_empty() => format!("{user}:{p}@"),
            _ if !user.is_empty() => format!("{user}@"),
            _ => String::new(),
        };
        (format!("{scheme}://{userinfo}"), query.to_owned())
    }

    proptest::proptest! {
        /// One database, however the URL reaching it is spelt (user, password, options, the
        /// port written or the engine's default, the host's case), has one identity; another
        /// host, port or database has another.
        #[test]
        fn one_database_has_one_identity_whoever_connects(
            mysql: bool,
            host in "[a-zA-Z][a-zA-Z0-9.-]{0,12}",
            port in proptest::option::of(1u16..65535),
            database in "[a-z_][a-z0-9_]{0,10}",
            users in proptest::collection::vec(("[a-z]{0,6}", proptest::option::of("[a-zA-Z0-9@:]{0,8}")), 2),
            queries in proptest::collection::vec(proptest::option::of("(ssl-?mode|sslrootcert|application_name)=[a-z-]{1,10}"), 2),
            other_port in 1u16..65535,
        ) {
            let engine = if mysql { Engine::MySql } else { Engine::Postgres };
            let default = if mysql { 3306 } else { 5432 };
            let url = |(user, password): &(String, Option<String>), query: &Option<String>, host: &str, port: Option<u16>, database: &str| -> DbUrl {
                let (head, _) = spelled(engine, user, password.as_deref(), "");
                let port = port.map(|p| format!(":{p}")).unwrap_or_default();
                let query = query.as_ref().map(|q| format!("?{q}")).unwrap_or_default();
                format!("{head}{host}{port}/{database}{query}").parse().unwrap()
            };
            let a = url(&users[0], &queries[0], &host, port, &database);
            let b = url(&users[1], &queries[1], &host.to_ascii_uppercase(), port, &database);
            proptest::prop_assert_eq!(a.identity(), b.identity());
            // The default port written out or left implicit is one port.
            let explicit = url(&users[1], &queries[1], &host, Some(port.unwrap_or(default)), &database);
            proptest::prop_assert_eq!(a.identity(), explicit.identity());
            // Another database, another port, another host: another identity.
            let elsewhere = url(&users[0], &queries[0], &host, port, &format!("{database}x"));
            proptest::prop_assert_ne!(a.identity(), elsewhere.identity());
            if other_port != port.unwrap_or(default) {
                let moved = url(&users[0], &queries[0], &host, Some(other_port), &database);
                proptest::prop_assert_ne!(a.identity(), moved.identity());
            }
            let other_host = url(&users[0], &queries[0], &format!("{host}x"), port, &database);
            proptest::prop_assert_ne!(a.identity(), other_host.identity());
            // Never a password in it.
            if let Some(p) = users[0].1.as_deref().filter(|p| p.len() > 3 && !users[0].0.is_empty()) {
                proptest::prop_assert!(!a.identity().contains(p) || host.contains(p) || database.contains(p));
            }
        }
    }

    #[test]
    fn identities_of_servers_and_files() {
        let id = |u: &str| u.parse::<DbUrl>().unwrap().identity();
        assert_eq!(
            id("mysql://root@127.0.0.1/legacy"),
            "mysql://127.0.0.1:3306/legacy"
        );
        assert_eq!(
            id("postgres://u:pw@[::1]:5433/ykt?sslmode=disable"),
            "postgres://[::1]:5433/ykt"
        );
        assert_eq!(id("postgres://[::1]/ykt"), "postgres://[::1]:5432/ykt");
        assert_ne!(id("mysql://h/db"), id("postgres://h/db"));
        // A file by its absolute path, however named; options left out.
        let dir = std::env::temp_dir().join(format!("ykt-identity-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.sqlite"), b"").unwrap();
        let relative = format!(
            "sqlite://{}/../{}/a.sqlite?mode=ro",
            dir.display(),
            dir.file_name().unwrap().to_string_lossy()
        );
        assert_eq!(
            id(&relative),
            id(&format!("sqlite://{}/a.sqlite", dir.display()))
        );
        assert_ne!(
            id(&format!("sqlite://{}/b.sqlite", dir.display())),
            id(&relative)
        );
        std::fs::remove_dir_all(&dir).unwrap();
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
