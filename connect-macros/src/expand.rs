//! Expands a parsed attribute into the trait impl and the plugin registration, or into a
//! fallback impl plus the error when the attribute was wrong.

use heck::ToKebabCase;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::DeriveInput;
use syn::spanned::Spanned;

use crate::attr::{self, PluginAttr, Split};
use crate::docs::doc_comment;
use crate::target::DeriveKind;

/// Runs one derive.
pub fn derive(input: DeriveInput, kind: DeriveKind) -> TokenStream {
    match attr::parse(&input, kind) {
        Ok(parsed) => {
            let implementation = connector_impl(&input, kind, &parsed);
            let registrations = registrations(&input, kind, &parsed);
            quote! { #implementation #registrations }
        }
        Err(error) => {
            let error = error.to_compile_error();
            let fallback = fallback(&input, kind);
            quote! { #error #fallback }
        }
    }
}

fn connector_impl(input: &DeriveInput, kind: DeriveKind, parsed: &PluginAttr) -> TokenStream {
    let ident = &input.ident;
    let trait_path = match kind {
        DeriveKind::Source => quote!(::connect_sdk::SourceConnector),
        DeriveKind::Sink => quote!(::connect_sdk::SinkConnector),
        _ => return TokenStream::new(),
    };
    let task = parsed.task.as_ref().expect("attr::parse requires a task for connectors");
    let task = quote_spanned!(task.span()=> #task);
    let validate = parsed.validate.as_ref().map(|path| {
        quote_spanned! {path.span()=>
            fn validate(&self) -> ::core::result::Result<(), ::connect_sdk::config::ConfigErrors> {
                let validate: fn(&Self) -> ::core::result::Result<(), ::connect_sdk::config::ConfigErrors> = #path;
                validate(self)
            }
        }
    });
    let split = parsed.split.as_ref().map(|split| match split {
        Split::Function(path) => quote_spanned! {path.span()=>
            fn task_configs(&self, max_tasks: usize) -> ::std::vec::Vec<Self> {
                let split: fn(&Self, usize) -> ::std::vec::Vec<Self> = #path;
                split(self, max_tasks)
            }
        },
        Split::Identical(span) => quote_spanned! {*span=>
            fn task_configs(&self, max_tasks: usize) -> ::std::vec::Vec<Self> {
                ::connect_sdk::split::identical(self, max_tasks)
            }
        },
        Split::Each(field) => quote_spanned! {field.span()=>
            fn task_configs(&self, max_tasks: usize) -> ::std::vec::Vec<Self> {
                ::connect_sdk::split::each(self, max_tasks, |config: &mut Self| &mut config.#field)
            }
        },
    });
    let plan = parsed.plan.as_ref().map(|path| {
        quote_spanned! {path.span()=>
            fn plan_tasks(
                &self,
                max_tasks: usize,
            ) -> impl ::core::future::Future<Output = ::connect_sdk::Result<::connect_sdk::TaskPlan<Self>>> + ::core::marker::Send {
                #path(self, max_tasks)
            }
        }
    });
    quote! {
        impl #trait_path for #ident {
            type Task = #task;
            #validate
            #split
            #plan
        }
    }
}

fn registrations(input: &DeriveInput, kind: DeriveKind, parsed: &PluginAttr) -> TokenStream {
    let ident = &input.ident;
    let name = parsed.name.as_ref().map_or_else(|| ident.to_string().to_kebab_case(), |n| n.value());
    let version = parsed.version.as_ref().map_or_else(|| quote!(::core::env!("CARGO_PKG_VERSION")), |v| quote!(#v));
    let description = doc_comment(&input.attrs);
    let aliases = &parsed.aliases;
    let private = quote!(::connect_sdk::__private);
    let entries: Vec<(String, TokenStream, TokenStream)> = match kind {
        DeriveKind::Source => vec![(name, quote!(Source), quote!(#private::PluginFactory::Source(#private::source_factory::<#ident>())))],
        DeriveKind::Sink => vec![(name, quote!(Sink), quote!(#private::PluginFactory::Sink(#private::sink_factory::<#ident>())))],
        DeriveKind::Transform if parsed.key_value => vec![
            (format!("{name}$Key"), quote!(Transform), quote!(#private::PluginFactory::Transform(#private::key_transform::<#ident>))),
            (format!("{name}$Value"), quote!(Transform), quote!(#private::PluginFactory::Transform(#private::value_transform::<#ident>))),
        ],
        DeriveKind::Transform => {
            vec![(name, quote!(Transform), quote!(#private::PluginFactory::Transform(#private::transform::<#ident>)))]
        }
        DeriveKind::Predicate => {
            vec![(name, quote!(Predicate), quote!(#private::PluginFactory::Predicate(#private::predicate::<#ident>)))]
        }
        DeriveKind::Converter => {
            vec![(name, quote!(Converter), quote!(#private::PluginFactory::Converter(#private::converter::<#ident>)))]
        }
    };
    let alias_variants = |suffix: &str| -> Vec<String> { aliases.iter().map(|a| format!("{}{suffix}", a.value())).collect() };
    // A connector's schema is reached through its connector trait: a config without
    // `JsonSchema` is then reported once, at that trait's impl.
    let schema = match kind {
        DeriveKind::Source => quote!(#private::source_schema::<#ident>),
        DeriveKind::Sink => quote!(#private::sink_schema::<#ident>),
        _ => quote!(#private::config_schema::<#ident>),
    };
    // The SDK's own plugins (the derive runs inside rustc, which Cargo gives the crate's name).
    let in_the_sdk = std::env::var("CARGO_CRATE_NAME").is_ok_and(|name| name == "connect_sdk");
    let submissions = entries.into_iter().map(|(plugin_name, plugin_kind, factory)| {
        let suffix = plugin_name.rfind('$').map_or("", |i| &plugin_name[i..]).to_owned();
        let aliases = alias_variants(&suffix);
        let claimed: std::collections::BTreeSet<&String> = std::iter::once(&plugin_name).chain(&aliases).collect();
        let claims = claimed.into_iter().map(|claimed| {
            let symbol = format!(
                "connect plugin name \"{claimed}\" is registered twice in this binary (as a name or an alias): rename one of the two plugins (name = \"...\") or drop the alias"
            );
            let arm = in_the_sdk.then(|| quote!(sdk));
            quote_spanned!(ident.span()=> ::connect_sdk::__claim_plugin_name!(#arm #symbol);)
        });
        quote! {
            #(#claims)*
            #private::inventory::submit! {
                #private::PluginDescriptor {
                    name: #plugin_name,
                    aliases: &[#(#aliases),*],
                    kind: #private::PluginKind::#plugin_kind,
                    version: #version,
                    description: #description,
                    type_path: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#ident)),
                    config_schema: #schema,
                    factory: #factory,
                }
            }
        }
    });
    quote! { #(#submissions)* }
}

/// An impl that keeps the rest of the user's code compiling while the attribute is wrong.
fn fallback(input: &DeriveInput, kind: DeriveKind) -> TokenStream {
    if !input.generics.params.is_empty() || !matches!(input.data, syn::Data::Struct(_)) {
        return TokenStream::new();
    }
    let ident = &input.ident;
    match kind {
        DeriveKind::Source => quote! {
            impl ::connect_sdk::SourceConnector for #ident {
                type Task = ::connect_sdk::__private::FallbackSourceTask<#ident>;
            }
        },
        DeriveKind::Sink => quote! {
            impl ::connect_sdk::SinkConnector for #ident {
                type Task = ::connect_sdk::__private::FallbackSinkTask<#ident>;
            }
        },
        _ => TokenStream::new(),
    }
}
