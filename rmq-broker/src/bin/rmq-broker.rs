//! `rmq-broker`: run the bundled name server and broker.
fn main() {
    eprintln!("rmq-broker: not built yet");
    std::process::exit(1);
}
