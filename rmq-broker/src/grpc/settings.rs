//! The settings the server answers a client's Telemetry settings with (Java's `GrpcClientSettingsManager`):
//! the client's own settings, completed with what the broker decides.

use rmq_grpc::v2::{settings, Settings};

use crate::broker::processor::Services;

/// The answer to `s`: a publisher learns the broker's body limit and that message types are validated.
pub fn answer(services: &Services, mut s: Settings) -> Settings {
    if let Some(settings::PubSub::Publishing(p)) = &mut s.pub_sub {
        p.max_body_size =
            i32::try_from(services.write.policy().max_message_size).unwrap_or(i32::MAX);
        p.validate_message_type = true;
    }
    s
}
