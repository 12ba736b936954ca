//! What a message without text says in its place («🎤 голосовое сообщение 0:12»,
//! «[стикер]»), written at ingest in the team's language (`i18n::written()`),
//! and the English ones older pult versions stored, said again in the UI's.

use crate::i18n::Lang;

/// A message that carries no text of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder<'a> {
    /// A voice message, with its length when known (seconds).
    Voice(Option<u32>),
    Photo,
    Video,
    Audio,
    /// A document without a caption: its file name, if it has one.
    Document(Option<&'a str>),
    /// A sticker, with its emoji when the channel gives one.
    Sticker(Option<&'a str>),
    /// A kind of message pult cannot show (WhatsApp's `order`, …).
    Unsupported(&'a str),
    /// Mail forwarded inside forwarded mail, deeper than pult shows.
    NestedDeeper,
}

impl Placeholder<'_> {
    /// The text kept as the message's body.
    pub fn in_language(self, lang: Lang) -> String {
        match self {
            Placeholder::Voice(Some(d)) => format!("{} {}:{:02}", lang.tr("ph_voice"), d / 60, d % 60),
            Placeholder::Voice(None) => lang.tr("ph_voice").into(),
            Placeholder::Photo => lang.tr("ph_photo").into(),
            Placeholder::Video => lang.tr("ph_video").into(),
            Placeholder::Audio => lang.tr("ph_audio").into(),
            Placeholder::Document(name) => format!("📄 {}", name.unwrap_or(lang.tr("ph_document"))),
            Placeholder::Sticker(Some(e)) if !e.is_empty() => format!("[{} {e}]", lang.tr("ph_sticker")),
            Placeholder::Sticker(_) => format!("[{}]", lang.tr("ph_sticker")),
            Placeholder::Unsupported(kind) => {
                // WhatsApp's own type names, said in words where pult knows them.
                let said = match (lang, kind) {
                    (Lang::Ru, "order") => lang.tr("ph_type_order"),
                    (Lang::Ru, "system") => lang.tr("ph_type_system"),
                    (Lang::Ru, "poll") => lang.tr("ph_type_poll"),
                    (Lang::Ru, "unsupported" | "unknown") => lang.tr("ph_type_unknown"),
                    _ => kind,
                };
                format!("[{} {said}]", lang.tr("ph_unsupported"))
            }
            Placeholder::NestedDeeper => format!("[{}]", lang.tr("ph_nested")),
        }
    }
}

/// A body an older pult stored in English, said in `lang`; None for any
/// other text (a client's own words are never rewritten).
pub fn stored_in(lang: Lang, body: &str) -> Option<String> {
    if lang == Lang::En {
        return None;
    }
    let english = |key: &'static str| Lang::En.tr(key);
    if let Some(rest) = body.strip_prefix(english("ph_voice")) {
        // «🎤 voice message 0:12», and a transcript below it when one came.
        let (first, tail) = rest.split_once('\n').map_or((rest, None), |(a, b)| (a, Some(b)));
        let length = first.strip_prefix(' ').unwrap_or(first);
        let seconds =
            length.split_once(':').and_then(|(m, s)| Some(m.parse::<u32>().ok()? * 60 + s.parse::<u32>().ok()?));
        if first.is_empty() || seconds.is_some() {
            let mut out = Placeholder::Voice(seconds).in_language(lang);
            if let Some(t) = tail {
                out.push('\n');
                out.push_str(t);
            }
            return Some(out);
        }
    }
    for (key, p) in
        [("ph_photo", Placeholder::Photo), ("ph_video", Placeholder::Video), ("ph_audio", Placeholder::Audio)]
    {
        if body == english(key) {
            return Some(p.in_language(lang));
        }
    }
    if body == "[sticker]" {
        return Some(Placeholder::Sticker(None).in_language(lang));
    }
    if let Some(emoji) = body.strip_prefix("[sticker ").and_then(|r| r.strip_suffix(']')) {
        return Some(Placeholder::Sticker(Some(emoji)).in_language(lang));
    }
    if let Some(kind) = body.strip_prefix("[unsupported message type ").and_then(|r| r.strip_suffix(']')) {
        // The provider's own words after the type stay in the log, not here.
        let kind = kind.split(':').next().unwrap_or(kind);
        return Some(Placeholder::Unsupported(kind).in_language(lang));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_in_either_language() {
        assert_eq!(Placeholder::Voice(Some(12)).in_language(Lang::En), "🎤 voice message 0:12");
        assert_eq!(Placeholder::Voice(Some(297)).in_language(Lang::Ru), "🎤 голосовое сообщение 4:57");
        assert_eq!(Placeholder::Sticker(None).in_language(Lang::En), "[sticker]");
        assert_eq!(Placeholder::Sticker(Some("👍")).in_language(Lang::Ru), "[стикер 👍]");
        assert_eq!(Placeholder::Unsupported("order").in_language(Lang::En), "[unsupported message type order]");
        assert_eq!(
            Placeholder::Unsupported("order").in_language(Lang::Ru),
            "[сообщение неподдерживаемого типа: заказ]"
        );
    }

    #[test]
    fn every_placeholder_reads_in_russian() {
        for p in [
            Placeholder::Voice(None),
            Placeholder::Photo,
            Placeholder::Video,
            Placeholder::Audio,
            Placeholder::Document(None),
            Placeholder::Sticker(None),
            Placeholder::Unsupported("system"),
            Placeholder::NestedDeeper,
        ] {
            let ru = p.in_language(Lang::Ru);
            assert!(!ru.contains("ph_") && crate::i18n::english_leak(&ru).is_none(), "{p:?}: {ru}");
            assert!(!p.in_language(Lang::En).contains("ph_"), "{p:?}");
        }
    }

    #[test]
    fn old_english_bodies_are_shown_in_russian() {
        let ru = |b| stored_in(Lang::Ru, b);
        assert_eq!(ru("🎤 voice message 0:12").as_deref(), Some("🎤 голосовое сообщение 0:12"));
        assert_eq!(
            ru("🎤 voice message 0:12\n📝 Добрый день").as_deref(),
            Some("🎤 голосовое сообщение 0:12\n📝 Добрый день")
        );
        assert_eq!(ru("🎤 voice message").as_deref(), Some("🎤 голосовое сообщение"));
        assert_eq!(ru("[sticker]").as_deref(), Some("[стикер]"));
        assert_eq!(ru("[sticker 👍]").as_deref(), Some("[стикер 👍]"));
        assert_eq!(ru("🖼 photo").as_deref(), Some("🖼 фото"));
        assert_eq!(
            ru("[unsupported message type unsupported: 131051 Message type unknown]").as_deref(),
            Some("[сообщение неподдерживаемого типа: неизвестный]")
        );
        assert_eq!(ru("Пришлите акт"), None);
        assert_eq!(ru("🎤 voice message, please"), None);
        assert_eq!(stored_in(Lang::En, "[sticker]"), None);
        for body in ["🎤 voice message 0:12", "[sticker]", "🖼 photo", "🎬 video", "🎵 audio"] {
            assert_eq!(crate::i18n::english_leak(&ru(body).unwrap_or_default()), None, "{body}");
        }
    }
}
