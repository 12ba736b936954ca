//! Search as a person types it: words in their forms, a small query language,
//! and where the matches are in a text. Pure: the store runs what this builds.

pub mod authored;
pub mod query;
pub mod words;
