//! What a config field's type must be for an option on it to mean anything: `#[config(path)]`
//! on text, `#[schemars(range(...))]` on a number. Checked at compile time, with the field's
//! type named, as the runtime would otherwise ignore the option.

use syn::{Field, GenericArgument, PathArguments, Type};

/// Integer and float type names.
const NUMBERS: &[&str] = &["u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize", "f32", "f64"];

/// `#[config(path)]` is on a `String` or `PathBuf` (or an `Option` or `Vec` of one).
pub fn holds_a_path(field: &Field, option: &syn::Path) -> syn::Result<()> {
    match innermost(&field.ty, &["Option", "Vec"]) {
        Some(name) if name == "String" || name == "PathBuf" => Ok(()),
        _ => Err(syn::Error::new_spanned(
            option,
            format!(
                "`path` marks a key holding a file path: the field must be a `String` or `PathBuf` (or an `Option` or \
                 `Vec` of one), not `{}`",
                type_text(&field.ty)
            ),
        )),
    }
}

/// A `#[schemars(range(...))]` on the field is on a number (or an `Option` of one).
pub fn range_on_a_number(field: &Field) -> syn::Result<()> {
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("schemars")) {
        let mut range = None;
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("range") {
                range = Some(meta.path.clone());
            }
            crate::serde_attrs::skip_value(&meta)
        });
        let Some(range) = range else { continue };
        let is_number = innermost(&field.ty, &["Option"]).is_some_and(|name| NUMBERS.contains(&name.as_str()));
        if !is_number {
            return Err(syn::Error::new_spanned(
                range,
                format!(
                    "`range` bounds a number: the field is `{}`; for the length of text or a list use \
                     `#[schemars(length(min = .., max = ..))]`",
                    type_text(&field.ty)
                ),
            ));
        }
    }
    Ok(())
}

/// The name of the innermost type of `ty` through the wrappers named in `through`
/// (`Option<Vec<String>>` through `Option` and `Vec`: `String`).
fn innermost(ty: &Type, through: &[&str]) -> Option<String> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    let name = last.ident.to_string();
    if through.contains(&name.as_str())
        && let PathArguments::AngleBracketed(args) = &last.arguments
        && let Some(GenericArgument::Type(inner)) = args.args.first()
    {
        return innermost(inner, through);
    }
    Some(name)
}

fn type_text(ty: &Type) -> String {
    quote::quote!(#ty).to_string().replace(" < ", "<").replace(" >", ">").replace("< ", "<")
}
