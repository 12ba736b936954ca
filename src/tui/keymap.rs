//! Keymaps: the shipped file, patched by the user's, resolved per context with chords.

use super::action::Action;
use super::keys::{Key, parse_key};
use serde::Deserialize;
use std::collections::BTreeMap;

pub const DEFAULT: &str = include_str!("../../keymaps/default.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    Global,
    Channels,
    Conversations,
    Thread,
    Composer,
    Input,
}

impl Context {
    pub const ALL: [Context; 6] = [
        Context::Global,
        Context::Channels,
        Context::Conversations,
        Context::Thread,
        Context::Composer,
        Context::Input,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Context::Global => "global",
            Context::Channels => "channels",
            Context::Conversations => "conversations",
            Context::Thread => "thread",
            Context::Composer => "composer",
            Context::Input => "input",
        }
    }

    fn parse(s: &str) -> Option<Context> {
        Context::ALL.into_iter().find(|c| c.name() == s)
    }

    /// Text-entry contexts do not fall back to global bindings: `q` types a q.
    fn uses_global(self) -> bool {
        !matches!(self, Context::Composer | Context::Input)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub keys: Vec<Key>,
    pub action: Action,
    pub desc: String,
    pub desc_ru: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawBinding {
    on: Vec<String>,
    run: String,
    #[serde(default)]
    desc: Option<String>,
    #[serde(default)]
    desc_ru: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawContext {
    #[serde(default)]
    keys: Vec<RawBinding>,
}

#[derive(Debug, Clone, Default)]
pub struct Keymap {
    pub contexts: BTreeMap<Context, Vec<Binding>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    Action(Action),
    /// The keys so far start a chord; wait for more.
    Pending,
    Unbound,
}

impl Keymap {
    /// The shipped keymap. It is checked by tests, so errors here cannot happen in a release.
    pub fn shipped() -> Keymap {
        let mut km = Keymap::default();
        let _ = km.patch(DEFAULT);
        km
    }

    /// Shipped defaults patched by a user file; problems are returned, never fatal.
    pub fn load(user: Option<&str>) -> (Keymap, Vec<String>) {
        let mut km = Self::shipped();
        let errors = match user {
            Some(text) => km.patch(text),
            None => Vec::new(),
        };
        (km, errors)
    }

    /// Applies a keymap file on top of this one. Each bad entry is skipped and reported.
    pub fn patch(&mut self, text: &str) -> Vec<String> {
        let mut errors = Vec::new();
        let raw: BTreeMap<String, RawContext> = match toml::from_str(text) {
            Ok(r) => r,
            Err(e) => return vec![format!("keymap: {}", e.message())],
        };
        for (ctx_name, ctx) in raw {
            let Some(context) = Context::parse(&ctx_name) else {
                errors.push(format!("keymap: unknown context [{ctx_name}]"));
                continue;
            };
            for b in ctx.keys {
                let keys: Result<Vec<Key>, _> = b.on.iter().map(|k| parse_key(k)).collect();
                let keys = match keys {
                    Ok(k) if !k.is_empty() => k,
                    Ok(_) => {
                        errors.push(format!("keymap [{ctx_name}]: a binding has no keys"));
                        continue;
                    }
                    Err(e) => {
                        errors.push(format!("keymap [{ctx_name}]: {e}"));
                        continue;
                    }
                };
                let list = self.contexts.entry(context).or_default();
                if b.run == "none" {
                    list.retain(|x| x.keys != keys);
                    continue;
                }
                let action = match Action::parse(&b.run) {
                    Ok(a) => a,
                    Err(e) => {
                        errors.push(format!("keymap [{ctx_name}] {}: {e}", b.on.join(" ")));
                        continue;
                    }
                };
                let binding = Binding {
                    keys: keys.clone(),
                    desc: b.desc.unwrap_or_else(|| action.to_string()),
                    desc_ru: b.desc_ru,
                    action,
                };
                match list.iter_mut().find(|x| x.keys == keys) {
                    Some(slot) => *slot = binding,
                    None => list.push(binding),
                }
            }
        }
        errors
    }

    /// What the keys typed so far mean in `context`.
    pub fn resolve(&self, context: Context, keys: &[Key]) -> Resolved {
        let mut chain = vec![context];
        if context.uses_global() {
            chain.push(Context::Global);
        }
        let mut pending = false;
        for ctx in chain {
            for b in self.contexts.get(&ctx).map(Vec::as_slice).unwrap_or(&[]) {
                if b.keys == keys {
                    return Resolved::Action(b.action.clone());
                }
                if b.keys.len() > keys.len() && b.keys.starts_with(keys) {
                    pending = true;
                }
            }
        }
        if pending { Resolved::Pending } else { Resolved::Unbound }
    }

    /// Bindings shown by `?` in a context: its own, then the global ones.
    pub fn help(&self, context: Context) -> Vec<&Binding> {
        let mut out: Vec<&Binding> = self.contexts.get(&context).map(|v| v.iter().collect()).unwrap_or_default();
        if context.uses_global() {
            out.extend(self.contexts.get(&Context::Global).into_iter().flatten());
        }
        out
    }

    /// The first key sequence bound to `action` in `context`, for hints.
    pub fn key_for(&self, context: Context, action: &Action) -> Option<String> {
        self.help(context)
            .into_iter()
            .find(|b| &b.action == action)
            .map(|b| b.keys.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(" "))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_shipped_russian_description_reads_as_russian() {
        let km = super::Keymap::shipped();
        for context in super::Context::ALL {
            for b in km.help(context) {
                let ru = b.desc_ru.as_deref().unwrap_or_else(|| panic!("{:?} has no Russian", b.desc));
                assert_eq!(crate::i18n::english_leak(ru), None, "{ru}");
            }
        }
    }

    use super::*;
    use crate::tui::keys::parse_keys;

    #[test]
    fn shipped_keymap_is_clean() {
        let mut km = Keymap::default();
        let errors = km.patch(DEFAULT);
        assert!(errors.is_empty(), "{errors:?}");
        for ctx in Context::ALL {
            assert!(km.contexts.contains_key(&ctx), "context {ctx:?} missing");
        }
        // Never bind C-s or C-q: XON/XOFF.
        for b in km.contexts.values().flatten() {
            for k in &b.keys {
                let s = k.to_string();
                assert!(s != "<C-s>" && s != "<C-q>", "{s} is bound");
            }
        }
    }

    #[test]
    fn chords_resolve() {
        let km = Keymap::shipped();
        let g = parse_keys("g").expect("g");
        assert_eq!(km.resolve(Context::Conversations, &g), Resolved::Pending);
        let gg = parse_keys("g g").expect("gg");
        assert_eq!(km.resolve(Context::Conversations, &gg), Resolved::Action(Action::Top));
        let gu = parse_keys("g u").expect("gu");
        assert_eq!(km.resolve(Context::Thread, &gu), Resolved::Action(Action::ViewUnanswered));
        let q = parse_keys("q").expect("q");
        assert_eq!(km.resolve(Context::Composer, &q), Resolved::Unbound);
    }

    #[test]
    fn user_file_patches_and_reports() {
        let user = r#"
[conversations]
keys = [
  { on = ["n"], run = "down", desc = "mine" },
  { on = ["j"], run = "fly_to_moon" },
  { on = ["<Hyper-z>"], run = "up" },
  { on = ["x"], run = "none" },
]
[nowhere]
keys = []
"#;
        let (km, errors) = Keymap::load(Some(user));
        assert_eq!(errors.len(), 3, "{errors:?}");
        let j = parse_keys("j").expect("j");
        assert_eq!(km.resolve(Context::Conversations, &j), Resolved::Action(Action::Down), "default kept");
        let n = parse_keys("n").expect("n");
        assert_eq!(km.resolve(Context::Conversations, &n), Resolved::Action(Action::Down));
        let x = parse_keys("x").expect("x");
        assert_eq!(km.resolve(Context::Conversations, &x), Resolved::Unbound);
        let (_, errors) = Keymap::load(Some("this is = = not toml"));
        assert_eq!(errors.len(), 1);
    }
}
