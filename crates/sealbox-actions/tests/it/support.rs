//! Shared helpers: the outbound under test. The peers (private CA, aiosmtpd, moto) are
//! sealbox-test-peers'.

use sealbox_actions::{Outbound, OutboundConfig};

pub fn outbound(allow_private: bool) -> Outbound {
    Outbound::new(OutboundConfig {
        allow_private_destinations: allow_private,
        ..OutboundConfig::default()
    })
    .unwrap()
}

pub fn outbound_with(config: OutboundConfig) -> Outbound {
    Outbound::new(config).unwrap()
}
