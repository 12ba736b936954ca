//! Everything a key can ask for, as plain data named in keymap files.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Named in keymap files by their snake_case names (`page_down`), derived
/// here by serde: adding an action is its variant, its arm in the state and
/// its keymap line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Quit,
    Down,
    Up,
    Top,
    Bottom,
    PageDown,
    PageUp,
    NextChannel,
    PrevChannel,
    FocusLeft,
    FocusRight,
    Open,
    Back,
    Search,
    /// In a thread opened from search: the next (newer) message with a match.
    NextMatch,
    /// … and the previous (older) one.
    PrevMatch,
    Help,
    CommandLine,
    Reply,
    Template,
    /// Opens the composer with the given template inserted.
    InsertTemplate(String),
    Accept,
    Done,
    NextUnanswered,
    CloseConversation,
    ReopenConversation,
    /// The client's last «thanks» needs an answer after all: count it as waiting.
    CountWaiting,
    /// Send again the conversation's newest failed or maybe-sent message.
    RetrySend,
    /// Drop the conversation's newest failed or maybe-sent message.
    DiscardSend,
    /// The conversation's newest maybe-sent message did reach the client.
    ConfirmSent,
    /// Mark or unmark the selected conversation (for `x` on many at once).
    ToggleMark,
    /// Start (or stop) marking every conversation the cursor passes.
    MarkRange,
    /// Mark every conversation of the view.
    MarkAll,
    ViewAllOpen,
    ViewUnanswered,
    ViewDueToday,
    ViewOverdue,
    ViewAtRisk,
    /// Conversations assigned to me (`:mine`).
    ViewMine,
    /// Promises I accepted.
    ViewAccepted,
    ViewSnoozed,
    ViewReminders,
    ViewUnsent,
    ViewLists,
    /// Conversations whose response-time clock is at risk.
    ViewSlaAtRisk,
    /// Conversations whose response-time clock is past due.
    ViewBreached,
    /// Pause the response-time clocks with a reason, or end the pause.
    SlaPause,
    Snooze,
    FollowUp,
    Redate,
    CancelTask,
    UndoSend,
    /// Every channel in trouble with its reason (the status line shows `⚠N`).
    ChannelProblems,
    /// Confirm a prompt as typed: a deadline on a day off stays where it is
    /// (Ctrl+X); anywhere else the same as Confirm.
    ConfirmAsTyped,
    PostRules,
    Assign,
    Note,
    PlayVoice,
    Attach,
    /// Edit the draft in $VISUAL / $EDITOR; back in the composer on exit.
    Editor,
    /// Complete the prompt's input (a team member's name).
    Complete,
    /// The client card: every channel of the conversation's client.
    ClientCard,
    /// Every client with what waits and what is overdue, and merge suggestions (`:clients`).
    Clients,
    SaveAttachment,
    OpenAttachment,
    Forward,
    NewEmail,
    History,
    /// The older name of `view_mine`, kept for keymaps that use it.
    ViewAssigned,
    ViewUnassigned,
    ViewMentions,
    Refresh,
    Send,
    CloseComposer,
    Confirm,
    Cancel,
}

impl Action {
    /// `name` or `name:argument` (only `insert_template:ID` takes one).
    pub fn parse(s: &str) -> Result<Action, String> {
        let s = s.trim();
        if let Some(id) = s.strip_prefix("insert_template:") {
            if id.is_empty() {
                return Err("insert_template needs a template id".into());
            }
            return Ok(Action::InsertTemplate(id.to_string()));
        }
        match serde_json::from_value::<Action>(serde_json::Value::String(s.to_string())) {
            Ok(Action::InsertTemplate(_)) | Err(_) => Err(format!("unknown action {s:?}")),
            Ok(a) => Ok(a),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::InsertTemplate(id) => write!(f, "insert_template:{id}"),
            other => match serde_json::to_value(other) {
                Ok(serde_json::Value::String(name)) => f.write_str(&name),
                _ => f.write_str("?"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let shipped = include_str!("../../keymaps/default.toml");
        let names: Vec<&str> =
            shipped.split("run = \"").skip(1).filter_map(|r| r.split('"').next()).filter(|n| *n != "none").collect();
        assert!(names.len() > 50, "{names:?}");
        for name in names {
            assert_eq!(Action::parse(name).expect(name).to_string(), name);
        }
        assert_eq!(Action::parse("page_down"), Ok(Action::PageDown));
        assert_eq!(Action::PageDown.to_string(), "page_down");
        assert_eq!(Action::parse("insert_template:accept"), Ok(Action::InsertTemplate("accept".into())));
        assert!(Action::parse("fly").is_err());
    }
}
