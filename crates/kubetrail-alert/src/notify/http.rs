//! One POST with a timeout, turned into a [`DeliveryError`] on anything but 2xx.
//!
//! A receiver is not trusted with more than the notification: its answer is read only up to
//! [`READ_LIMIT`] bytes (a huge or endless body costs nothing; the connection is dropped), and
//! redirects are followed only within the receiver's own origin (scheme, host and port), at most
//! [`REDIRECT_LIMIT`] times, so that a body and its signature are never re-sent to another
//! host. A redirect not followed is a [`DeliveryError::Redirect`].

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::redirect::{Attempt, Policy};

use super::DeliveryError;

/// Most bytes of a response body ever read.
pub const READ_LIMIT: usize = 64 * 1024;

/// Longest part of a response body kept in an error.
const BODY_LIMIT: usize = 300;

/// Most redirects followed within the receiver's origin.
pub const REDIRECT_LIMIT: usize = 5;

/// The redirect policy of the notifiers' client: follow within the first URL's origin, at most
/// [`REDIRECT_LIMIT`] times; otherwise stop and hand the 3xx back as the answer.
pub fn redirect_policy() -> Policy {
    Policy::custom(|attempt| {
        if follows(&attempt) {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

fn follows(attempt: &Attempt<'_>) -> bool {
    let previous = attempt.previous();
    previous.len() <= REDIRECT_LIMIT
        && previous
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin())
}

/// POSTs `body` as JSON with extra `headers`.
pub async fn post_json(
    client: &reqwest::Client,
    url: &str,
    headers: HeaderMap,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<(), DeliveryError> {
    let response = client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .headers(headers)
        .body(body)
        .timeout(timeout)
        .send()
        .await
        .map_err(request_error)?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    if status.is_redirection() {
        return Err(DeliveryError::Redirect {
            status: status.as_u16(),
            to: redirect_target(&response),
        });
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let prefix = tokio::time::timeout(timeout, body_prefix(response, READ_LIMIT))
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&prefix);
    let mut body: String = text.trim().chars().take(BODY_LIMIT).collect();
    if prefix.len() >= READ_LIMIT || text.trim().chars().count() > BODY_LIMIT {
        body.push('…');
    }
    Err(DeliveryError::Status {
        status: status.as_u16(),
        body,
        retry_after,
    })
}

/// At most `limit` bytes of the body, read as it streams in; the rest is never read (dropping
/// the response closes the connection).
pub async fn body_prefix(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let take = chunk.len().min(limit - out.len());
                out.extend_from_slice(&chunk[..take]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    out
}

/// Where a redirect pointed: the origin only (its path and query may hold a token).
fn redirect_target(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|location| response.url().join(location).ok())
        .map(|url| url.origin().ascii_serialization())
        .unwrap_or_else(|| "nowhere (no valid Location)".to_string())
}

/// A request error without its URL: a Slack webhook's URL is its secret.
fn request_error(e: reqwest::Error) -> DeliveryError {
    if e.is_timeout() {
        return DeliveryError::Timeout;
    }
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    DeliveryError::Transport(message)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::http::{HeaderMap as AxumHeaders, StatusCode, header};
    use axum::routing::post;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::notify::http_client;

    /// An axum app on a free local port; returns its base URL.
    async fn serve(app: Router) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        base
    }

    /// A receiver that counts the requests it gets and takes them.
    async fn counting_receiver() -> (String, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = Router::new().fallback(post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                StatusCode::OK
            }
        }));
        (serve(app).await, hits)
    }

    /// Answers every POST with `status` and `Location: to`.
    async fn redirector(status: StatusCode, to: String) -> String {
        let app = Router::new().fallback(post(move || {
            let to = to.clone();
            async move { (status, [(header::LOCATION, to)]) }
        }));
        serve(app).await
    }

    async fn deliver(url: &str) -> Result<(), DeliveryError> {
        let mut headers = HeaderMap::new();
        headers.insert("x-kubetrail-signature", "sha256=abc".parse().unwrap());
        post_json(
            &http_client().unwrap(),
            url,
            headers,
            b"{\"alert\":1}".to_vec(),
            Duration::from_secs(10),
        )
        .await
    }

    #[tokio::test]
    async fn a_redirect_to_another_host_is_not_followed_and_the_body_never_reaches_it() {
        // Regression (issue 11, item 9): reqwest followed a 307 to any host, re-sending the
        // body and its signature there.
        for status in [
            StatusCode::TEMPORARY_REDIRECT,
            StatusCode::PERMANENT_REDIRECT,
            StatusCode::FOUND,
        ] {
            let (elsewhere, hits) = counting_receiver().await;
            let hook = redirector(status, format!("{elsewhere}/steal?token=x")).await;
            let error = deliver(&format!("{hook}/hook")).await.unwrap_err();
            assert_eq!(
                error,
                DeliveryError::Redirect {
                    status: status.as_u16(),
                    to: elsewhere.clone(),
                }
            );
            assert_eq!(
                hits.load(Ordering::SeqCst),
                0,
                "{status}: nothing was re-sent"
            );
            assert!(!error.is_retriable());
            let message = error.to_string();
            assert!(
                message.contains(&elsewhere) && !message.contains("token"),
                "{message}"
            );
        }
    }

    #[tokio::test]
    async fn a_redirect_within_the_receiver_is_followed_a_few_times() {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = Router::new()
            .route(
                "/old",
                post(|| async { (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, "/new")]) }),
            )
            .route(
                "/new",
                post(move |headers: AxumHeaders, body: String| {
                    let counter = counter.clone();
                    async move {
                        assert_eq!(body, "{\"alert\":1}");
                        assert_eq!(headers["x-kubetrail-signature"], "sha256=abc");
                        counter.fetch_add(1, Ordering::SeqCst);
                        StatusCode::OK
                    }
                }),
            )
            .route(
                "/loop",
                post(|| async {
                    (
                        StatusCode::TEMPORARY_REDIRECT,
                        [(header::LOCATION, "/loop")],
                    )
                }),
            );
        let base = serve(app).await;
        deliver(&format!("{base}/old")).await.unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        let error = deliver(&format!("{base}/loop")).await.unwrap_err();
        assert!(
            matches!(&error, DeliveryError::Redirect { status: 307, to } if *to == base),
            "{error:?}"
        );
    }

    /// A raw HTTP server answering 500 with a chunked body of `total` bytes of `x`; returns its
    /// URL and a task giving the bytes it managed to write before the client went away.
    async fn huge_answer(total: usize) -> (String, tokio::task::JoinHandle<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap();
                assert!(n > 0, "the request ended early");
                request.extend_from_slice(&buf[..n]);
            }
            let head = b"HTTP/1.1 500 Internal Server Error\r\ntransfer-encoding: chunked\r\n\r\n";
            socket.write_all(head).await.unwrap();
            let chunk = vec![b'x'; 64 * 1024];
            let framed = [
                format!("{:x}\r\n", chunk.len()).into_bytes(),
                chunk,
                b"\r\n".to_vec(),
            ]
            .concat();
            let mut written = 0;
            while written < total {
                if socket.write_all(&framed).await.is_err() {
                    return written;
                }
                written += framed.len();
            }
            let _ = socket.write_all(b"0\r\n\r\n").await;
            written
        });
        (url, server)
    }

    #[tokio::test]
    async fn a_huge_error_body_is_read_only_up_to_the_limit() {
        // Regression (issue 11, item 11): the whole body was read into memory (a 200 MB answer
        // drove `run` to 1.69 GB RSS).
        const TOTAL: usize = 128 * 1024 * 1024;
        let (url, server) = huge_answer(TOTAL).await;
        let error = deliver(&url).await.unwrap_err();
        let DeliveryError::Status { status, body, .. } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(*status, 500);
        assert_eq!(body.chars().count(), BODY_LIMIT + 1, "a cut prefix");
        assert!(body.starts_with("xxxx") && body.ends_with('…'));
        // The server could write no more than what the sockets' buffers hold past the prefix.
        let written = tokio::time::timeout(Duration::from_secs(30), server)
            .await
            .expect("the server stops writing once the client is gone")
            .unwrap();
        assert!(
            written < TOTAL / 2,
            "the client read {written} of {TOTAL} bytes"
        );
    }
}
