//! `Serialize`, `Deserialize` and `JsonSchema` derives that work with only `connect-sdk` as a
//! dependency: each expands to serde's or schemars' derive on a private copy of the type
//! (a "shadow", through serde's `remote` support), pointed at the crates connect-sdk
//! re-exports, plus a delegating impl for the user's type.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Attribute, Data, DeriveInput, Fields};

/// Which derive.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ShadowKind {
    Serialize,
    Deserialize,
    JsonSchema,
}

/// Expands one of the three derives.
pub fn derive(input: DeriveInput, kind: ShadowKind) -> TokenStream {
    if let Some(param) = input.generics.params.first() {
        return syn::Error::new_spanned(
            param,
            "connect-sdk's derives do not support generic types; add `serde`/`schemars` to your Cargo.toml and derive theirs",
        )
        .to_compile_error();
    }
    let ident = &input.ident;
    // A misspelt serde option is reported once (the three derives report the same error,
    // which the compiler shows once), with impls that stand in so nothing else fails.
    if let Err(error) = crate::serde_attrs::check(&input) {
        let mut tokens = error.to_compile_error();
        tokens.extend(stand_in(ident, kind));
        return tokens;
    }
    let vis = &input.vis;
    let shadow = format_ident!("__ConnectSdkShadowOf{}", ident);
    let keep = |attr: &Attribute| {
        attr.path().is_ident("serde") || attr.path().is_ident("doc") || (kind == ShadowKind::JsonSchema && attr.path().is_ident("schemars"))
    };
    let attrs: Vec<&Attribute> = input.attrs.iter().filter(|a| keep(a)).collect();
    let config_attrs = kind == ShadowKind::JsonSchema;
    // A misused `#[config(...)]` or `#[schemars(range)]` is reported by the schema derive
    // alone; the shadow is still made, so no error follows from a missing impl.
    let mut reported = TokenStream::new();
    let body = match &input.data {
        Data::Struct(s) => {
            let container_default = has_serde_default(&input.attrs);
            let fields = match filtered_fields(&s.fields, &keep, config_attrs, container_default) {
                Ok(fields) => fields,
                Err(error) => {
                    reported = error.to_compile_error();
                    filtered_fields(&s.fields, &keep, false, true).unwrap_or_default()
                }
            };
            let semi = if matches!(s.fields, Fields::Named(_)) { quote!() } else { quote!(;) };
            quote!(struct #shadow #fields #semi)
        }
        Data::Enum(e) => {
            let variants = e.variants.iter().map(|v| {
                let v_attrs = v.attrs.iter().filter(|a| keep(a));
                let v_ident = &v.ident;
                let fields = filtered_fields(&v.fields, &keep, false, true).unwrap_or_else(|e| e.to_compile_error());
                let discriminant = v.discriminant.as_ref().map(|(eq, expr)| quote!(#eq #expr));
                quote!(#(#v_attrs)* #v_ident #fields #discriminant)
            });
            quote!(enum #shadow { #(#variants),* })
        }
        Data::Union(u) => {
            return syn::Error::new(u.union_token.span, "unions cannot be (de)serialized; use a struct or an enum").to_compile_error();
        }
    };
    let name = ident.to_string();
    let private = quote!(::connect_sdk::__private);
    let expanded = match kind {
        ShadowKind::Deserialize => quote! {
            const _: () = {
                #[derive(#private::serde::Deserialize)]
                #[serde(crate = "::connect_sdk::__private::serde", remote = #name)]
                #(#attrs)*
                #[allow(dead_code, non_camel_case_types)]
                #vis #body

                impl<'de> #private::serde::Deserialize<'de> for #ident {
                    fn deserialize<D: #private::serde::Deserializer<'de>>(deserializer: D) -> ::core::result::Result<Self, D::Error> {
                        #shadow::deserialize(deserializer)
                    }
                }
            };
        },
        ShadowKind::Serialize => quote! {
            const _: () = {
                #[derive(#private::serde::Serialize)]
                #[serde(crate = "::connect_sdk::__private::serde", remote = #name)]
                #(#attrs)*
                #[allow(dead_code, non_camel_case_types)]
                #vis #body

                impl #private::serde::Serialize for #ident {
                    fn serialize<S: #private::serde::Serializer>(&self, serializer: S) -> ::core::result::Result<S::Ok, S::Error> {
                        #shadow::serialize(self, serializer)
                    }
                }
            };
        },
        ShadowKind::JsonSchema => quote! {
            const _: () = {
                #[derive(#private::schemars::JsonSchema)]
                #[schemars(crate = "::connect_sdk::__private::schemars", rename = #name)]
                #(#attrs)*
                #[allow(dead_code, non_camel_case_types)]
                #vis #body

                impl #private::schemars::JsonSchema for #ident {
                    fn schema_name() -> ::std::borrow::Cow<'static, str> {
                        <#shadow as #private::schemars::JsonSchema>::schema_name()
                    }
                    fn schema_id() -> ::std::borrow::Cow<'static, str> {
                        ::std::borrow::Cow::Borrowed(::core::concat!(::core::module_path!(), "::", #name))
                    }
                    fn json_schema(generator: &mut #private::schemars::SchemaGenerator) -> #private::schemars::Schema {
                        <#shadow as #private::schemars::JsonSchema>::json_schema(generator)
                    }
                }
            };
        },
    };
    quote!(#reported #expanded)
}

/// Impls of `kind` for `ident` that compile whatever its attributes say, beside the error
/// that stops the build (so the error is the only one).
fn stand_in(ident: &syn::Ident, kind: ShadowKind) -> TokenStream {
    let private = quote!(::connect_sdk::__private);
    let name = ident.to_string();
    match kind {
        ShadowKind::Deserialize => quote! {
            impl<'de> #private::serde::Deserialize<'de> for #ident {
                fn deserialize<D: #private::serde::Deserializer<'de>>(_: D) -> ::core::result::Result<Self, D::Error> {
                    ::core::result::Result::Err(<D::Error as #private::serde::de::Error>::custom("does not compile"))
                }
            }
        },
        ShadowKind::Serialize => quote! {
            impl #private::serde::Serialize for #ident {
                fn serialize<S: #private::serde::Serializer>(&self, _: S) -> ::core::result::Result<S::Ok, S::Error> {
                    ::core::result::Result::Err(<S::Error as #private::serde::ser::Error>::custom("does not compile"))
                }
            }
        },
        ShadowKind::JsonSchema => quote! {
            impl #private::schemars::JsonSchema for #ident {
                fn schema_name() -> ::std::borrow::Cow<'static, str> {
                    ::std::borrow::Cow::Borrowed(#name)
                }
                fn json_schema(generator: &mut #private::schemars::SchemaGenerator) -> #private::schemars::Schema {
                    <() as #private::schemars::JsonSchema>::json_schema(generator)
                }
            }
        },
    }
}

