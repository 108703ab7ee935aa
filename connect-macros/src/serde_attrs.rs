//! serde's own attribute options, checked before a shadow derive hands them to serde: a
//! misspelt one then gives one error with a suggestion, not serde's error followed by errors
//! about the private copy of the type serde did not implement.

use syn::meta::ParseNestedMeta;
use syn::{Attribute, Data, DeriveInput};

/// serde's options on a struct or enum.
const CONTAINER: &[&str] = &[
    "rename",
    "rename_all",
    "rename_all_fields",
    "deny_unknown_fields",
    "tag",
    "content",
    "untagged",
    "bound",
    "default",
    "remote",
    "transparent",
    "from",
    "try_from",
    "into",
    "crate",
    "expecting",
    "variant_identifier",
    "field_identifier",
];
/// serde's options on an enum variant.
const VARIANT: &[&str] = &[
    "rename",
    "alias",
    "rename_all",
    "rename_all_fields",
    "skip",
    "skip_serializing",
    "skip_deserializing",
    "serialize_with",
    "deserialize_with",
    "with",
    "bound",
    "borrow",
    "other",
    "untagged",
];
/// serde's options on a field.
const FIELD: &[&str] = &[
    "rename",
    "alias",
    "default",
    "flatten",
    "skip",
    "skip_serializing",
    "skip_deserializing",
    "skip_serializing_if",
    "serialize_with",
    "deserialize_with",
    "with",
    "borrow",
    "bound",
    "getter",
];

/// Every `#[serde(...)]` option of `input` is one serde knows.
pub fn check(input: &DeriveInput) -> syn::Result<()> {
    let mut errors: Option<syn::Error> = None;
    let mut push = |result: syn::Result<()>| {
        if let Err(error) = result {
            match &mut errors {
                Some(errors) => errors.combine(error),
                None => errors = Some(error),
            }
        }
    };
    push(options(&input.attrs, CONTAINER, "container"));
    match &input.data {
        Data::Struct(s) => s.fields.iter().for_each(|f| push(options(&f.attrs, FIELD, "field"))),
        Data::Enum(e) => {
            for variant in &e.variants {
                push(options(&variant.attrs, VARIANT, "variant"));
                variant.fields.iter().for_each(|f| push(options(&f.attrs, FIELD, "field")));
            }
        }
        Data::Union(_) => {}
    }
    errors.map_or(Ok(()), Err)
}

fn options(attrs: &[Attribute], known: &[&str], what: &str) -> syn::Result<()> {
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            let name = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
            if !known.contains(&name.as_str()) {
                let close = known.iter().find(|k| strsim::osa_distance(k, &name) <= 2);
                let hint = close.map(|k| format!("; did you mean `{k}`?")).unwrap_or_default();
                return Err(meta.error(format!("unknown serde {what} option `{name}`{hint}")));
            }
            skip_value(&meta)
        })?;
    }
    Ok(())
}

/// Consumes the value of an option (`= ...` or `(...)`), whatever it is.
pub fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<proc_macro2::TokenStream>()?;
    }
    Ok(())
}
