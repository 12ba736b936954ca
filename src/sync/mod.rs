//! Background work: the outbox dispatcher and the channel workers it drives.

pub mod dispatcher;
