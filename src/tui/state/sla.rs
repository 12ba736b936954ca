//! Response-time clocks in the UI: `p` pauses them with a reason (or ends
//! the pause), and the words the list and the thread header use for them.

use super::{AppState, Effect, PickItem, PickPurpose, Popup};
use crate::i18n::Lang;
use crate::model::ChannelKind;
use crate::workflow::sla::{Glance, PauseReason, State, human_minutes};

impl AppState {
    /// `p`: pick why the clocks pause; on a paused conversation, end the pause.
    pub(super) fn sla_pause(&mut self) -> Vec<Effect> {
        let Some(conversation) = self.target() else {
            self.error(self.lang.tr("open_a_thread"));
            return Vec::new();
        };
        if self.sla.get(&conversation).is_some_and(|g| g.paused.is_some()) {
            return vec![Effect::SlaResume(conversation)];
        }
        let items = PauseReason::ALL
            .iter()
            .enumerate()
            // `message` carries the conversation: the pick is about it.
            .map(|(index, r)| PickItem {
                label: self.lang.tr(reason_key(*r)).to_string(),
                message: conversation,
                index,
            })
            .collect();
        self.popup = Some(Popup::Pick { purpose: PickPurpose::Pause, items, selected: 0 });
        Vec::new()
    }
}

pub fn reason_key(r: PauseReason) -> &'static str {
    match r {
        PauseReason::Documents => "sla_reason_documents",
        PauseReason::Payment => "sla_reason_payment",
        PauseReason::Signature => "sla_reason_signature",
        PauseReason::Answer => "sla_reason_answer",
        PauseReason::Other => "sla_reason_other",
    }
}

/// The row mark: a symbol and the slot that colours it. The symbols differ
/// in shape, so the mark reads without colour (high-contrast theme, no colour).
pub fn mark(state: State) -> (&'static str, &'static str) {
    match state {
        State::Breached => ("✗", "sla_breached"),
        State::AtRisk => ("▲", "sla_at_risk"),
        State::Paused => ("‖", "sla_ok"),
        State::Ok | State::Met => ("◷", "sla_ok"),
    }
}

/// «первый ответ: 1 ч 20 мин из 4 ч рабочих», with what the state adds.
pub fn header(lang: Lang, g: &Glance) -> String {
    let ru = lang == Lang::Ru;
    let mut text = lang
        .tr("sla_header")
        .replace("{clock}", lang.tr(g.kind.text_key()))
        .replace("{used}", &human_minutes(g.elapsed, ru))
        .replace("{target}", &human_minutes(g.target, ru));
    match g.state {
        State::Breached => text.push_str(&format!(" · {}", lang.tr("sla_state_breached"))),
        State::AtRisk => text.push_str(&format!(" · {}", lang.tr("sla_state_at_risk"))),
        _ => {}
    }
    if let Some(r) = g.paused {
        text.push_str(&format!(" · {} {}", lang.tr("sla_paused_for"), lang.tr(reason_key(r))));
    }
    text
}

/// «окно WhatsApp закроется через 1 ч 40 мин — ответьте сейчас, потом только шаблон».
pub fn window_warning(lang: Lang, g: &Glance) -> Option<String> {
    let left = g.window_left?;
    let key = match g.channel {
        ChannelKind::Whatsapp => "sla_window_whatsapp",
        _ => "sla_window_telegram",
    };
    Some(lang.tr(key).replace("{left}", &human_minutes(left, lang == Lang::Ru)))
}
