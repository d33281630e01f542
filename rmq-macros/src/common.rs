//! Pieces both macros share: the `key = literal` argument parser, error accumulation, the runtime crate path
//! and the expansion dump used when debugging a macro.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{quote, ToTokens};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, LitBool, LitInt, LitStr, Token, UnOp};

/// One `key = value` pair of an attribute.
pub(crate) struct RawArg {
    pub(crate) key: Ident,
    pub(crate) value: Value,
}

/// An attribute value: the literal kinds the macros accept.
pub(crate) enum Value {
    /// `"..."`, possibly holding `${key:default}` placeholders.
    Str(LitStr),
    /// An integer literal, with an optional leading `-`; `text` is its base-10 digits (suffix dropped).
    Int { text: String, span: Span },
    /// `true` / `false`.
    Bool(LitBool),
    /// A path to a constant (`template = PAY_TEMPLATE`), where an attribute takes one.
    Path(syn::Path),
}

impl Value {
    /// Where the value was written.
    pub(crate) fn span(&self) -> Span {
        match self {
            Value::Str(s) => s.span(),
            Value::Int { span, .. } => *span,
            Value::Bool(b) => b.span,
            Value::Path(p) => p.span(),
        }
    }

    /// The value as text: a string's contents, an integer's digits, `true`/`false`.
    pub(crate) fn text(&self) -> String {
        match self {
            Value::Str(s) => s.value(),
            Value::Int { text, .. } => text.clone(),
            Value::Bool(b) => b.value.to_string(),
            Value::Path(p) => quote::quote!(#p).to_string(),
        }
    }

    /// Whether this is a string holding a `${...}` placeholder (resolved from config at start-up, so its
    /// literal checks are skipped).
    pub(crate) fn is_placeholder(&self) -> bool {
        matches!(self, Value::Str(s) if s.value().contains("${"))
    }
}

/// The comma-separated `key = literal` list inside `#[macro(...)]`.
pub(crate) struct RawArgs(pub(crate) Vec<RawArg>);

impl Parse for RawArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Vec::new();
        while !input.is_empty() {
            // `parse_any` also takes keywords, so `crate = "..."` parses.
            let key = input.call(Ident::parse_any)?;
            input.parse::<Token![=]>()?;
            let expr: Expr = input.parse()?;
            let value = literal(&expr)?;
            args.push(RawArg { key, value });
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(RawArgs(args))
    }
}

fn literal(expr: &Expr) -> syn::Result<Value> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(Value::Str(s.clone())),
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => Ok(int(i, false, i.span())),
        Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        }) => Ok(Value::Bool(b.clone())),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr: inner,
            ..
        }) => match &**inner {
            Expr::Lit(ExprLit {
                lit: Lit::Int(i), ..
            }) => Ok(int(i, true, expr.span())),
            _ => Err(not_a_literal(expr)),
        },
        Expr::Group(g) => literal(&g.expr),
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => Ok(Value::Path(p.path.clone())),
        _ => Err(not_a_literal(expr)),
    }
}

fn int(i: &LitInt, negative: bool, span: Span) -> Value {
    let digits = i.base10_digits();
    Value::Int {
        text: if negative {
            format!("-{digits}")
        } else {
            digits.to_string()
        },
        span,
    }
}

fn not_a_literal(expr: &Expr) -> syn::Error {
    syn::Error::new_spanned(
        expr,
        "attribute values must be literals: a string (which may hold `${key:default}` placeholders \
         resolved from config at start-up), an integer, or `true`/`false`",
    )
}

/// Collects several errors so one compile shows them all.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    pub(crate) fn push_spanned(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.push(syn::Error::new(span, msg));
    }

    /// `Ok(value)` when nothing was pushed.
    pub(crate) fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.0 {
            Some(e) => Err(e),
            None => Ok(value),
        }
    }
}

/// The path generated code uses to reach rmq-runtime: `::rmq_runtime` unless `crate = "..."` says otherwise
/// (for a renamed dependency or a facade that re-exports rmq-runtime).
pub(crate) fn crate_path(value: Option<&Value>) -> syn::Result<syn::Path> {
    match value {
        None => Ok(syn::parse_quote!(::rmq_runtime)),
        Some(Value::Str(s)) => s.parse::<syn::Path>().map_err(|_| {
            syn::Error::new(
                s.span(),
                format!(
                    "`crate` must be a path such as \"::rmq_runtime\"; found {:?}",
                    s.value()
                ),
            )
        }),
        Some(other) => Err(syn::Error::new(
            other.span(),
            "`crate` takes a string holding a path, e.g. `crate = \"::my_facade::rmq\"`",
        )),
    }
}

/// What the macro emits when its input is wrong: the item as written (so the rest of the crate and IDEs keep
/// working) followed by the errors.
pub(crate) fn with_errors(item: TokenStream, error: syn::Error) -> TokenStream {
    let errors = error.to_compile_error();
    quote! { #item #errors }
}

/// With `RMQ_MACROS_DEBUG=1` (or `=<function or type name>`), prints an expansion to stderr while compiling.
pub(crate) fn debug_dump(name: &str, tokens: &impl ToTokens) {
    if let Ok(want) = std::env::var("RMQ_MACROS_DEBUG") {
        if want == "1" || want == name {
            eprintln!(
                "// rmq-macros expansion of `{name}`\n{}",
                tokens.to_token_stream()
            );
        }
    }
}

pub(crate) use rmq_filter::suggest::edit_distance;

/// `consumerGroup` → `consumer_group` (Java users write the annotation's camelCase names).
pub(crate) fn snake_case(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The same tokens, all at `span` (so a compiler error about generated code lands on the user's tokens).
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let TokenTree::Group(g) = &tt {
                let mut inner = Group::new(g.delimiter(), respan(g.stream(), span));
                inner.set_span(span);
                tt = TokenTree::Group(inner);
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}
