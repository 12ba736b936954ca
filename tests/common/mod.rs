//! Helpers shared by the integration tests: temporary stores and a headless app.
#![allow(dead_code)]

pub mod bot;
pub mod dkim;
pub mod dns;
pub mod gmail_proxy;
pub mod introspect;
pub mod pg;

use jiff::tz::TimeZone;
use pult::clock::Clock;
use pult::model::{ChannelKind, Inbound};
use pult::store::{Writer, ingest};
use pult::tui::app::App;
use pult::tui::keymap::Keymap;
use pult::tui::state::AppState;
use pult::tui::theme::Theme;
use pult::workflow::templates::Templates;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::path::PathBuf;

/// 2026-11-20 (a Friday) 13:00 Moscow time.
pub const NOW: i64 = 1_795_168_800;

pub fn moscow() -> TimeZone {
    TimeZone::get("Europe/Moscow").expect("tzdata for Europe/Moscow")
}

pub struct TempStore {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    pub writer: Writer,
}

pub fn temp_store() -> TempStore {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pult.db");
    let writer = Writer::spawn(&path).expect("open store");
    TempStore { dir, path, writer }
}

/// A store as an older release left it, at schema `version`, for migration tests.
pub fn old_store(path: &std::path::Path, version: i64) -> pult::store::Db {
    pult::store::open_at_version(path, version).expect("old schema")
}

pub fn channel(s: &TempStore, name: &str, kind: ChannelKind) -> i64 {
    let name = name.to_string();
    s.writer.call_blocking(move |c| ingest::ensure_channel(c, &name, kind, NOW)).expect("channel")
}

pub fn msg(remote: &str, conv: &str, author: &str, at: i64, body: &str) -> Inbound {
    Inbound {
        remote_id: remote.into(),
        conversation_key: conv.into(),
        conversation_title: conv.into(),
        author_handle: format!("h:{author}"),
        author_name: author.into(),
        sent_at: at,
        body_text: body.into(),
        ..Default::default()
    }
}

pub fn ingest(s: &TempStore, channel: i64, batch: Vec<Inbound>) -> ingest::IngestReport {
    s.writer.call_blocking(move |c| ingest::apply(c, channel, &batch, &[], NOW)).expect("ingest")
}

/// A headless app on the demo store, at a fixed time, drawn on a TestBackend.
pub struct Harness {
    pub store: TempStore,
    pub app: App,
    pub terminal: Terminal<TestBackend>,
}

impl Harness {
    pub fn demo(width: u16, height: u16) -> Harness {
        let store = temp_store();
        pult::demo::populate(&store.writer, NOW, &moscow(), "Анна").expect("demo data");
        Self::on(store, width, height)
    }

    /// The demo store in the Russian UI.
    pub fn demo_ru(width: u16, height: u16) -> Harness {
        let store = temp_store();
        pult::demo::populate(&store.writer, NOW, &moscow(), "Анна").expect("demo data");
        Self::in_language(store, pult::i18n::Lang::Ru, width, height)
    }

    pub fn on(store: TempStore, width: u16, height: u16) -> Harness {
        Self::in_language(store, pult::i18n::Lang::En, width, height)
    }

    pub fn in_language(store: TempStore, lang: pult::i18n::Lang, width: u16, height: u16) -> Harness {
        let clock = Clock::fixed(NOW, moscow());
        let state = AppState::new(lang, "Анна".into(), clock, Keymap::shipped(), Templates::shipped());
        let mut app = App::new(state, Theme::dark(), &store.path, store.writer.clone()).expect("app");
        app.resize(width, height);
        // The first screen's reads are back before a test looks.
        app.settle();
        let terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
        Harness { store, app, terminal }
    }

    /// Presses keys; each key's reads are applied before the next key.
    pub fn keys(&mut self, keys: &str) -> &mut Self {
        self.app.press_keys(keys).expect("valid key string");
        self
    }

    pub fn type_text(&mut self, text: &str) -> &mut Self {
        self.app.type_text(text);
        self
    }

    /// The clock's tick, with what it reads applied.
    pub fn tick(&mut self) -> &mut Self {
        self.app.tick();
        self.app.settle();
        self
    }

    /// Another connection committed these changes; what they reload is applied.
    pub fn store_changed(&mut self, changes: &[pult::model::Change]) -> &mut Self {
        self.app.store_changed(changes);
        self.app.settle();
        self
    }

    pub fn resize(&mut self, width: u16, height: u16) -> &mut Self {
        self.app.resize(width, height);
        self.app.settle();
        self
    }

    pub fn run_effects(&mut self, effects: Vec<pult::tui::state::Effect>) -> &mut Self {
        self.app.run_effects(effects);
        self.app.settle();
        self
    }

    /// The screen as text, one line per row (once every read asked for is applied).
    pub fn screen(&mut self) -> String {
        self.app.settle();
        self.frame()
    }

