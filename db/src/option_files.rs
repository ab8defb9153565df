//! The MariaDB client's own password conventions, so a password never has to be typed into a
//! URL on the command line (where `ps` and the shell history show it): the `MYSQL_PWD`
//! variable, then `password` in the `[client]`, `[client-server]`, `[client-mariadb]` or
//! `[mariadb-client]` sections of `/etc/my.cnf`, `/etc/mysql/my.cnf` and `~/.my.cnf`, the
//! later file winning, as the client reads them. PostgreSQL's `PGPASSWORD` and `~/.pgpass`
//! are read by the driver itself.

use std::path::{Path, PathBuf};

/// The password the MariaDB client would use, if any.
pub(crate) fn mysql_password() -> Option<String> {
    if let Ok(p) = std::env::var("MYSQL_PWD") {
        return Some(p);
    }
    let mut files: Vec<PathBuf> = vec!["/etc/my.cnf".into(), "/etc/mysql/my.cnf".into()];
    if let Some(home) = std::env::var_os("HOME") {
        files.push(Path::new(&home).join(".my.cnf"));
    }
    // The later file wins: the last one that has a password.
    files.iter().rev().find_map(|f| {
        std::fs::read_to_string(f)
            .ok()
            .and_then(|text| password_in(&text))
    })
}

/// `password` in a client section of one option file.
pub(crate) fn password_in(text: &str) -> Option<String> {
    let mut in_client = false;
    let mut found = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_client = matches!(
                section.trim(),
                "client" | "client-server" | "client-mariadb" | "mariadb-client"
            );
            continue;
        }
        if !in_client {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim().replace('_', "-") == "password" {
            let value = value.trim();
            let unquoted = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            found = Some(unquoted.to_owned());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::password_in;

    #[test]
    fn reads_the_client_sections_password() {
        let text = "[mysqld]\npassword = server\n\n[client]\nuser = ykt\npassword = \"s3cr et\"\n[mysql]\npassword=other\n";
        assert_eq!(password_in(text).as_deref(), Some("s3cr et"));
        assert_eq!(
            password_in("[mariadb-client]\npassword='x'\n").as_deref(),
            Some("x")
        );
        assert_eq!(password_in("[mysqld]\npassword=x\n"), None);
        assert_eq!(password_in("# nothing\n"), None);
    }
}
