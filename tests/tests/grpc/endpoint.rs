//! Where the binary serves gRPC: on by default in the all-in-one mode (8081, or an ephemeral port beside an
//! ephemeral remoting port), off when broker.conf says `grpcListen=` and in the `broker` role unless asked.

use rmq_tests::process::BrokerProcess;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_all_in_one_binary_serves_grpc_by_default_and_grpc_listen_empty_switches_it_off() {
    let tmp = tempfile::tempdir().expect("tmp");
    let on = BrokerProcess::start(&tmp.path().join("a"), &tmp.path().join("a.log"), &[])
        .await
        .expect("all-in-one");
    let grpc = on
        .grpc_addr
        .clone()
        .expect("gRPC on by default in the all-in-one mode");
    let port: u16 = grpc
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    assert_ne!(port, 0);
    assert_ne!(
        port, 8081,
        "an ephemeral remoting port gets an ephemeral gRPC port"
    );
    // It answers: a client can connect and ask for a route.
    let mut c = rmq_grpc::v2::messaging_service_client::MessagingServiceClient::connect(format!(
        "http://{grpc}"
    ))
    .await
    .expect("connect");
    let r = c
        .query_route(rmq_grpc::v2::QueryRouteRequest {
            topic: Some(rmq_grpc::v2::Resource {
                resource_namespace: String::new(),
                name: "NoSuchTopic".into(),
            }),
            endpoints: None,
        })
        .await
        .expect("query route")
        .into_inner();
    assert_eq!(
        r.status.map(|s| s.code),
        Some(rmq_grpc::v2::Code::TopicNotFound as i32)
    );

    let role = BrokerProcess::start_broker(
        &tmp.path().join("b"),
        &tmp.path().join("b.log"),
        &on.namesrv_addr,
        &[],
    )
    .await
    .expect("broker role");
    assert_eq!(role.grpc_addr, None, "off in the broker role unless asked");

    let conf = tmp.path().join("off.conf");
    std::fs::write(&conf, "grpcListen=\n").expect("conf");
    let off = BrokerProcess::start(
        &tmp.path().join("c"),
        &tmp.path().join("c.log"),
        &["-c", &conf.to_string_lossy()],
    )
    .await
    .expect("all-in-one, gRPC off");
    assert_eq!(off.grpc_addr, None, "grpcListen= switches it off");
}
