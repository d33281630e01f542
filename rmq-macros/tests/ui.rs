//! Compile-time behaviour of the macros: `ui/pass` must compile, each `ui/fail` case must fail with exactly
//! its `.stderr`. Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test -p rmq-macros --test ui`
//! and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
