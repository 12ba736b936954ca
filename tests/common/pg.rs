//! A database of its own on the test PostgreSQL (`scripts/postgres.sh`,
//! started by `scripts/test`), dropped when the test ends. Without that
//! server the PostgreSQL tests fail: they never skip.

use pult::store::pg::Target;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct PgDb {
    pub name: String,
    pub target: Target,
    /// The address as a person writes it in `[store] url` (no password).
    pub url: String,
    admin: Target,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn server() -> (String, String) {
    let url = std::env::var("PULT_TEST_POSTGRES")
        .expect("PULT_TEST_POSTGRES is not set: run the suite with scripts/test, which starts PostgreSQL (as root)");
    let file = std::env::var("PULT_TEST_POSTGRES_PASSWORD_FILE").expect("PULT_TEST_POSTGRES_PASSWORD_FILE");
    // Read as pult reads a `password_file`.
    let password = pult::secrets::read(None, Some(std::path::Path::new(&file))).expect("the test server's password");
    (url, password)
}

impl PgDb {
    pub fn new() -> PgDb {
        let (url, password) = server();
        let admin = Target::parse(&url, Some(&password)).expect("test server address");
        let name = format!("pult_t{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let mut c = admin.connect().expect("the test PostgreSQL is reachable");
        c.batch_execute(&format!("CREATE DATABASE {name}")).expect("create test database");
        let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
        let url = format!("{base}/{name}");
        let target = Target::parse(&url, Some(&password)).expect("test database address");
        PgDb { name, target, url, admin }
    }

    pub fn connect(&self) -> postgres::Client {
        self.target.connect().expect("connect to the test database")
    }
}

/// The test server's password file, for a `[store] password_file`.
pub fn password_file() -> std::path::PathBuf {
    std::env::var("PULT_TEST_POSTGRES_PASSWORD_FILE").expect("PULT_TEST_POSTGRES_PASSWORD_FILE").into()
}

impl Drop for PgDb {
    fn drop(&mut self) {
        if let Ok(mut c) = self.admin.connect() {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}
