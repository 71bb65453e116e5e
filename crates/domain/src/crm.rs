//! The CRM records: companies, persons, activities and sales.
//!
//! Each record type is described once here — its fields, which of them are stored in which
//! kind of column, which point at other records — and the store's one generic repository
//! does the rest. Adding a field is a change to the struct, its input, its column list and a
//! migration; nothing else repeats it.

mod entity;
mod records;
mod validate;

pub use entity::{Column, ColumnKind, Entity, EntityKind, Link};
pub use records::*;
pub use validate::Validate;
