//! The mapping rules: legacy values to platform values, every decision named by a code.
//!
//! The field rules live in `ykt_domain::rules`, one function per kind of legacy value (`mapping-rules.md` § Field rules);
//! [`transform`] applies them to a whole staged extract: precedence, the merge of duplicate
//! people, references between tables and the county each row belongs to. Every legacy row
//! ends up loaded, merged or rejected. The transform is a pure function of the stage: the same
//! stage gives the same output, byte for byte.

mod allocations;
mod batches;
mod beneficiaries;
mod payments;
mod pipeline;
mod programs;
mod regions;
mod survivors;

pub use pipeline::{TransformError, transform};
