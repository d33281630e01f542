//! What a listener function's signature means: how each argument is extracted, whether it is a batch
//! listener, and how its return value becomes a `HandlerResult`.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, PathArguments, ReturnType, Signature, Type};

use crate::common::Errors;

/// The argument types a listener may take, for error messages.
const SUPPORTED: &str = "supported argument types: any type implementing `FromMessage` (`Json<T>`, `String`, \
    `Vec<u8>`, `Bytes`, `MessageExt`, `Headers`, `Bean<T>`, `RocketMqTemplate`, `Arc<AppContext>` and your own), \
    any other `T: Deserialize` (the body decoded by the application's codec), `Option<X>` of those (`None` where \
    X does not extract), and, as the first argument of a batch listener, `Vec<X>` of a per-message type";

/// How one argument is built. Every kind but `Batch` and `Optional` is extracted the same way (its
/// `FromMessage` impl, else the body decoded as a `Deserialize` type); the kinds differ in what the macro
/// checks and registers.
pub(crate) enum Arg {
    /// Reads the message (Json, String, Vec<u8>, Bytes, MessageExt, Headers, a payload or a user's type).
    Message(Type),
    /// Needs only the application (RocketMqTemplate, Arc<AppContext>): allowed after a batch.
    Context(Type),
    /// `Bean<T>`: the whole type and `T` (registered as a bean requirement).
    Bean(Type, Box<Type>),
    /// `Option<X>`: X's kind; `None` where X does not extract.
    Optional(Box<Arg>),
    /// `Vec<X>` as the first argument: X extracted from every message.
    Batch(Box<Arg>),
}

impl Arg {
    /// Whether the argument reads a single message (so it cannot follow a batch).
    fn reads_message(&self) -> bool {
        match self {
            Arg::Message(_) => true,
            Arg::Optional(inner) => inner.reads_message(),
            Arg::Context(_) | Arg::Bean(..) | Arg::Batch(_) => false,
        }
    }
}

/// What the function returns.
pub(crate) enum Ret {
    /// Nothing or `()`: success once it returns.
    Unit,
    /// `Result<(), E>`.
    NoReply(Span),
    /// `Result<String, E>`.
    String(Span),
    /// `Result<Vec<u8>, E>` or `Result<Bytes, E>`.
    Bytes(Span),
    /// `Result<T, E>` for any other `T` (sent as JSON).
    Json(Span),
}

impl Ret {
    /// Whether the function answers a request-reply caller.
    pub(crate) fn is_reply(&self) -> bool {
        matches!(self, Ret::String(_) | Ret::Bytes(_) | Ret::Json(_))
    }
}

/// An analysed signature.
pub(crate) struct Analysis {
    pub(crate) args: Vec<Arg>,
    pub(crate) ret: Ret,
}

impl Analysis {
    /// Whether the first argument is a batch `Vec<X>`.
    pub(crate) fn is_batch(&self) -> bool {
        matches!(self.args.first(), Some(Arg::Batch(_)))
    }
}

/// Checks the signature and classifies arguments and return type; every problem is reported.
pub(crate) fn analyse(sig: &Signature) -> syn::Result<Analysis> {
    let mut errors = Errors::default();
    if sig.asyncness.is_none() {
        errors.push_spanned(
            sig.fn_token.span,
            "a #[rocketmq_listener] function must be `async`: write `async fn`",
        );
    }
    if let Some(c) = &sig.constness {
        errors.push_spanned(c.span, "a #[rocketmq_listener] function cannot be `const`");
    }
    if let Some(u) = &sig.unsafety {
        errors.push_spanned(u.span, "a #[rocketmq_listener] function cannot be `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        errors.push_spanned(
            abi.span(),
            "a #[rocketmq_listener] function cannot have an ABI",
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            "a #[rocketmq_listener] function cannot be generic: the container calls it with concrete \
             argument types",
        ));
    }
    if let Some(v) = &sig.variadic {
        errors.push_spanned(
            v.span(),
            "a #[rocketmq_listener] function cannot be variadic",
        );
    }

    let mut args = Vec::new();
    for (i, input) in sig.inputs.iter().enumerate() {
        let ty = match input {
            FnArg::Receiver(r) => {
                errors.push(syn::Error::new_spanned(
                    r,
                    "a #[rocketmq_listener] must be a free function, not a method: take state as a \
                     `Bean<T>` argument instead of `self`",
                ));
                continue;
            }
            FnArg::Typed(pt) => &*pt.ty,
        };
        match classify(ty) {
            Ok(Arg::Batch(item)) if i == 0 => match *item {
                Arg::Message(_) => args.push(Arg::Batch(item)),
                _ => errors.push(syn::Error::new_spanned(
                    ty,
                    "a batch is `Vec<X>` where X reads one message (`Json<T>`, `String`, `Bytes`, \
                     `Vec<u8>`, `MessageExt` or a `T: Deserialize`); take `Bean<T>`, `RocketMqTemplate` \
                     and `Arc<AppContext>` as separate arguments after it",
                )),
            },
            Ok(Arg::Batch(_)) => errors.push(syn::Error::new_spanned(
                ty,
                "only the first argument can be a batch `Vec<_>`; for one message whose body is a JSON \
                 array write `Json<Vec<T>>`",
            )),
            Ok(arg) if arg.reads_message() && matches!(args.first(), Some(Arg::Batch(_))) => {
                errors.push(syn::Error::new_spanned(
                    ty,
                    "in a batch listener only `Bean<T>`, `RocketMqTemplate` and `Arc<AppContext>` may \
                     follow the `Vec<_>`: there is no single message to read",
                ))
            }
            Ok(arg) => args.push(arg),
            Err(e) => errors.push(e),
        }
    }

    let ret = match return_kind(&sig.output) {
        Ok(r) => r,
        Err(e) => {
            errors.push(e);
            Ret::Unit
        }
    };
    errors.finish(Analysis { args, ret })
}