    /// The screen as drawn now, with reads still out.
    pub fn frame(&mut self) -> String {
        self.app.draw(&mut self.terminal).expect("draw");
        let buf = self.terminal.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..buf.area.height {
            let mut line = String::new();
            let mut x = 0;
            while x < buf.area.width {
                // A wide character covers the next cell; what is stored there is never shown.
                let symbol = buf[(x, y)].symbol();
                line.push_str(symbol);
                x += pult::sanitize::width(symbol).max(1) as u16;
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// Every symbol written to the terminal, to look for control characters.
    pub fn raw_symbols(&mut self) -> String {
        self.app.settle();
        self.app.draw(&mut self.terminal).expect("draw");
        self.terminal.backend().buffer().content().iter().map(|c| c.symbol().to_string()).collect()
    }
}

/// The pult binary with HOME and the XDG dirs inside `home`, so a test never
/// touches the real user's config, store or logs.
pub fn pult(home: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_pult"));
    c.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("LANG", "C");
    c
}

/// A store filled by `pult demo --populate-only`, at `home/demo.db`.
pub fn demo_store(home: &std::path::Path) -> std::path::PathBuf {
    let store = home.join("demo.db");
    let out = pult(home).args(["demo", "--populate-only", "--store"]).arg(&store).output().expect("run pult demo");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    store
}

/// Queues a plain reply by `anna` to `conversation`, due at once; returns the outbox id.
pub fn queue_reply(s: &TempStore, conversation: i64, body: &str) -> i64 {
    let reply = reply(conversation, body);
    s.writer.call_blocking(move |c| pult::store::intents::queue_reply(c, &reply, NOW)).expect("queue")
}

/// Another handle on an existing store (its directory belongs to someone else).
pub fn shared(path: &std::path::Path, writer: &Writer) -> TempStore {
    TempStore { dir: tempfile::tempdir().expect("tmp"), path: path.to_path_buf(), writer: writer.clone() }
}

/// A plain reply by `anna` to `conversation`, due at once.
pub fn reply(conversation: i64, body: &str) -> pult::store::intents::Reply {
    pult::store::intents::Reply {
        conversation_id: conversation,
        reply_to_message_id: None,
        subject: None,
        body: body.into(),
        actor: "anna".into(),
        not_before: NOW,
        auto: false,
        attachments: Vec::new(),
    }
}

/// The real `pult` TUI in a pseudo-terminal (`script`, from util-linux, on every
/// Debian) with this config and store. Its stdin is the keyboard; the first
/// bytes answer the cursor-position query crossterm sends at start.
pub fn pult_in_pty(
    home: &std::path::Path,
    cfg: &std::path::Path,
    store: &std::path::Path,
    keys: &str,
) -> std::process::Child {
    use std::io::Write;
    let cmd = format!("'{}' --config '{}' --store '{}'", env!("CARGO_BIN_EXE_pult"), cfg.display(), store.display());
    let mut child = std::process::Command::new("script")
        .args(["-qfc", &cmd, "/dev/null"])
        .env("HOME", home)
        .env("XDG_STATE_HOME", home.join("state"))
        .env("TERM", "xterm")
        .env("LANG", "C")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("script");
    let stdin = child.stdin.as_mut().expect("stdin");
    stdin.write_all(format!("\x1b[1;1R{keys}").as_bytes()).expect("keys");
    stdin.flush().expect("flush");
    child
}

/// Waits (20 s at most) for something another thread or process does.
pub fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The first English word on a Russian screen (see `pult::i18n::english_leak`),
/// after the data of the screen's own store is set aside: names a person
/// gave (channels «office mail», «office-bot»), addresses, subjects in Latin.
pub fn english_on_screen(screen: &str, data: &[&str]) -> Option<String> {
    let mut text = screen.to_string();
    for d in data.iter().chain(DEMO_LATIN) {
        text = text.replace(d, " ");
    }
    // A word cut where its box ends («<Ent…») is judged whole elsewhere.
    let whole: Vec<String> = text
        .split_whitespace()
        .filter(|w| !w.ends_with('…'))
        .map(|w| w.split('…').next_back().unwrap_or(w).to_string())
        .collect();
    pult::i18n::english_leak(&whole.join(" "))
}

/// Latin text in the demo store's own data (channel names, the team).
pub const DEMO_LATIN: &[&str] =
    &["office mail", "office-bot", "office", "Billing", "Dept", "Invoice", "fdp", "exe", "This"];

/// What a headless app shows once its reads are back, row by row (wide
/// characters take their cells once).
pub fn screen(app: &mut pult::tui::app::App, term: &mut ratatui::Terminal<ratatui::backend::TestBackend>) -> String {
    app.settle();
    app.draw(term).expect("draw");
    let buf = term.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut x = 0;
        while x < buf.area.width {
            let sym = buf[(x, y)].symbol();
            out.push_str(sym);
            x += pult::sanitize::width(sym).max(1) as u16;
        }
        out.push('\n');
    }
    out
}
