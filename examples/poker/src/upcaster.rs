//! The player upcaster: the first release of the player logic stored
//! `PlayerRegisteredV1 { name, email }`; today's logic knows only
//! `PlayerRegistered`. Configured on the `player` domain, it makes old logs
//! readable by the current aggregate, projectors and sagas without
//! rewriting a byte of them.

use angzarr_client::Upcaster;
use angzarr_proto::examples::{PlayerRegistered, PlayerRegisteredV1};

/// The upcaster.
pub fn upcaster() -> Upcaster {
    Upcaster::new().map(|old: PlayerRegisteredV1| PlayerRegistered {
        display_name: old.name,
        email: old.email,
        ..Default::default()
    })
}
