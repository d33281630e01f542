//! Compiles `proto/apache/rocketmq/v2/*.proto` with protox (pure Rust, no `protoc`) and generates the prost
//! messages and the tonic server and client of `MessagingService`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "apache/rocketmq/v2/definition.proto",
        "apache/rocketmq/v2/service.proto",
    ];
    for p in protos {
        println!("cargo:rerun-if-changed=proto/{p}");
    }
    let fds = protox::compile(protos, ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .generate_default_stubs(true)
        .compile_fds(fds)?;
    Ok(())
}
