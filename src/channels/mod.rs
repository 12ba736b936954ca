//! Channel workers: each turns one protocol into normalised `Inbound` batches
//! for the store and sends what the outbox hands it. `registry` says what each
//! kind of channel can carry.

pub mod email;
pub mod placeholder;
pub mod registry;
pub mod telegram;
pub mod whatsapp;
