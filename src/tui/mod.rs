//! The terminal UI: state, update, pure rendering, and the event loop.

pub mod action;
pub mod app;
pub mod body;
pub mod keymap;
pub mod keys;
pub mod notify;
pub mod reads;
pub mod state;
pub mod theme;
pub mod ui;
