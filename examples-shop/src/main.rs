//! The shop example arrives with its issue; until then, `cargo run -p rmq-broker` runs the bundled broker.
fn main() {
    eprintln!(
        "the shop example is not built yet; run the bundled broker with `cargo run -p rmq-broker`"
    );
    std::process::exit(2);
}
