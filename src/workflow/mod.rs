//! The craft's rules as code: templates now; deadlines, hours and SLA build on them.

pub mod automatic;
pub mod calendar;
pub mod closing;
pub mod deadline;
pub mod replies;
pub mod sla;
pub mod templates;
pub mod tone;
