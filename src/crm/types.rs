//! CRM field types, per CRM kind, and which of them a write-back may target.
//!
//! The two CRMs name their types differently; [`FieldType`] holds both vocabularies (serde
//! names in `snake_case`, as they appear in a field catalogue) and says which CRM each one
//! belongs to. The types a write-back cannot map are the ones the Copilot for Sales FAQ lists
//! ("Quels champs ne peuvent pas être personnalisés ?"): see [`FieldType::unmappable_reason`].

use serde::{Deserialize, Serialize};

/// The CRM a record is shaped for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrmKind {
    /// Dynamics 365-like (Dataverse entities and attributes, Web API upserts by alternate key).
    Dynamics,
    /// Salesforce-like (sObjects and fields, REST upserts by external id field).
    Salesforce,
}

impl CrmKind {
    /// Both kinds, in a fixed order.
    pub const ALL: [CrmKind; 2] = [CrmKind::Dynamics, CrmKind::Salesforce];

    /// The lower-case name (`dynamics`, `salesforce`): topic names, metric labels, docs.
    pub fn name(self) -> &'static str {
        match self {
            CrmKind::Dynamics => "dynamics",
            CrmKind::Salesforce => "salesforce",
        }
    }

    /// The CRM kind a tenant's configuration routes to; `None` for no write-back.
    pub fn of_tenant(crm: crate::tenant::Crm) -> Option<CrmKind> {
        match crm {
            crate::tenant::Crm::Dynamics => Some(CrmKind::Dynamics),
            crate::tenant::Crm::Salesforce => Some(CrmKind::Salesforce),
            crate::tenant::Crm::None => None,
        }
    }
}

impl std::fmt::Display for CrmKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A CRM field type as a field catalogue states it (serde name in brackets). A catalogue
/// belongs to one CRM; [`FieldType::exists_in`] says which types each CRM has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Both: a choice (`picklist`). Dynamics takes integer option values, Salesforce labels.
    Picklist,
    /// Both: date and time (`date_time`), written as RFC 3339 with offset.
    DateTime,
    /// Both: a lookup to another record (`lookup`), written from its external id.
    Lookup,
    /// Dynamics single line of text (`string`).
    String,
    /// Dynamics multiple lines of plain text (`memo`).
    Memo,
    /// Dynamics whole number (`integer`).
    Integer,
    /// Dynamics big integer (`big_int`).
    BigInt,
    /// Dynamics decimal number (`decimal`).
    Decimal,
    /// Dynamics floating point number (`double`).
    Double,
    /// Dynamics two options (`boolean`).
    Boolean,
    /// Dynamics date-only (`date_only`: DateTime with the DateOnly behaviour).
    DateOnly,
    /// Dynamics entity id (`uniqueidentifier`, the primary key): not mappable.
    Uniqueidentifier,
    /// Dynamics file column (`file`): not mappable.
    File,
    /// Dynamics image column (`image`): not mappable.
    Image,
    /// Dynamics rich text (`rich_text`: Memo with the RichText format): not mappable.
    RichText,
    /// Dynamics multi-select choice (`multi_select_option_set`): not mappable.
    MultiSelectOptionSet,
    /// Salesforce Text (`text`).
    Text,
    /// Salesforce Text Area (`text_area`).
    TextArea,
    /// Salesforce Text Area (Long) (`long_text_area`).
    LongTextArea,
    /// Salesforce Number (`number`).
    Number,
    /// Salesforce Checkbox (`checkbox`).
    Checkbox,
    /// Salesforce Date (`date`).
    Date,
    /// Salesforce record id (`id`): not mappable.
    Id,
    /// Salesforce Geolocation (`geolocation`): not mappable.
    Geolocation,
    /// Salesforce Text Area (Rich) (`rich_text_area`): not mappable.
    RichTextArea,
    /// Salesforce Text (Encrypted) (`encrypted_text_area`): not mappable.
    EncryptedTextArea,
    /// Salesforce External Lookup Relationship (`external_lookup`): not mappable.
    ExternalLookup,
    /// Salesforce Picklist (Multi-Select) (`multi_select_picklist`): not mappable.
    MultiSelectPicklist,
}

/// What kind of value a field holds, independent of the CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    /// Text.
    Text,
    /// Whole number.
    Integer,
    /// Number with decimals.
    Decimal,
    /// True or false.
    Boolean,
    /// Calendar date, `YYYY-MM-DD`.
    Date,
    /// RFC 3339 date-time with offset.
    DateTime,
    /// The external id of another record (a lookup).
    Reference,
}

