//! The domain types every ykt stage shares, and nothing else.
//!
//! This crate depends on no stage and no database driver. It holds:
//! - the legacy tables exactly as found ([`LegacyTable`], rows of raw text),
//! - the new-platform rows ([`platform`]),
//! - the decision codes of the mapping rules ([`RejectCode`], [`CorrectionCode`], [`AuditFlag`]),
//!   each with its Chinese explanation,
//! - money ([`Money`], a `rust_decimal::Decimal`, never a float),
//! - the Shaanxi region reference as of 2020-12-31 ([`Regions`]).
//!
//! ```
//! use ykt_domain::{Regions, CountyResolution, id_check_char};
//! let regions = Regions::shaanxi();
//! assert_eq!(regions.resolve_county("610821"), CountyResolution::Remapped("610881"));
//! assert_eq!(id_check_char(b"11010519491231002"), Some(b'X'));
//! ```

mod codes;
mod id_number;
mod legacy;
mod mask;
mod money;
pub mod platform;
mod region;
pub mod rules;
mod time;

pub use codes::{AuditFlag, CodeEntry, CorrectionCode, RejectCode, catalogue, catalogue_markdown};
pub use id_number::id_check_char;
pub use legacy::{ColumnKind, LegacyColumn, LegacyRow, LegacyTable, canonical_bigint};
pub use mask::{Masker, mask_account, mask_id, mask_name};
pub use money::{Money, format_money, parse_money, two_decimals};
pub use region::{County, CountyResolution, Regions, UNATTRIBUTED_COUNTY};
pub use time::{beijing, beijing_now, beijing_stamp};