/// The last path segment's name and its angle-bracketed type arguments, for a plain path type.
fn last_segment(ty: &Type) -> Option<(String, Vec<&Type>)> {
    let Type::Path(p) = ty else { return None };
    if p.qself.is_some() {
        return None;
    }
    let seg = p.path.segments.last()?;
    let args = match &seg.arguments {
        PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|g| match g {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Some((seg.ident.to_string(), args))
}

fn is_named(ty: &Type, name: &str) -> bool {
    matches!(last_segment(ty), Some((n, args)) if n == name && args.is_empty())
}

fn is_vec_u8(ty: &Type) -> bool {
    matches!(last_segment(ty), Some((n, args)) if n == "Vec" && args.len() == 1 && is_named(args[0], "u8"))
}

fn unparen(ty: &Type) -> &Type {
    match ty {
        Type::Paren(p) => unparen(&p.elem),
        Type::Group(g) => unparen(&g.elem),
        _ => ty,
    }
}

fn classify(ty: &Type) -> syn::Result<Arg> {
    let ty = unparen(ty);
    let unsupported = |what: &str| {
        Err(syn::Error::new_spanned(
            ty,
            format!("{what} are not supported as listener arguments; {SUPPORTED}"),
        ))
    };
    match ty {
        Type::Path(_) => {}
        Type::Reference(r) => {
            let hint = if is_named(&r.elem, "str") {
                "write `String` instead of `&str`".to_string()
            } else if matches!(&*r.elem, Type::Slice(s) if is_named(&s.elem, "u8")) {
                "write `Vec<u8>` or `Bytes` instead of `&[u8]`".to_string()
            } else {
                let inner = &r.elem;
                format!(
                    "write `{}` instead",
                    quote::quote!(#inner).to_string().replace(' ', "")
                )
            };
            return Err(syn::Error::new_spanned(
                ty,
                format!(
                    "references are not supported as listener arguments: each argument is an owned \
                     value extracted from the message ({hint}); {SUPPORTED}"
                ),
            ));
        }
        Type::ImplTrait(_) => return unsupported("`impl Trait` types"),
        Type::Tuple(_) => return unsupported("tuples"),
        Type::TraitObject(_) => return unsupported("trait objects"),
        Type::Slice(_) | Type::Array(_) => return unsupported("slices and arrays"),
        Type::Ptr(_) => return unsupported("raw pointers"),
        Type::BareFn(_) => return unsupported("function pointers"),
        _ => return unsupported("types of this kind"),
    }
    let Some((name, targs)) = last_segment(ty) else {
        // `<T as Trait>::Assoc`: extracted like any other type.
        return Ok(Arg::Message(ty.clone()));
    };
    Ok(match (name.as_str(), targs.as_slice()) {
        ("RocketMqTemplate", _) => Arg::Context(ty.clone()),
        ("Option", [inner]) => match classify(inner)? {
            Arg::Batch(_) => {
                return Err(syn::Error::new_spanned(
                    ty,
                    "a batch `Vec<_>` cannot be optional: a delivery always has its messages",
                ))
            }
            Arg::Optional(_) => {
                return Err(syn::Error::new_spanned(
                    ty,
                    "`Option<Option<_>>` says nothing `Option<_>` does not; write `Option<_>`",
                ))
            }
            kind => Arg::Optional(Box::new(kind)),
        },
        ("Bean", [inner]) => Arg::Bean(ty.clone(), Box::new((*inner).clone())),
        ("Bean", _) => {
            return Err(syn::Error::new_spanned(
                ty,
                "`Bean` needs the bean's type, e.g. `Bean<OrderService>`",
            ))
        }
        ("Arc", [inner]) if is_named(inner, "AppContext") => Arg::Context(ty.clone()),
        ("Arc", _) => return Err(syn::Error::new_spanned(
            ty,
            "the only `Arc` argument is `Arc<AppContext>`; take a registered bean as `Bean<T>` \
                 (it derefs to `T` and clones as an `Arc`)",
        )),
        ("Vec", [item]) if is_named(item, "u8") => Arg::Message(ty.clone()),
        ("Vec", [item]) => Arg::Batch(Box::new(classify(item)?)),
        _ => Arg::Message(ty.clone()),
    })
}

fn return_kind(output: &ReturnType) -> syn::Result<Ret> {
    let ty = match output {
        ReturnType::Default => return Ok(Ret::Unit),
        ReturnType::Type(_, ty) => unparen(ty),
    };
    if matches!(ty, Type::Tuple(t) if t.elems.is_empty()) {
        return Ok(Ret::Unit);
    }
    let span = ty.span();
    match last_segment(ty) {
        Some((name, targs)) if name == "Result" && !targs.is_empty() => {
            let ok = unparen(targs[0]);
            Ok(if matches!(ok, Type::Tuple(t) if t.elems.is_empty()) {
                Ret::NoReply(span)
            } else if is_named(ok, "String") {
                Ret::String(span)
            } else if is_vec_u8(ok) || is_named(ok, "Bytes") {
                Ret::Bytes(span)
            } else {
                Ret::Json(span)
            })
        }
        _ => Err(syn::Error::new_spanned(
            ty,
            "a listener returns nothing, `Result<(), E>`, or, to answer a request-reply caller, \
             `Result<T, E>` with T a `String`, `Vec<u8>`, `Bytes` or any `T: Serialize` (sent as JSON); \
             E is any error type that converts into `ListenerError` (a std error retries)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::*;

    fn analysed(f: syn::ItemFn) -> syn::Result<Analysis> {
        analyse(&f.sig)
    }

    #[test]
    fn vec_u8_first_is_the_body_not_a_batch() {
        let a = analysed(parse_quote!(
            async fn f(b: Vec<u8>) {}
        ))
        .unwrap();
        assert!(!a.is_batch());
        let a = analysed(parse_quote!(
            async fn f(b: Vec<Vec<u8>>) {}
        ))
        .unwrap();
        assert!(a.is_batch());
    }

    #[test]
    fn return_forms() {
        let reply = |f: syn::ItemFn| analysed(f).unwrap().ret.is_reply();
        assert!(!reply(parse_quote!(
            async fn f() {}
        )));
        assert!(!reply(parse_quote!(
            async fn f() -> () {}
        )));
        assert!(!reply(parse_quote!(
            async fn f() -> Result<(), E> {}
        )));
        assert!(reply(parse_quote!(
            async fn f() -> Result<String, E> {}
        )));
        assert!(reply(parse_quote!(
            async fn f() -> io::Result<Order> {}
        )));
        assert!(matches!(
            analysed(parse_quote!(
                async fn f() -> Result<bytes::Bytes, E> {}
            ))
            .unwrap()
            .ret,
            Ret::Bytes(_)
        ));
        assert!(analysed(parse_quote!(
            async fn f() -> Order {}
        ))
        .is_err());
    }

    #[test]
    fn unsupported_arguments_are_reported_together() {
        let e = analysed(parse_quote!(
            fn f(a: &str, b: impl Send, c: (u8, u8), d: Arc<Db>, e: Vec<Bean<Db>>) {}
        ))
        .err()
        .unwrap();
        let all: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(all.len(), 6, "{all:#?}");
        assert!(all[0].contains("must be `async`"));
        assert!(all[1].contains("write `String` instead of `&str`"));
        assert!(all[2].contains("`impl Trait`"));
        assert!(all[3].contains("tuples"));
        assert!(all[4].contains("`Arc<AppContext>`"));
        assert!(all[5].contains("only the first argument can be a batch"));
    }

    #[test]
    fn options_wrap_any_single_argument() {
        let a = analysed(parse_quote!(
            async fn f(a: Option<Bean<Db>>, b: Option<Json<Order>>, c: Option<Tenant>) {}
        ))
        .unwrap();
        assert!(a.args.iter().all(|a| matches!(a, Arg::Optional(_))));
        assert!(analysed(parse_quote!(
            async fn f(a: Option<Vec<Order>>) {}
        ))
        .is_err());
        // After a batch, an optional bean is fine and an optional per-message argument is not.
        assert!(analysed(parse_quote!(
            async fn f(a: Vec<Order>, b: Option<Bean<Db>>) {}
        ))
        .is_ok());
        assert!(analysed(parse_quote!(
            async fn f(a: Vec<Order>, b: Option<Headers>) {}
        ))
        .is_err());
    }

    #[test]
    fn batch_rules() {
        assert!(analysed(parse_quote!(
            async fn f(a: Vec<Bean<Db>>) {}
        ))
        .is_err());
        assert!(analysed(parse_quote!(
            async fn f(a: Vec<Order>, b: String) {}
        ))
        .is_err());
        assert!(analysed(parse_quote!(
            async fn f(a: Vec<Order>, b: Bean<Db>, t: RocketMqTemplate) {}
        ))
        .is_ok());
    }
}
