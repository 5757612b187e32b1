//! The built-in rule tables, one file per language. Every table applies to
//! every message (customers mix languages); a pattern that would mean
//! something harmless in another supported language must carry enough
//! context to tell ("Brand" is a fire in German and a label in English).

mod de;
mod en;
mod es;
mod fr;
mod hi;
mod pt;
mod ta;

use crate::patterns::RuleSpec;

/// The built-in tables with their language codes.
pub(crate) const TABLES: &[(&str, &[RuleSpec])] = &[
    ("en", en::RULES),
    ("es", es::RULES),
    ("fr", fr::RULES),
    ("de", de::RULES),
    ("pt", pt::RULES),
    ("hi", hi::RULES),
    ("ta", ta::RULES),
];

/// Every built-in rule, English first (the detector walks [`TABLES`] to
/// know each rule's language).
#[cfg(test)]
pub(crate) fn built_in() -> impl Iterator<Item = &'static RuleSpec> {
    TABLES.iter().flat_map(|(_, rules)| rules.iter())
}
