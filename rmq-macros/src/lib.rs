//! Proc macros of rmq: [`macro@rocketmq_listener`] (rocketmq-spring's `@RocketMQMessageListener`) and
//! [`macro@rocketmq_transaction_listener`] (`@RocketMQTransactionListener`).
//!
//! Use them through rmq-runtime, which re-exports this crate as `rmq_runtime::macros`; generated code names
//! only `::rmq_runtime::..` paths, so applications depend on rmq-runtime alone.
//!
//! # Layout
//!
//! - `common`: the `key = literal` attribute parser, error accumulation, the runtime path, the debug dump.
//! - `listener::attrs`: listener attributes, checked per key and then across keys (ORDERLY + BROADCASTING, a
//!   literal SQL92 selector parsed with rmq-filter).
//! - `listener::signature`: what each argument and the return type mean.
//! - `listener`: the handler shim and the `ListenerDef` registration.
//! - `transaction`: `#[rocketmq_transaction_listener]`.
//!
//! Every check reports a `syn::Error` at the tokens the user wrote; on error the item is still emitted
//! unchanged next to the errors, so the rest of the crate keeps compiling. Set `RMQ_MACROS_DEBUG=1` (or
//! `=<function name>`) while building to print the expansions to stderr.
#![warn(missing_docs, unreachable_pub)]

use proc_macro::TokenStream;

mod common;
mod listener;
mod transaction;

#[doc = include_str!("../docs/rocketmq_listener.md")]
#[proc_macro_attribute]
pub fn rocketmq_listener(attr: TokenStream, item: TokenStream) -> TokenStream {
    listener::expand(attr.into(), item.into()).into()
}

#[doc = include_str!("../docs/rocketmq_transaction_listener.md")]
#[proc_macro_attribute]
pub fn rocketmq_transaction_listener(attr: TokenStream, item: TokenStream) -> TokenStream {
    transaction::expand(attr.into(), item.into()).into()
}