impl ValueKind {
    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            ValueKind::Text => "text",
            ValueKind::Integer => "integer",
            ValueKind::Decimal => "decimal",
            ValueKind::Boolean => "boolean",
            ValueKind::Date => "date",
            ValueKind::DateTime => "date_time",
            ValueKind::Reference => "reference",
        }
    }
}

impl FieldType {
    /// Every type, in declaration order.
    pub const ALL: [FieldType; 28] = [
        FieldType::Picklist,
        FieldType::DateTime,
        FieldType::Lookup,
        FieldType::String,
        FieldType::Memo,
        FieldType::Integer,
        FieldType::BigInt,
        FieldType::Decimal,
        FieldType::Double,
        FieldType::Boolean,
        FieldType::DateOnly,
        FieldType::Uniqueidentifier,
        FieldType::File,
        FieldType::Image,
        FieldType::RichText,
        FieldType::MultiSelectOptionSet,
        FieldType::Text,
        FieldType::TextArea,
        FieldType::LongTextArea,
        FieldType::Number,
        FieldType::Checkbox,
        FieldType::Date,
        FieldType::Id,
        FieldType::Geolocation,
        FieldType::RichTextArea,
        FieldType::EncryptedTextArea,
        FieldType::ExternalLookup,
        FieldType::MultiSelectPicklist,
    ];

    /// The catalogue name (the serde name: `string`, `multi_select_option_set`...).
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Picklist => "picklist",
            FieldType::DateTime => "date_time",
            FieldType::Lookup => "lookup",
            FieldType::String => "string",
            FieldType::Memo => "memo",
            FieldType::Integer => "integer",
            FieldType::BigInt => "big_int",
            FieldType::Decimal => "decimal",
            FieldType::Double => "double",
            FieldType::Boolean => "boolean",
            FieldType::DateOnly => "date_only",
            FieldType::Uniqueidentifier => "uniqueidentifier",
            FieldType::File => "file",
            FieldType::Image => "image",
            FieldType::RichText => "rich_text",
            FieldType::MultiSelectOptionSet => "multi_select_option_set",
            FieldType::Text => "text",
            FieldType::TextArea => "text_area",
            FieldType::LongTextArea => "long_text_area",
            FieldType::Number => "number",
            FieldType::Checkbox => "checkbox",
            FieldType::Date => "date",
            FieldType::Id => "id",
            FieldType::Geolocation => "geolocation",
            FieldType::RichTextArea => "rich_text_area",
            FieldType::EncryptedTextArea => "encrypted_text_area",
            FieldType::ExternalLookup => "external_lookup",
            FieldType::MultiSelectPicklist => "multi_select_picklist",
        }
    }

    /// `true` when `crm` has this type (a catalogue naming a type of the other CRM is refused).
    pub fn exists_in(self, crm: CrmKind) -> bool {
        use FieldType::*;
        match self {
            Picklist | DateTime | Lookup => true,
            String | Memo | Integer | BigInt | Decimal | Double | Boolean | DateOnly
            | Uniqueidentifier | File | Image | RichText | MultiSelectOptionSet => {
                crm == CrmKind::Dynamics
            }
            Text | TextArea | LongTextArea | Number | Checkbox | Date | Id | Geolocation
            | RichTextArea | EncryptedTextArea | ExternalLookup | MultiSelectPicklist => {
                crm == CrmKind::Salesforce
            }
        }
    }

    /// Why a write-back cannot target this type, or `None` when it can. The lists are the
    /// FAQ's: Dynamics file, image, rich text, multi-select option set and the entity id;
    /// Salesforce geolocation, rich text area, encrypted text area, external lookup
    /// relationship, multi-select picklist and the entity id. (Dynamics attributes that are
    /// not valid OData attributes are refused from the catalogue flag, not from the type.)
    pub fn unmappable_reason(self) -> Option<&'static str> {
        use FieldType::*;
        match self {
            File => Some("Dynamics file columns cannot be mapped"),
            Image => Some("Dynamics image columns cannot be mapped"),
            RichText => Some("Dynamics rich text columns cannot be mapped"),
            MultiSelectOptionSet => Some("Dynamics multi-select option sets cannot be mapped"),
            Uniqueidentifier | Id => Some("the entity id cannot be mapped"),
            Geolocation => Some("Salesforce geolocation fields cannot be mapped"),
            RichTextArea => Some("Salesforce rich text areas cannot be mapped"),
            EncryptedTextArea => Some("Salesforce encrypted text areas cannot be mapped"),
            ExternalLookup => Some("Salesforce external lookup relationships cannot be mapped"),
            MultiSelectPicklist => Some("Salesforce multi-select picklists cannot be mapped"),
            _ => None,
        }
    }

    /// Whether a field of this type in `crm` takes a value of `kind`. Text-like types take
    /// every kind but references (written as text); numbers take integers and decimals;
    /// lookups take only references; unmappable types take nothing. Dynamics choices take
    /// integer option values, Salesforce picklists text.
    pub fn accepts(self, crm: CrmKind, kind: ValueKind) -> bool {
        use FieldType::*;
        use ValueKind as V;
        match self {
            Picklist => match crm {
                CrmKind::Dynamics => kind == V::Integer,
                CrmKind::Salesforce => kind != V::Reference,
            },
            String | Memo | Text | TextArea | LongTextArea => kind != V::Reference,
            Integer | BigInt => kind == V::Integer,
            Decimal | Double | Number => matches!(kind, V::Integer | V::Decimal),
            Boolean | Checkbox => kind == V::Boolean,
            DateOnly | Date => kind == V::Date,
            DateTime => kind == V::DateTime,
            Lookup => kind == V::Reference,
            Uniqueidentifier | File | Image | RichText | MultiSelectOptionSet | Id
            | Geolocation | RichTextArea | EncryptedTextArea | ExternalLookup
            | MultiSelectPicklist => false,
        }
    }

    /// `true` for the types a value is written to as text (whatever its kind).
    pub fn is_text(self, crm: CrmKind) -> bool {
        use FieldType::*;
        match self {
            String | Memo | Text | TextArea | LongTextArea => true,
            Picklist => crm == CrmKind::Salesforce,
            _ => false,
        }
    }
}

