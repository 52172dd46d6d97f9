//! Conversions between what PostgreSQL stores and the domain types: BIGINTs
//! narrowed to Rust's smaller or unsigned types, rows to values, both shared by
//! every backend. (Times need none: `timestamptz` is a `DateTime<Utc>` as it is.)

pub(crate) use keeper_store::backend::{attach_roles, from_rows, narrow, rank_from_counts};
