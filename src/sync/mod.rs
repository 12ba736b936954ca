//! Background work: the outbox dispatcher and the channel workers it drives.

pub mod clock;
pub mod dispatcher;
pub mod lock;
pub mod workers;
