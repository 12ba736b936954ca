//! Themes: a palette and semantic style slots, loaded from `themes/*.toml`.

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use std::collections::HashMap;
use std::str::FromStr;

pub const SHIPPED: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("high-contrast", include_str!("../../themes/high-contrast.toml")),
];

/// Every slot a widget may use. A theme that leaves one out inherits it from dark.
pub const SLOTS: &[&str] = &[
    "base",
    "border",
    "border_focus",
    "title",
    "selection",
    "unread",
    "muted",
    "badge_email",
    "badge_telegram",
    "badge_whatsapp",
    "waiting",
    "overdue",
    "due",
    "author_in",
    "author_out",
    "pending",
    "failed",
    "quote",
    "attachment",
    "note",
    "claim",
    "status_line",
    "status_error",
    "status_alert",
    "help_key",
    "input",
    "match",
    "sla_ok",
    "sla_at_risk",
    "sla_breached",
];

#[derive(Debug, Deserialize)]
struct RawTheme {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    palette: HashMap<String, String>,
    #[serde(default)]
    styles: HashMap<String, RawStyle>,
}

#[derive(Debug, Deserialize)]
struct RawStyle {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    modifiers: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Theme {
    pub name: String,
    styles: HashMap<&'static str, Style>,
}

impl Theme {
    pub fn shipped(name: &str) -> Option<Theme> {
        SHIPPED.iter().find(|(n, _)| *n == name).and_then(|(_, text)| Theme::parse(text).ok())
    }

    pub fn dark() -> Theme {
        Theme::shipped("dark").unwrap_or(Theme { name: "plain".into(), styles: HashMap::new() })
    }

    /// A shipped name, or a path to a theme file.
    pub fn load(name_or_path: &str) -> Result<Theme, String> {
        if let Some(t) = Theme::shipped(name_or_path) {
            return Ok(t);
        }
        let text = std::fs::read_to_string(name_or_path).map_err(|e| {
            let names: Vec<&str> = SHIPPED.iter().map(|(n, _)| *n).collect();
            tracing::info!("theme {name_or_path:?}: {e}");
            crate::t!("theme_unreadable", theme = format!("{name_or_path:?}"), names = names.join(", "))
        })?;
        Theme::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Theme, String> {
        let raw: RawTheme = toml::from_str(text).map_err(|e| {
            tracing::info!("theme file: {}", e.message());
            crate::t!("theme_syntax")
        })?;
        let mut styles = HashMap::new();
        for (slot, rs) in &raw.styles {
            let Some(slot) = SLOTS.iter().find(|s| *s == slot) else {
                return Err(crate::t!("theme_unknown_slot", slot = format!("{slot:?}")));
            };
            let mut style = Style::default();
            if let Some(fg) = &rs.fg {
                style = style.fg(color(fg, &raw.palette)?);
            }
            if let Some(bg) = &rs.bg {
                style = style.bg(color(bg, &raw.palette)?);
            }
            for m in &rs.modifiers {
                style = style.add_modifier(modifier(m)?);
            }
            styles.insert(*slot, style);
        }
        let mut theme = Theme { name: raw.name.unwrap_or_else(|| "custom".into()), styles };
        if theme.name != "dark" {
            // Missing slots inherit from dark.
            let base = Theme::dark();
            for (k, v) in base.styles {
                theme.styles.entry(k).or_insert(v);
            }
        }
        Ok(theme)
    }

    pub fn style(&self, slot: &str) -> Style {
        self.styles.get(slot).copied().unwrap_or_default()
    }

    pub fn has_all_slots(&self) -> Vec<&'static str> {
        SLOTS.iter().filter(|s| !self.styles.contains_key(*s)).copied().collect()
    }
}

fn color(name: &str, palette: &HashMap<String, String>) -> Result<Color, String> {
    let resolved = palette.get(name).map(String::as_str).unwrap_or(name);
    Color::from_str(resolved).map_err(|_| crate::t!("theme_unknown_colour", colour = format!("{name:?}")))
}

fn modifier(name: &str) -> Result<Modifier, String> {
    Ok(match name {
        "bold" => Modifier::BOLD,
        "dim" => Modifier::DIM,
        "italic" => Modifier::ITALIC,
        "underlined" => Modifier::UNDERLINED,
        "reversed" => Modifier::REVERSED,
        "crossed_out" => Modifier::CROSSED_OUT,
        other => return Err(crate::t!("theme_unknown_modifier", modifier = format!("{other:?}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_themes_parse_completely() {
        for (name, text) in SHIPPED {
            let t = Theme::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(t.name, *name);
            assert!(t.has_all_slots().is_empty(), "{name} lacks {:?}", t.has_all_slots());
        }
    }

    #[test]
    fn bad_theme_is_an_error() {
        assert!(Theme::parse("[styles]\nbase = { fg = \"nocolour\" }").is_err());
        assert!(Theme::parse("[styles]\nnoslot = { fg = \"red\" }").is_err());
        assert!(Theme::load("no-such-theme").is_err());
    }
}
