//! Failures as one line an operator can act on: which name server or broker could not be reached, which topic
//! does not exist, which argument is wrong.
//!
//! The client reports "no route for topic T" both when no name server knows T and when none could be asked (the
//! route lookup keeps only the cause's text). Telling the two apart costs one TCP connect per name server, made
//! only on that error path.

use std::time::Duration;

use rmq_client::ClientError;

/// The one-line message for `err`, from a command run against the name servers `namesrvs`.
pub async fn describe(err: &anyhow::Error, namesrvs: &[String], timeout: Duration) -> String {
    let text = match err.downcast_ref::<ClientError>() {
        Some(e) => client_error(e, namesrvs, timeout).await,
        None => None,
    }
    .unwrap_or_else(|| format!("{err:#}"));
    one_line(&text)
}

/// What a client error means here, when there is more to say than its own text.
async fn client_error(err: &ClientError, namesrvs: &[String], timeout: Duration) -> Option<String> {
    let role = |addr: &str| {
        if namesrvs.iter().any(|n| n == addr) {
            "name server"
        } else {
            "broker"
        }
    };
    match err {
        ClientError::Connect { addr, reason } => {
            Some(format!("cannot reach {} {addr}: {reason}", role(addr)))
        }
        ClientError::Timeout { addr, timeout } => Some(format!(
            "{} {addr} did not answer within {} ms (--timeout-ms)",
            role(addr),
            timeout.as_millis()
        )),
        ClientError::Closed { addr } => Some(format!(
            "{} {addr} closed the connection before answering",
            role(addr)
        )),
        ClientError::NoRoute { topic, reason } => {
            if let Some(down) = unreachable_namesrvs(namesrvs, timeout).await {
                return Some(down);
            }
            if reason.starts_with("code ") {
                Some(format!(
                    "topic {topic} does not exist (no name server routes it)"
                ))
            } else {
                Some(format!(
                    "cannot get the route of topic {topic} from the name servers: {reason}"
                ))
            }
        }
        ClientError::Broker { addr, code, remark }
            if *code == rmq_protocol::codes::response::TOPIC_NOT_EXIST =>
        {
            Some(format!("topic does not exist on broker {addr}: {remark}"))
        }
        _ => None,
    }
}

/// `Some(message)` when no name server accepts a TCP connection within `timeout`, naming each address.
async fn unreachable_namesrvs(namesrvs: &[String], timeout: Duration) -> Option<String> {
    let mut failures = Vec::new();
    for addr in namesrvs {
        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => return None,
            Ok(Err(e)) => failures.push(format!("{addr}: {e}")),
            Err(_) => failures.push(format!(
                "{addr}: no answer within {} ms",
                timeout.as_millis()
            )),
        }
    }
    match failures.len() {
        0 => None,
        1 => Some(format!("cannot reach name server {}", failures[0])),
        _ => Some(format!("cannot reach name servers {}", failures.join("; "))),
    }
}

/// `text` on one line: line breaks become `; `.
pub fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_text_is_joined() {
        assert_eq!(one_line("a\n\n  b\n"), "a; b");
    }

    #[tokio::test]
    async fn a_connect_failure_names_the_name_server() {
        let namesrvs = vec!["127.0.0.1:1".to_string()];
        let err = anyhow::Error::from(ClientError::Connect {
            addr: "127.0.0.1:1".into(),
            reason: "refused".into(),
        });
        let text = describe(&err, &namesrvs, Duration::from_millis(200)).await;
        assert_eq!(text, "cannot reach name server 127.0.0.1:1: refused");
    }
}
