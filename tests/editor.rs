//! `Ctrl+E` in the composer: the draft goes to $EDITOR in a real terminal
//! (tmux), comes back into the composer, and the terminal is pult's again.

mod common;

use common::*;
use std::process::Command;

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().expect("tmux (scripts/test installs it)");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Stops the tmux server of this test, however the test ends.
struct Server(String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.0, "kill-server"]).output();
    }
}

#[test]
fn ctrl_e_edits_the_draft_in_editor_and_comes_back() {
    let home = tempfile::tempdir().expect("home");
    let store = demo_store(home.path());
    let cfg = home.path().join("config.toml");
    std::fs::write(&cfg, "[agent]\nname = \"Анна\"\n").expect("config");
    // The "editor": appends a line to the file it is given, as a person would.
    let editor = home.path().join("editor.sh");
    std::fs::write(&editor, "#!/bin/sh\nprintf 'из редактора\\n' >> \"$1\"\n").expect("editor");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).expect("chmod");

    let socket = format!("pult-editor-{}", std::process::id());
    let _server = Server(socket.clone());
    let cmd = format!(
        "HOME='{}' XDG_STATE_HOME='{}' EDITOR='{}' TERM=xterm-256color LANG=C.UTF-8 '{}' --config '{}' --store '{}'",
        home.path().display(),
        home.path().join("state").display(),
        editor.display(),
        env!("CARGO_BIN_EXE_pult"),
        cfg.display(),
        store.display()
    );
    tmux(&["-L", &socket, "new-session", "-d", "-s", "t", "-x", "80", "-y", "24", &cmd]);
    let pane = || tmux(&["-L", &socket, "capture-pane", "-p", "-t", "t"]);
    let keys = |k: &[&str]| {
        let mut args = vec!["-L", socket.as_str(), "send-keys", "-t", "t"];
        args.extend_from_slice(k);
        tmux(&args);
    };
    eventually("the inbox on screen", || pane().contains("unanswered"));
    keys(&["Enter"]);
    eventually("the thread", || pane().contains("→") || pane().contains("←"));
    keys(&["r"]);
    eventually("the composer", || pane().contains("Reply"));
    keys(&["-l", "Черновик"]);
    eventually("typed", || pane().contains("Черновик"));
    keys(&["C-e"]);
    eventually("the editor's line back in the composer", || pane().contains("из редактора"));
    let screen = pane();
    assert!(screen.contains("Черновик"), "the draft went to the editor whole: {screen}");
    assert!(screen.contains("Ctrl+X send"), "pult's screen is back: {screen}");
    // Keys reach pult again, not a stale reader.
    keys(&["-l", "!"]);
    eventually("a key after the editor", || pane().contains("из редактора!"));
}
