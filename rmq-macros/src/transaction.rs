//! `#[rocketmq_transaction_listener]`: registers an `impl LocalTransactionListener for X` with the template
//! whose transactions it runs.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Item, ItemImpl, Type};

use crate::common::{crate_path, debug_dump, with_errors, Errors, RawArgs, Value};

/// rocketmq-spring's default template bean name.
const DEFAULT_TEMPLATE: &str = "rocketMQTemplate";

const USAGE: &str =
    "#[rocketmq_transaction_listener] goes on `impl LocalTransactionListener for YourType { .. }`";

/// Expands `#[rocketmq_transaction_listener(attr)] item`; on error, the item as written plus the errors.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    match expand_item(attr, item.clone()) {
        Ok((name, tokens)) => {
            debug_dump(&name, &tokens);
            tokens
        }
        Err(e) => with_errors(fallback(item), e),
    }
}

/// The item to emit next to errors: a `LocalTransactionListener` impl still gets `#[async_trait]`, so the
/// attribute's own errors are not buried under the compiler's "lifetimes do not match" on every method.
fn fallback(item: TokenStream) -> TokenStream {
    match syn::parse2::<ItemImpl>(item.clone()) {
        Ok(imp) if is_listener_impl(&imp) && !has_async_trait(&imp) => {
            quote!(#[::rmq_runtime::__private::async_trait] #imp)
        }
        _ => item,
    }
}

fn is_listener_impl(imp: &ItemImpl) -> bool {
    matches!(&imp.trait_, Some((None, path, _))
        if path.segments.last().is_some_and(|s| s.ident == "LocalTransactionListener"))
}

fn has_async_trait(imp: &ItemImpl) -> bool {
    imp.attrs.iter().any(|a| {
        a.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "async_trait")
    })
}

fn expand_item(attr: TokenStream, item: TokenStream) -> syn::Result<(String, TokenStream)> {
    let mut errors = Errors::default();
    let (template, rt) = match parse_attrs(attr) {
        Ok(v) => v,
        Err(e) => {
            errors.push(e);
            (quote!(#DEFAULT_TEMPLATE), syn::parse_quote!(::rmq_runtime))
        }
    };
    let imp = match syn::parse2::<Item>(item) {
        Ok(Item::Impl(imp)) => Some(imp),
        Ok(other) => {
            errors.push(syn::Error::new(item_span(&other), USAGE));
            None
        }
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let name = imp.as_ref().and_then(|imp| check_impl(imp, &mut errors));
    errors.finish(())?;
    let (Some(imp), Some(name)) = (imp, name) else {
        // Each `None` above recorded an error, so `finish` returned it.
        return Err(syn::Error::new(Span::call_site(), USAGE));
    };

    let self_ty = &imp.self_ty;
    let async_trait = (!has_async_trait(&imp)).then(|| quote!(#[#rt::__private::async_trait]));
    // Spanned at the type, so "`X: Default` is not satisfied" underlines it.
    let create = quote_spanned! {self_ty.span()=>
        ::std::sync::Arc::new(<#self_ty as ::core::default::Default>::default())
    };
    let tokens = quote! {
        #async_trait
        #imp

        const _: () = {
            fn __rmq_create() -> ::std::sync::Arc<dyn #rt::transaction_listener::ErasedTransactionListener> {
                #create
            }
            #rt::__private::inventory::submit! {
                #rt::transaction_listener::TransactionListenerDef {
                    name: #name,
                    template: #template,
                    create: __rmq_create,
                }
            }
        };
    };
    Ok((name, tokens))
}

fn parse_attrs(attr: TokenStream) -> syn::Result<(TokenStream, syn::Path)> {
    let RawArgs(raw) = syn::parse2(attr)?;
    let mut errors = Errors::default();
    let mut template: Option<TokenStream> = None;
    let mut krate: Option<Value> = None;
    for arg in raw {
        match arg.key.to_string().as_str() {
            "template" if template.is_some() => {
                errors.push_spanned(arg.key.span(), "duplicate attribute `template`")
            }
            "template" => match &arg.value {
                Value::Str(s) if !s.value().trim().is_empty() => {
                    let name = s.value();
                    template = Some(quote!(#name))
                }
                Value::Str(s) => errors.push_spanned(s.span(), "`template` must not be empty"),
                // A `&'static str` constant the application also names its template with; the compiler
                // checks its type at the registration.
                Value::Path(p) => template = Some(quote!(#p)),
                other => errors.push_spanned(
                    other.span(),
                    "`template` takes the template's name as a string or a `&str` constant, e.g. \
                     `template = \"rocketMQTemplate\"` or `template = PAY_TEMPLATE`",
                ),
            },
            "crate" if krate.is_some() => {
                errors.push_spanned(arg.key.span(), "duplicate attribute `crate`")
            }
            "crate" => krate = Some(arg.value),
            other => errors.push_spanned(
                arg.key.span(),
                format!(
                    "unknown attribute `{other}`; expected `template` (the template's name, default \
                     \"{DEFAULT_TEMPLATE}\") or `crate`"
                ),
            ),
        }
    }
    let rt = crate_path(krate.as_ref());
    let rt = match rt {
        Ok(p) => Some(p),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    errors.finish(())?;
    Ok((
        template.unwrap_or_else(|| quote!(#DEFAULT_TEMPLATE)),
        rt.unwrap_or_else(|| syn::parse_quote!(::rmq_runtime)),
    ))
}

/// Checks the impl is `impl LocalTransactionListener for Named` and returns the type's name.
fn check_impl(imp: &ItemImpl, errors: &mut Errors) -> Option<String> {
    match &imp.trait_ {
        None => errors.push(syn::Error::new_spanned(
            &imp.self_ty,
            format!("{USAGE}; this impl has no trait"),
        )),
        Some((Some(bang), _, _)) => {
            errors.push_spanned(bang.span, format!("{USAGE}; found a negative impl"))
        }
        Some((None, path, _)) => {
            if !is_listener_impl(imp) {
                errors.push(syn::Error::new_spanned(
                    path,
                    format!(
                        "{USAGE}; this impl is of `{}`",
                        quote!(#path).to_string().replace(' ', "")
                    ),
                ));
            }
        }
    }
    if !imp.generics.params.is_empty() || imp.generics.where_clause.is_some() {
        errors.push(syn::Error::new_spanned(
            &imp.generics,
            "a transaction listener cannot be generic: it is built once, with `Default`, for its template",
        ));
    }
    match &*imp.self_ty {
        Type::Path(p) if p.qself.is_none() => Some(
            p.path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect::<Vec<_>>()
                .join("::"),
        ),
        other => {
            errors.push(syn::Error::new_spanned(
                other,
                "a transaction listener must be a named type (a struct or enum implementing `Default`)",
            ));
            None
        }
    }
}

fn item_span(item: &Item) -> Span {
    match item {
        Item::Fn(f) => f.sig.fn_token.span,
        Item::Struct(s) => s.struct_token.span,
        Item::Enum(e) => e.enum_token.span,
        Item::Trait(t) => t.trait_token.span,
        _ => item.span(),
    }
}
