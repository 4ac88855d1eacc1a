//! Runs the router on a listener until cancelled, finishing the requests in flight.

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{Error, Result};

/// Serves `app` on `listener` until `cancel` fires.
pub async fn serve(listener: TcpListener, app: Router, cancel: CancellationToken) -> Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await
        .map_err(Error::Serve)
}
