//! CHECK_CLIENT_CONFIG (46) body: Java's field names both ways.

use rmq_protocol::body::{self, CheckClientRequestBody, SubscriptionData};
use rmq_protocol::codes::request;

#[test]
fn check_client_body_uses_java_names() {
    assert_eq!(request::CHECK_CLIENT_CONFIG, 46);
    // As fastjson writes it from a Java 5.x push consumer (field order and extra keys do not matter).
    let java = r#"{"clientId":"10.0.0.1@1234","group":"G","namespace":"","subscriptionData":{"classFilterMode":false,"codeSet":[],"expressionType":"SQL92","subString":"a > 1","subVersion":1700000000000,"tagsSet":[],"topic":"T"}}"#;
    let b: CheckClientRequestBody = body::from_json(java.as_bytes()).expect("decodes");
    assert_eq!(b.client_id, "10.0.0.1@1234");
    assert_eq!(b.group, "G");
    let sub = b.subscription_data.clone().expect("subscription");
    assert_eq!(
        (sub.expression_type.as_str(), sub.sub_string.as_str()),
        ("SQL92", "a > 1")
    );

    let out = CheckClientRequestBody {
        client_id: "c".into(),
        group: "g".into(),
        subscription_data: Some(SubscriptionData {
            topic: "T".into(),
            sub_string: "x = 'y'".into(),
            expression_type: "SQL92".into(),
            ..SubscriptionData::default()
        }),
        namespace: None,
    };
    let v: serde_json::Value = serde_json::from_slice(&body::to_json(&out)).expect("json");
    assert_eq!(v["clientId"], "c");
    assert_eq!(v["subscriptionData"]["subString"], "x = 'y'");
    assert!(v.get("namespace").is_none());

    // No subscription at all is valid (Java answers SUCCESS).
    let empty: CheckClientRequestBody =
        body::from_json(br#"{"clientId":"c","group":"g"}"#).expect("decodes");
    assert!(empty.subscription_data.is_none());
}