/// Whether `attrs` hold `#[serde(default)]` or `#[serde(default = "...")]`.
fn has_serde_default(attrs: &[Attribute]) -> bool {
    attrs.iter().filter(|a| a.path().is_ident("serde")).any(|attr| {
        let mut found = false;
        let _ = attr.parse_nested_meta(|meta| {
            found |= meta.path.is_ident("default");
            crate::serde_attrs::skip_value(&meta)
        });
        found
    })
}

/// The fields of the shadow copy: the attributes serde or schemars read, and for the schema
/// each `#[config(...)]` written as the schema extensions the SDK reads.
fn filtered_fields(
    fields: &Fields,
    keep: &dyn Fn(&Attribute) -> bool,
    config_attrs: bool,
    container_default: bool,
) -> syn::Result<TokenStream> {
    let mut field_tokens = Vec::new();
    let mut errors: Option<syn::Error> = None;
    for f in fields {
        let attrs = f.attrs.iter().filter(|a| keep(a));
        let extensions = if config_attrs {
            let checked =
                config_extensions(f, container_default).and_then(|tokens| crate::field_checks::range_on_a_number(f).map(|()| tokens));
            match checked {
                Ok(tokens) => tokens,
                Err(error) => {
                    match &mut errors {
                        Some(errors) => errors.combine(error),
                        None => errors = Some(error),
                    }
                    TokenStream::new()
                }
            }
        } else {
            TokenStream::new()
        };
        let vis = &f.vis;
        let ty = &f.ty;
        field_tokens.push(match &f.ident {
            Some(ident) => quote!(#(#attrs)* #extensions #vis #ident: #ty),
            None => quote!(#(#attrs)* #extensions #vis #ty),
        });
    }
    if let Some(errors) = errors {
        return Err(errors);
    }
    Ok(match fields {
        Fields::Named(_) => quote!({ #(#field_tokens),* }),
        Fields::Unnamed(_) => quote!(( #(#field_tokens),* )),
        Fields::Unit => quote!(),
    })
}

/// `#[config(task_only)]`, `#[config(path)]`, `#[config(remote = "s3")]`, `#[config(topic)]`,
/// `#[config(topic_part)]` and `#[config(alias = "...")]` as `#[schemars(extend(...))]`.
fn config_extensions(field: &syn::Field, container_default: bool) -> syn::Result<TokenStream> {
    let attrs = &field.attrs;
    let mut task_only = false;
    let mut path = false;
    let mut aliases: Vec<syn::LitStr> = Vec::new();
    let mut remote: Vec<syn::LitStr> = Vec::new();
    let mut topic: Option<&str> = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("config")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("task_only") {
                task_only = true;
                if !container_default && !has_serde_default(&field.attrs) {
                    return Err(meta.error(
                        "a `task_only` field needs a default: users may not set it, so a config without it must still be read; \
                         add `#[serde(default)]` to the field",
                    ));
                }
                Ok(())
            } else if meta.path.is_ident("path") {
                path = true;
                crate::field_checks::holds_a_path(field, &meta.path)?;
                Ok(())
            } else if meta.path.is_ident("alias") {
                aliases.push(meta.value()?.parse()?);
                Ok(())
            } else if meta.path.is_ident("topic") {
                topic = Some("name");
                Ok(())
            } else if meta.path.is_ident("topic_part") {
                topic = Some("part");
                Ok(())
            } else if meta.path.is_ident("remote") {
                remote.push(meta.value()?.parse()?);
                Ok(())
            } else {
                let name = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
                let known = ["task_only", "path", "remote", "topic", "topic_part", "alias"];
                let hint = known.iter().find(|k| strsim::osa_distance(k, &name) <= 2).map(|k| format!("did you mean `{k}`? ")).unwrap_or_default();
                Err(meta.error(format!(
                    "unknown config option `{name}`; {hint}expected `task_only`, `path`, `remote = \"scheme\"`, `topic`, `topic_part` or `alias = \"...\"`"
                )))
            }
        })?;
    }
    let mut tokens = TokenStream::new();
    if task_only {
        tokens.extend(quote!(#[schemars(extend("x-task-only" = true))]));
    }
    if path {
        tokens.extend(quote!(#[schemars(extend("x-path" = true))]));
    }
    if !aliases.is_empty() {
        tokens.extend(quote!(#[schemars(extend("x-aliases" = [#(#aliases),*]))]));
    }
    if let Some(topic) = topic {
        tokens.extend(quote!(#[schemars(extend("x-topic" = #topic))]));
    }
    if !remote.is_empty() {
        tokens.extend(quote!(#[schemars(extend("x-remote-schemes" = [#(#remote),*]))]));
    }
    Ok(tokens)
}
