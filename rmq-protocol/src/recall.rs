//! The recall handle of a delayed message (RocketMQ 5.3 `RecallMessageHandle`, version 1): URL-safe base64 of
//! `v1 <topic> <brokerName> <deliverMs> <messageId>`, handed to the producer on send so it can cancel the
//! message before it is delivered.

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;

/// A decoded version-1 recall handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecallHandle {
    /// Topic of the message.
    pub topic: String,
    /// Broker holding it.
    pub broker_name: String,
    /// Its delivery time, epoch ms, as the text the handle carries.
    pub deliver_ms: String,
    /// Its UNIQ_KEY.
    pub message_id: String,
}

/// Why a recall handle does not decode (Java's remark).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("recall handle is invalid")]
pub struct InvalidRecallHandle;

impl RecallHandle {
    /// The handle string.
    pub fn encode(&self) -> String {
        URL_SAFE.encode(format!(
            "v1 {} {} {} {}",
            self.topic, self.broker_name, self.deliver_ms, self.message_id
        ))
    }

    /// Reads a handle string.
    ///
    /// # Errors
    /// Not base64, not version 1, or fewer than five fields.
    pub fn decode(s: &str) -> Result<RecallHandle, InvalidRecallHandle> {
        let raw = URL_SAFE
            .decode(s.as_bytes())
            .map_err(|_| InvalidRecallHandle)?;
        let raw = String::from_utf8(raw).map_err(|_| InvalidRecallHandle)?;
        let f: Vec<&str> = raw.split(' ').collect();
        if f.len() < 5 || f[0] != "v1" {
            return Err(InvalidRecallHandle);
        }
        Ok(RecallHandle {
            topic: f[1].to_owned(),
            broker_name: f[2].to_owned(),
            deliver_ms: f[3].to_owned(),
            message_id: f[4].to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_round_trips_and_garbage_is_refused() {
        let h = RecallHandle {
            topic: "T".into(),
            broker_name: "broker-a".into(),
            deliver_ms: "1700000000000".into(),
            message_id: "01ABC".into(),
        };
        // Java: Base64.getUrlEncoder().encodeToString("v1 T broker-a 1700000000000 01ABC".getBytes(UTF_8)).
        assert_eq!(h.encode(), "djEgVCBicm9rZXItYSAxNzAwMDAwMDAwMDAwIDAxQUJD");
        assert_eq!(RecallHandle::decode(&h.encode()), Ok(h));
        assert_eq!(RecallHandle::decode("%%%"), Err(InvalidRecallHandle));
        assert_eq!(
            RecallHandle::decode(&URL_SAFE.encode("v2 a b c d")),
            Err(InvalidRecallHandle)
        );
    }
}
