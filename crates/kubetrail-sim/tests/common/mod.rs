//! A plain HTTP client for the simulator tests: requests, JSON bodies, and watch streams read
//! line by line, every wait bounded by a timeout.

#![allow(dead_code)]

use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// How long any awaited condition may take before a test fails.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct Client {
    inner: HyperClient<HttpConnector, Full<Bytes>>,
    base: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Client {
    pub fn new(base: &str) -> Self {
        Self {
            inner: HyperClient::builder(TokioExecutor::new()).build_http(),
            base: base.to_string(),
        }
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<hyper::Response<Incoming>> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let body = body
            .map(|b| Bytes::from(serde_json::to_vec(b).unwrap_or_default()))
            .unwrap_or_default();
        let request = builder.body(Full::new(body))?;
        let response = tokio::time::timeout(WAIT, self.inner.request(request))
            .await
            .context("request timed out")??;
        Ok(response)
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Reply> {
        let response = self.request(method, path, headers, body).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = tokio::time::timeout(WAIT, response.into_body().collect())
            .await
            .context("body timed out")??
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .with_context(|| format!("not JSON: {}", String::from_utf8_lossy(&bytes)))?
        };
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    pub async fn get(&self, path: &str) -> Result<Reply> {
        self.send(Method::GET, path, &[], None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Reply> {
        self.send(
            Method::POST,
            path,
            &[("content-type", "application/json")],
            Some(body),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Result<Reply> {
        self.send(
            Method::PUT,
            path,
            &[("content-type", "application/json")],
            Some(body),
        )
        .await
    }

    /// Opens a watch; the response headers have arrived when this returns.
    pub async fn watch(&self, path: &str) -> Result<Watch> {
        let response = self.request(Method::GET, path, &[], None).await?;
        Ok(Watch {
            status: response.status(),
            body: response.into_body(),
            buffer: Vec::new(),
        })
    }
}

/// How a watch line read ended.
#[derive(Debug)]
pub enum Next {
    Line(Value),
    /// The body ended normally.
    End,
    /// The connection was cut mid-stream.
    Cut,
    /// Nothing arrived in time.
    Silent,
}

pub struct Watch {
    pub status: StatusCode,
    body: Incoming,
    buffer: Vec<u8>,
}

impl Watch {
    /// The next watch event, waiting at most `within`.
    pub async fn next_within(&mut self, within: Duration) -> Next {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(pos) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=pos).collect();
                return match serde_json::from_slice(&line) {
                    Ok(value) => Next::Line(value),
                    Err(_) => Next::Cut,
                };
            }
            match tokio::time::timeout_at(deadline, self.body.frame()).await {
                Err(_) => return Next::Silent,
                Ok(None) => return Next::End,
                Ok(Some(Err(_))) => return Next::Cut,
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    /// The next watch event; fails the test if none arrives within [`WAIT`].
    pub async fn next(&mut self) -> Result<Value> {
        match self.next_within(WAIT).await {
            Next::Line(value) => Ok(value),
            other => bail!("expected a watch event, got {other:?}"),
        }
    }
}

/// `(type, reason, resourceVersion)` of a watch event, for compact assertions.
pub fn summary(event: &Value) -> (String, String, String) {
    (
        event["type"].as_str().unwrap_or_default().to_string(),
        event["object"]["reason"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        event["object"]["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}
