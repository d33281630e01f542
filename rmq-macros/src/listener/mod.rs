//! `#[rocketmq_listener]`: [`attrs`] checks the attribute, [`signature`] the function, and this module
//! writes the handler shim and the registration.

mod attrs;
mod signature;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::ItemFn;

use self::signature::{Analysis, Arg, Ret};
use crate::common::{crate_path, debug_dump, respan, with_errors, Errors};

/// Expands `#[rocketmq_listener(attr)] item`; on error, the item as written plus the errors.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            let e = syn::Error::new(
                Span::call_site(),
                "#[rocketmq_listener] goes on an `async fn`",
            );
            return with_errors(item, e);
        }
    };
    match expand_fn(attr, &func) {
        Ok(tokens) => {
            debug_dump(&func.sig.ident.to_string(), &tokens);
            tokens
        }
        Err(e) => with_errors(quote!(#func), e),
    }
}

fn expand_fn(attr: TokenStream, func: &ItemFn) -> syn::Result<TokenStream> {
    // Report attribute and signature problems together.
    let mut errors = Errors::default();
    let attrs = attrs::parse(attr).map_err(|e| errors.push(e)).ok();
    let analysis = signature::analyse(&func.sig)
        .map_err(|e| errors.push(e))
        .ok();
    let rt = match crate_path(attrs.as_ref().and_then(|a| a.crate_value.as_ref())) {
        Ok(p) => Some(p),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    errors.finish(())?;
    let (Some(attrs), Some(analysis), Some(rt)) = (attrs, analysis, rt) else {
        // Each `None` above recorded an error, so `finish` returned it.
        return Err(syn::Error::new(
            Span::call_site(),
            "rmq-macros: internal error",
        ));
    };

    let name = &func.sig.ident;
    let shim = format_ident!("__rmq_listener_{}", name);
    let name_str = name.to_string();
    let cfgs: Vec<_> = func
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .collect();
    let body = shim_body(&rt, name, &analysis);
    let (keys, values): (Vec<_>, Vec<_>) = attrs.pairs().into_iter().unzip();
    let beans = analysis.args.iter().filter_map(|a| match a {
        Arg::Bean(_, inner) => Some(quote_spanned! {inner.span()=>
            #rt::listener::BeanRequirement::of::<#inner>()
        }),
        _ => None,
    });
    let batch = analysis.is_batch();
    let reply = analysis.ret.is_reply();
    // `line!()`/`module_path!()` spanned at the function's name report the function, not the attribute.
    let here = name.span();
    let module = quote_spanned!(here=> ::core::module_path!());
    let line = quote_spanned!(here=> ::core::line!());
    let file = quote_spanned!(here=> ::core::file!());

    Ok(quote! {
        #func

        #(#cfgs)*
        #[doc(hidden)]
        fn #shim(
            __rmq_ctx: ::std::sync::Arc<#rt::context::AppContext>,
            __rmq_msgs: ::std::vec::Vec<#rt::message::MessageExt>,
        ) -> #rt::__private::BoxFuture<'static, #rt::listener::HandlerResult> {
            ::std::boxed::Box::pin(async move { #body })
        }

        #(#cfgs)*
        const _: () = {
            #rt::__private::inventory::submit! {
                #rt::listener::ListenerDef {
                    name: #name_str,
                    module: #module,
                    file: #file,
                    line: #line,
                    attrs: &[#((#keys, #values)),*],
                    handler: #shim,
                    beans: &[#(#beans),*],
                    batch: #batch,
                    reply: #reply,
                }
            }
        };
    })
}

/// The shim's async body: extract every argument, await the function, convert its return value.
fn shim_body(rt: &syn::Path, name: &syn::Ident, analysis: &Analysis) -> TokenStream {
    let ctx = quote!(&__rmq_ctx);
    // Each extraction is spanned at the argument's type, so "`X: FromMessage` is not satisfied" (or
    // "`X: Deserialize`") underlines the argument.
    let extract_one = |arg: &Arg, msg: &TokenStream| -> TokenStream {
        // `(&&Extractor::<T>::new()).extract(..)`: T's `FromMessage` impl, else the body as a
        // `T: Deserialize` (see `rmq_runtime::listener::Extractor`).
        let via = |ty: &syn::Type| {
            let span = ty.span();
            let rt = respan(quote!(#rt), span);
            quote_spanned! {span=>
                (&&#rt::listener::Extractor::<#ty>::new()).extract(#msg, #ctx)
            }
        };
        match arg {
            Arg::Message(ty) | Arg::Context(ty) | Arg::Bean(ty, _) => {
                let e = via(ty);
                quote_spanned!(ty.span()=> #e?)
            }
            Arg::Optional(inner) => {
                let (Arg::Message(ty) | Arg::Context(ty) | Arg::Bean(ty, _)) = &**inner else {
                    // `signature::analyse` refuses nested options and optional batches.
                    return quote!(::core::unreachable!());
                };
                let e = via(ty);
                let optional = respan(quote!(#rt::listener::optional), ty.span());
                quote_spanned!(ty.span()=> #optional(#e, #msg))
            }
            // Rejected by `signature::analyse` anywhere but first, and handled there.
            Arg::Batch(_) => quote!(::core::unreachable!()),
        }
    };

    let idents: Vec<_> = (0..analysis.args.len())
        .map(|i| format_ident!("__rmq_arg{}", i))
        .collect();
    let mut lets = Vec::new();
    let prologue;
    if let Some(Arg::Batch(item)) = analysis.args.first() {
        // An empty delivery has nothing to consume (and no message to extract context arguments with).
        prologue = quote! {
            if __rmq_msgs.is_empty() {
                return ::core::result::Result::Ok(::core::option::Option::None);
            }
        };
        let each = extract_one(item, &quote!(__rmq_m));
        let first = &idents[0];
        lets.push(quote! {
            let mut #first = ::std::vec::Vec::with_capacity(__rmq_msgs.len());
            for __rmq_m in &__rmq_msgs {
                #first.push(#each);
            }
        });
        for (arg, id) in analysis.args.iter().zip(&idents).skip(1) {
            let e = extract_one(arg, &quote!(&__rmq_msgs[0]));
            lets.push(quote!(let #id = #e;));
        }
    } else {
        // `single` also refuses a delivery of several messages to a non-batch listener.
        prologue = quote! {
            let __rmq_msg = #rt::listener::single(__rmq_msgs)?;
        };
        for (arg, id) in analysis.args.iter().zip(&idents) {
            let e = extract_one(arg, &quote!(&__rmq_msg));
            lets.push(quote!(let #id = #e;));
        }
    }

    let call = quote!(#name(#(#idents),*).await);
    let finish = match analysis.ret {
        Ret::Unit => quote! {
            #call;
            #rt::listener::no_reply(::core::result::Result::Ok::<(), #rt::listener::ListenerError>(()))
        },
        // Spanned at the return type, so "`E: Into<ListenerError>`" or "`T: Serialize`" underlines it.
        Ret::NoReply(span) => convert(rt, "no_reply", span, &call),
        Ret::String(span) => convert(rt, "reply_string", span, &call),
        Ret::Bytes(span) => convert(rt, "reply_bytes", span, &call),
        Ret::Json(span) => convert(rt, "reply_json", span, &call),
    };
    quote! {
        #[allow(unused_imports)]
        use #rt::listener::ViaFromMessage as _;
        #prologue
        #(#lets)*
        #finish
    }
}

/// `rmq_runtime::listener::<helper>(call)` with the error converted by `ErrorConv` (any std error,
/// `ListenerError`, boxed errors, `anyhow::Error`), every token at `span`.
fn convert(rt: &syn::Path, helper: &str, span: Span, call: &TokenStream) -> TokenStream {
    let helper = syn::Ident::new(helper, span);
    let rt = respan(quote!(#rt), span);
    let call = respan(call.clone(), span);
    quote_spanned! {span=>
        #rt::listener::#helper(#call.map_err(|__rmq_e| {
            #[allow(unused_imports)]
            use #rt::listener::ViaBoxed as _;
            (&&#rt::listener::ErrorConv::new(__rmq_e)).to_listener_error()
        }))
    }
}
