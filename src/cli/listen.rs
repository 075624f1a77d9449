//! Binding the TCP listeners of `run` and `dev` (`--metrics-address`,
//! `--token-requests-address`), with errors that name the flag.

use std::net::SocketAddr;
use tokio::net::TcpListener;

/// Why a listener could not be had.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The address is in use, not this host's, or a port below 1024 without the privilege.
    #[error("cannot listen on {flag} {address}: {source}")]
    Bind {
        /// The flag that gave the address (`--metrics-address`).
        flag: &'static str,
        /// The address given.
        address: SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The socket was bound but the operating system did not say to which address.
    #[error("cannot read the address of {flag}: {source}")]
    LocalAddress {
        /// The flag that gave the address.
        flag: &'static str,
        /// What the operating system said.
        source: std::io::Error,
    },
}

/// Binds `address`, given by `flag`; returns the listener and the address actually bound (the
/// port the system chose for `:0`).
pub(super) async fn bind(
    flag: &'static str,
    address: SocketAddr,
) -> Result<(TcpListener, SocketAddr), Error> {
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| Error::Bind {
            flag,
            address,
            source,
        })?;
    let bound = listener
        .local_addr()
        .map_err(|source| Error::LocalAddress { flag, source })?;
    Ok((listener, bound))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_address_in_use_is_named_with_its_flag() {
        let (_taken, address) = bind("--metrics-address", SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("a free port");
        let error = bind("--metrics-address", address).await.unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with(&format!("cannot listen on --metrics-address {address}: ")),
            "{error}"
        );
    }
}
