//! Parses and validates `#[connector(...)]` (and `#[transform(...)]`, ...) into [`PluginAttr`],
//! with every error spanned on the token that caused it.

use syn::punctuated::Punctuated;
use syn::{Attribute, DeriveInput, ExprPath, LitStr, Token, Type};

use crate::target::DeriveKind;

/// What the attribute said.
#[derive(Default)]
pub struct PluginAttr {
    pub name: Option<LitStr>,
    pub version: Option<LitStr>,
    pub aliases: Vec<LitStr>,
    pub task: Option<Type>,
    pub split: Option<Split>,
    pub plan: Option<ExprPath>,
    pub validate: Option<ExprPath>,
    pub key_value: bool,
}

/// How a connector splits into task configurations (`split = ...`).
pub enum Split {
    /// A function `fn(&Self, usize) -> Vec<Self>`.
    Function(ExprPath),
    /// `identical`: `connect_sdk::split::identical`.
    Identical(proc_macro2::Span),
    /// `each(field)`: `connect_sdk::split::each` over the list `field`.
    Each(syn::Ident),
}

/// Collects several errors into one `syn::Error`.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(existing) => existing.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub fn into_result(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Reads the derive's attribute off `input` and checks the item's shape.
pub fn parse(input: &DeriveInput, kind: DeriveKind) -> Result<PluginAttr, syn::Error> {
    let mut errors = Errors::default();
    check_shape(input, kind, &mut errors);
    let mut parsed = PluginAttr::default();
    let mut seen: Option<&Attribute> = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident(kind.attribute())) {
        if seen.is_some() {
            errors.push(syn::Error::new_spanned(
                attr,
                format!("duplicate #[{}(...)] attribute; put all keys in one attribute", kind.attribute()),
            ));
            continue;
        }
        seen = Some(attr);
        if let Err(e) = read_keys(attr, kind, &mut parsed) {
            errors.push(e);
        }
    }
    if kind.is_connector() && parsed.task.is_none() && errors.0.is_none() {
        let message = format!("#[derive({})] needs the task type: add `#[connector(task = YourTask)]`", kind.trait_name());
        errors.push(match seen {
            Some(attr) => syn::Error::new_spanned(attr, message),
            None => syn::Error::new(input.ident.span(), message),
        });
    }
    errors.into_result().map(|()| parsed)
}

fn check_shape(input: &DeriveInput, kind: DeriveKind, errors: &mut Errors) {
    match &input.data {
        syn::Data::Struct(s) if matches!(s.fields, syn::Fields::Named(_)) => {}
        syn::Data::Struct(s) => errors.push(syn::Error::new_spanned(
            &s.fields,
            format!("#[derive({})] needs a struct with named fields: each field is a configuration key", kind.trait_name()),
        )),
        syn::Data::Enum(e) => errors.push(syn::Error::new(
            e.enum_token.span,
            format!("#[derive({})] is for structs: an enum cannot be a configuration with keys", kind.trait_name()),
        )),
        syn::Data::Union(u) => {
            errors.push(syn::Error::new(u.union_token.span, format!("#[derive({})] is for structs, not unions", kind.trait_name())))
        }
    }
    if let Some(param) = input.generics.params.first() {
        errors.push(syn::Error::new_spanned(
            param,
            format!("#[derive({})] does not support generic parameters: a registered plugin is one concrete type", kind.trait_name()),
        ));
    }
}

