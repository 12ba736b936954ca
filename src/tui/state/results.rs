//! Results of effects: what the app reports back changes state here, and only here.

use super::*;

impl AppState {
    // ---- results of effects -----------------------------------------------------

    pub fn thread_loaded(&mut self, thread: Option<ThreadState>) {
        let same = matches!((&self.thread, &thread), (Some(a), Some(b)) if a.conversation.id == b.conversation.id);
        let scroll = if same { self.thread.as_ref().map(|t| t.scroll).unwrap_or(0) } else { 0 };
        let kept = if same { self.thread.as_ref().map(|t| (t.terms.clone(), t.jump_to)) } else { None };
        // Opened from a search hit: highlight its words, show the hit first.
        let hit = self
            .search
            .as_ref()
            .and_then(|s| s.hits.get(s.cursor).map(|h| ((h.conversation, h.message, h.note), s.terms.clone())));
        self.thread = thread.map(|mut t| {
            t.scroll = scroll;
            if let Some((terms, jump)) = kept {
                t.terms = terms;
                t.jump_to = jump;
            } else if let Some(((_, message, note), terms)) = hit.filter(|((c, _, _), _)| *c == t.conversation.id) {
                t.terms = terms;
                t.jump_to = t.messages.iter().position(|m| match (message, note) {
                    (Some(id), _) => m.id == id && m.direction != Direction::Note,
                    (None, Some(id)) => m.id == id && m.direction == Direction::Note,
                    _ => false,
                });
            }
            t
        });
        if let Some(template) = self.pending_composer.take()
            && self.thread.is_some()
        {
            self.ensure_composer();
            if let Some(id) = template {
                // Fields of a template are asked in the prompt; nothing to load here.
                let _ = self.insert_template(&id);
            }
        }
        self.dirty = true;
    }

    /// A queued message was taken back: its text returns to the composer.
    pub fn undone(&mut self, conversation: i64, body: String) {
        self.drafts.insert(DraftKey { conversation, kind: DraftKind::Reply }, Draft { body, ..Default::default() });
        if self.thread.as_ref().map(|t| t.conversation.id) == Some(conversation) {
            self.composer = None;
            self.ensure_composer();
        }
        self.info(self.lang.tr("undone"));
    }
}
