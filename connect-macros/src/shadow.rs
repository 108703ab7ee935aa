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
    let vis = &input.vis;
    let shadow = format_ident!("__ConnectSdkShadowOf{}", ident);
    let keep = |attr: &Attribute| {
        attr.path().is_ident("serde") || attr.path().is_ident("doc") || (kind == ShadowKind::JsonSchema && attr.path().is_ident("schemars"))
    };
    let attrs: Vec<&Attribute> = input.attrs.iter().filter(|a| keep(a)).collect();
    let config_attrs = kind == ShadowKind::JsonSchema;
    let body = match &input.data {
        Data::Struct(s) => {
            let fields = match filtered_fields(&s.fields, &keep, config_attrs) {
                Ok(fields) => fields,
                Err(error) => return error.to_compile_error(),
            };
            let semi = if matches!(s.fields, Fields::Named(_)) { quote!() } else { quote!(;) };
            quote!(struct #shadow #fields #semi)
        }
        Data::Enum(e) => {
            let variants = e.variants.iter().map(|v| {
                let v_attrs = v.attrs.iter().filter(|a| keep(a));
                let v_ident = &v.ident;
                let fields = filtered_fields(&v.fields, &keep, false).unwrap_or_else(|e| e.to_compile_error());
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
    match kind {
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
    }
}

/// The fields of the shadow copy: the attributes serde or schemars read, and for the schema
/// each `#[config(...)]` written as the schema extensions the SDK reads.
fn filtered_fields(fields: &Fields, keep: &dyn Fn(&Attribute) -> bool, config_attrs: bool) -> syn::Result<TokenStream> {
    let mut field_tokens = Vec::new();
    for f in fields {
        let attrs = f.attrs.iter().filter(|a| keep(a));
        let extensions = if config_attrs { config_extensions(&f.attrs)? } else { TokenStream::new() };
        let vis = &f.vis;
        let ty = &f.ty;
        field_tokens.push(match &f.ident {
            Some(ident) => quote!(#(#attrs)* #extensions #vis #ident: #ty),
            None => quote!(#(#attrs)* #extensions #vis #ty),
        });
    }
    Ok(match fields {
        Fields::Named(_) => quote!({ #(#field_tokens),* }),
        Fields::Unnamed(_) => quote!(( #(#field_tokens),* )),
        Fields::Unit => quote!(),
    })
}

/// `#[config(task_only)]`, `#[config(path)]`, `#[config(remote = "s3")]`, `#[config(topic)]`,
/// `#[config(topic_part)]` and `#[config(alias = "...")]` as `#[schemars(extend(...))]`.
fn config_extensions(attrs: &[Attribute]) -> syn::Result<TokenStream> {
    let mut task_only = false;
    let mut path = false;
    let mut aliases: Vec<syn::LitStr> = Vec::new();
    let mut remote: Vec<syn::LitStr> = Vec::new();
    let mut topic: Option<&str> = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("config")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("task_only") {
                task_only = true;
                Ok(())
            } else if meta.path.is_ident("path") {
                path = true;
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
                Err(meta.error(
                    "unknown config option; expected `task_only`, `path`, `remote = \"scheme\"`, `topic`, `topic_part` or `alias = \"...\"`",
                ))
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
