//! Channel workers: each turns one protocol into normalised `Inbound` batches
//! for the store and sends what the outbox hands it.

pub mod email;
pub mod telegram;
