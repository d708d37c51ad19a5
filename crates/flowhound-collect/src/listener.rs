//! UDP listening sockets: a large receive buffer, and the kernel's own count
//! of what it dropped on them.

use std::net::{SocketAddr, UdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

use crate::CollectError;

/// A bound listening socket and what the kernel granted it.
pub struct Listener {
    /// The socket, blocking with a short read timeout.
    pub socket: UdpSocket,
    /// The address actually bound (port 0 resolved).
    pub local: SocketAddr,
    /// Receive buffer size the kernel reports, in bytes.
    pub rcvbuf_granted: usize,
}

/// Bind `addr` with a receive buffer of `rcvbuf` bytes (like nfcapd's `-B`).
pub fn bind(addr: SocketAddr, rcvbuf: usize) -> Result<Listener, CollectError> {
    let bind_err = |source| CollectError::Bind { addr, source };
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(bind_err)?;
    if addr.is_ipv6() {
        // `[::]:2055` takes IPv4 exporters too.
        let _ = socket.set_only_v6(false);
    }
    // No SO_REUSEADDR: a second collector on the same port must fail to
    // bind ("address in use"), not silently steal the traffic.
    if rcvbuf > 0 {
        socket.set_recv_buffer_size(rcvbuf).map_err(bind_err)?;
    }
    socket.bind(&addr.into()).map_err(bind_err)?;
    // Linux reports twice what it grants for bookkeeping; halve it back.
    let granted = socket.recv_buffer_size().map_err(bind_err)? / 2;
    let socket: UdpSocket = socket.into();
    socket
        .set_read_timeout(Some(std::time::Duration::from_millis(100)))
        .map_err(bind_err)?;
    let local = socket.local_addr().map_err(bind_err)?;
    Ok(Listener {
        socket,
        local,
        rcvbuf_granted: granted,
    })
}

/// Datagrams the kernel dropped on UDP sockets bound to `port`, from
/// `/proc/net/udp` and `/proc/net/udp6` (the last column). `None` off Linux.
pub fn kernel_drops(port: u16) -> Option<u64> {
    let mut found = None;
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let mut cols = line.split_whitespace();
            let Some(local) = cols.nth(1) else { continue };
            let Some(port_hex) = local.rsplit(':').next() else {
                continue;
            };
            if u16::from_str_radix(port_hex, 16).ok() != Some(port) {
                continue;
            }
            if let Some(drops) = line
                .split_whitespace()
                .last()
                .and_then(|d| d.parse::<u64>().ok())
            {
                *found.get_or_insert(0) += drops;
            }
        }
    }
    found
}