fn read_keys(attr: &Attribute, kind: DeriveKind, parsed: &mut PluginAttr) -> syn::Result<()> {
    if !matches!(attr.meta, syn::Meta::List(_)) {
        return Err(syn::Error::new_spanned(attr, format!("expected #[{}(key = value, ...)]", kind.attribute())));
    }
    let mut seen_keys: Vec<String> = Vec::new();
    attr.parse_nested_meta(|meta| {
        let key = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
        if !kind.keys().contains(&key.as_str()) {
            return Err(meta.error(unknown_key(&key, kind)));
        }
        if seen_keys.contains(&key) {
            return Err(meta.error(format!("duplicate key `{key}`")));
        }
        seen_keys.push(key.clone());
        match key.as_str() {
            "name" => parsed.name = Some(plugin_name(meta.value()?.parse()?)?),
            "version" => {
                let version: LitStr = meta.value()?.parse()?;
                if version.value().trim().is_empty() {
                    return Err(syn::Error::new(version.span(), "the version cannot be empty"));
                }
                parsed.version = Some(version);
            }
            "aliases" => {
                let value = meta.value()?;
                let content;
                syn::bracketed!(content in value);
                let list = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
                parsed.aliases = list.into_iter().map(plugin_name).collect::<syn::Result<_>>()?;
            }
            "task" => parsed.task = Some(meta.value()?.parse()?),
            "split" => {
                let expr: syn::Expr = meta.value()?.parse()?;
                if seen_keys.iter().any(|k| k == "plan") {
                    return Err(syn::Error::new_spanned(expr, "`plan` replaces `split`: keep one (`plan` may return the same split)"));
                }
                parsed.split = Some(split(expr)?);
            }
            "plan" => {
                let path = fn_path(&meta, "plan", "async fn(&Self, usize) -> Result<TaskPlan<Self>>")?;
                if seen_keys.iter().any(|k| k == "split") {
                    return Err(syn::Error::new_spanned(path, "`plan` replaces `split`: keep one (`plan` may return the same split)"));
                }
                parsed.plan = Some(path);
            }
            "validate" => parsed.validate = Some(fn_path(&meta, "validate", "fn(&Self) -> Result<(), ConfigErrors>")?),
            "key_value" => {
                if meta.input.peek(Token![=]) {
                    return Err(meta.error("`key_value` is a flag: write `key_value` without a value"));
                }
                parsed.key_value = true;
            }
            _ => unreachable!("keys() lists every handled key"),
        }
        Ok(())
    })
}

/// `identical`, `each(field)` or the path of a split function.
fn split(expr: syn::Expr) -> syn::Result<Split> {
    const EXPECTED: &str = "`split` takes `identical`, `each(<list field>)` or the path of a function \
        `fn(&Self, usize) -> Vec<Self>`, e.g. `split = Self::split`";
    match expr {
        syn::Expr::Path(path) if path.path.is_ident("identical") => Ok(Split::Identical(path.path.segments[0].ident.span())),
        syn::Expr::Path(path) => Ok(Split::Function(path)),
        syn::Expr::Call(call) if matches!(&*call.func, syn::Expr::Path(f) if f.path.is_ident("each")) => {
            match (call.args.len(), call.args.first()) {
                (1, Some(syn::Expr::Path(field))) if field.path.get_ident().is_some() => {
                    Ok(Split::Each(field.path.get_ident().expect("checked").clone()))
                }
                _ => Err(syn::Error::new_spanned(&call.args, "`each` takes one field: the list to split, e.g. `split = each(tables)`")),
            }
        }
        other => Err(syn::Error::new_spanned(other, EXPECTED)),
    }
}

fn fn_path(meta: &syn::meta::ParseNestedMeta<'_>, key: &str, signature: &str) -> syn::Result<ExprPath> {
    let value = meta.value()?;
    let expr: syn::Expr = value.parse()?;
    match expr {
        syn::Expr::Path(path) => Ok(path),
        other => {
            Err(syn::Error::new_spanned(other, format!("`{key}` takes the path of a function `{signature}`, e.g. `{key} = Self::{key}`")))
        }
    }
}

fn plugin_name(name: LitStr) -> syn::Result<LitStr> {
    let value = name.value();
    if value.is_empty() {
        return Err(syn::Error::new(name.span(), "a plugin name cannot be empty"));
    }
    if let Some(bad) = value.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '$'))) {
        return Err(syn::Error::new(
            name.span(),
            format!("a plugin name may only use letters, digits, `-`, `_`, `.` and `$`; found `{bad}`"),
        ));
    }
    Ok(name)
}

fn unknown_key(key: &str, kind: DeriveKind) -> String {
    let known = kind.keys();
    let close = known.iter().find(|k| strsim::osa_distance(k, key) <= 2);
    let list = known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
    match close {
        Some(k) => format!("unknown key `{key}` in #[{}(...)]; did you mean `{k}`? (expected one of {list})", kind.attribute()),
        None => format!("unknown key `{key}` in #[{}(...)]; expected one of {list}", kind.attribute()),
    }
}