impl std::fmt::Display for FieldType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serde_names() {
        for t in FieldType::ALL {
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.name()));
            assert_eq!(serde_json::from_str::<FieldType>(&json).unwrap(), t);
        }
    }

    #[test]
    fn the_faq_lists_are_exactly_the_unmappable_types() {
        let unmappable: Vec<(bool, bool, &str)> = FieldType::ALL
            .iter()
            .filter(|t| t.unmappable_reason().is_some())
            .map(|t| {
                (
                    t.exists_in(CrmKind::Dynamics),
                    t.exists_in(CrmKind::Salesforce),
                    t.name(),
                )
            })
            .collect();
        assert_eq!(
            unmappable,
            vec![
                (true, false, "uniqueidentifier"),
                (true, false, "file"),
                (true, false, "image"),
                (true, false, "rich_text"),
                (true, false, "multi_select_option_set"),
                (false, true, "id"),
                (false, true, "geolocation"),
                (false, true, "rich_text_area"),
                (false, true, "encrypted_text_area"),
                (false, true, "external_lookup"),
                (false, true, "multi_select_picklist"),
            ]
        );
    }

    #[test]
    fn unmappable_types_accept_no_value() {
        let kinds = [
            ValueKind::Text,
            ValueKind::Integer,
            ValueKind::Decimal,
            ValueKind::Boolean,
            ValueKind::Date,
            ValueKind::DateTime,
            ValueKind::Reference,
        ];
        for t in FieldType::ALL {
            for crm in CrmKind::ALL.into_iter().filter(|c| t.exists_in(*c)) {
                let some = kinds.iter().any(|k| t.accepts(crm, *k));
                assert_eq!(some, t.unmappable_reason().is_none(), "{t} in {crm}");
            }
        }
        let (d, s) = (CrmKind::Dynamics, CrmKind::Salesforce);
        assert!(FieldType::Text.accepts(s, ValueKind::Integer));
        assert!(!FieldType::Text.accepts(s, ValueKind::Reference));
        assert!(FieldType::Picklist.accepts(d, ValueKind::Integer));
        assert!(!FieldType::Picklist.accepts(d, ValueKind::Text));
        assert!(FieldType::Picklist.accepts(s, ValueKind::Text));
        assert!(!FieldType::Date.accepts(s, ValueKind::DateTime));
        assert!(FieldType::Number.accepts(s, ValueKind::Integer));
    }
}
