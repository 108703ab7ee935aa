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
    let body = match &input.data {
        Data::Struct(s) => {
            let fields = filtered_fields(&s.fields, &keep);
            let semi = if matches!(s.fields, Fields::Named(_)) { quote!() } else { quote!(;) };
            quote!(struct #shadow #fields #semi)
        }
        Data::Enum(e) => {
            let variants = e.variants.iter().map(|v| {
                let v_attrs = v.attrs.iter().filter(|a| keep(a));
                let v_ident = &v.ident;
                let fields = filtered_fields(&v.fields, &keep);
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

fn filtered_fields(fields: &Fields, keep: &dyn Fn(&Attribute) -> bool) -> TokenStream {
    let field_tokens = fields.iter().map(|f| {
        let attrs = f.attrs.iter().filter(|a| keep(a));
        let vis = &f.vis;
        let ty = &f.ty;
        match &f.ident {
            Some(ident) => quote!(#(#attrs)* #vis #ident: #ty),
            None => quote!(#(#attrs)* #vis #ty),
        }
    });
    match fields {
        Fields::Named(_) => quote!({ #(#field_tokens),* }),
        Fields::Unnamed(_) => quote!(( #(#field_tokens),* )),
        Fields::Unit => quote!(),
    }
}
