//! Synthetic, realistic flow traffic for flowhound, and the exporters that
//! send it: NetFlow v5, NetFlow v9 and IPFIX datagrams over UDP.
//!
//! Layers, each usable on its own:
//!
//! * [`Traffic`]: a seeded, deterministic model of one site's traffic (web,
//!   QUIC, DNS, mail, SMB, NTP, SSH, ICMP, background noise from the
//!   Internet) with a day/night rhythm, plus injected incidents
//!   ([`Scenario`]: spam bot, worm, scan, misbehaving mail server).
//! * [`Day`]: a whole day of that site for end-to-end detection tests:
//!   the background merged with incidents shaped as the advisories describe
//!   them (Sasser, Blaster, Slammer, Conficker, mass mailers, spam, scans,
//!   brute force) and benign look-alikes, each at its own absolute rate and
//!   time, with the list of what a detector must find ([`Seeded`]).
//! * [`Encoder`]: packs [`FlowRecord`]s into export datagrams exactly as the
//!   specifications say, keeping sequence numbers, uptime and templates like
//!   a real exporter.
//! * [`send()`]: paces generated flows onto UDP from one or more simulated
//!   exporters at a given rate and reports what it sent, so a test can
//!   compare it with what a collector stored; [`send_flows`] does the same
//!   for any flows (a [`Day`], say).
//!
//! ```
//! use flowhound_generate::{Encoder, Proto, Scenario, Traffic};
//! let start = 1_764_000_000_000; // Unix ms
//! let mut traffic = Traffic::new(42, start, Scenario::SpamBot);
//! let flows: Vec<_> = (0..100).map(|i| traffic.next_flow(start + i)).collect();
//! let mut enc = Encoder::new(Proto::V9, 1, start - 3_600_000);
//! let datagrams: Vec<Vec<u8>> = enc.datagrams(&flows, start + 100).collect();
//! assert!(datagrams.iter().all(|d| d.len() <= 1400));
//! ```
#![deny(missing_docs)]

pub use flowhound_model::FlowRecord;

pub mod day;
pub mod encode;
pub mod prefixes;
mod rng;
pub mod send;
pub mod traffic;

pub use day::{Day, DayPlan, IncidentKind, LookalikeKind, Seed, Seeded};
pub use encode::{Encoded, Encoder, Proto, UnknownProto};
pub use send::{send, send_flows, ExporterReport, SendConfig, SendReport};
pub use traffic::{intensity, Incident, Scenario, Site, Traffic, UnknownScenario};
