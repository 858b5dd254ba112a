//! The HTTP surface: routes, CORS, write keys, and one request's way
//! through the collector: refusals that need no body (415, 401, 503 with the
//! circuit open, 413 by `Content-Length`, 503 when the byte budget is spent)
//! answered after draining the body; then body, gzip, Segment parse, write
//! key, rate limit, group commit, receipts, and the answer with its
//! per-message rejections. Statuses and bodies are docs/wire-contract.md's.

use std::collections::HashSet;
use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::Serialize;

use crate::body::{self, InflateError, ReadError};
use crate::commit::{Committer, Job, Refused};
use crate::config::Config;
use crate::limits::{Budget, Drain, RateLimit};
use crate::metrics::Metrics;
use crate::store::{Batch, Receipts};
use crate::time::{format_utc, now_ms};
use crate::wire::{self, Endpoint, Kind};

pub type Answer = Response<Full<Bytes>>;

/// Everything a request needs, shared by all connections.
pub struct App {
    pub config: Config,
    write_keys: HashSet<String>,
    pub committer: Committer,
    receipts: Option<Arc<dyn Receipts>>,
    pub budget: Arc<Budget>,
    pub drain: Arc<Drain>,
    rate_limit: Option<RateLimit>,
    pub metrics: Arc<Metrics>,
    pub shutting_down: AtomicBool,
}

impl App {
    pub fn new(
        config: Config,
        committer: Committer,
        receipts: Option<Arc<dyn Receipts>>,
        budget: Arc<Budget>,
        drain: Arc<Drain>,
        metrics: Arc<Metrics>,
    ) -> App {
        let rate_limit = config.rate_limit.map(|per_sec| {
            RateLimit::new(
                per_sec,
                config.rate_limit_burst,
                &config.write_keys,
                Instant::now(),
            )
        });
        App {
            write_keys: config.write_keys.iter().cloned().collect(),
            config,
            committer,
            receipts,
            budget,
            drain,
            rate_limit,
            metrics,
            shutting_down: AtomicBool::new(false),
        }
    }

    /// Whether the collector should get traffic, and if not, why.
    pub fn readiness(&self) -> Result<(), String> {
        let now = Instant::now();
        let health = &self.committer.health;
        if self.shutting_down.load(Ordering::Acquire) {
            return Err("shutting down".into());
        }
        if !health.writer_alive() {
            return Err("the commit writer has stopped".into());
        }
        if health.open_for(now).is_some() {
            return Err(format!(
                "the store failed {} commits in a row",
                health.failures_in_a_row()
            ));
        }
        if let Some(busy) = self.drain.busy_for(now) {
            if busy > self.config.commit_timeout {
                return Err(format!("a commit has run for {} ms", busy.as_millis()));
            }
        }
        if self.budget.used() > self.budget.limit() / 10 * 9 {
            return Err("over 90% of the bytes-in-flight budget is in use".into());
        }
        Ok(())
    }

    fn retry_after(&self) -> Duration {
        self.drain.retry_after(
            self.budget.used(),
            Instant::now(),
            self.config.max_retry_after,
        )
    }

    fn allowed_origin(&self, origin: &HeaderValue) -> bool {
        let origins = &self.config.cors_origins;
        origins
            .iter()
            .any(|o| o == "*" || o.as_bytes() == origin.as_bytes())
    }
}

/// Answers one request.
pub async fn handle(app: Arc<App>, req: Request<Incoming>) -> Answer {
    let started = Instant::now();
    let origin = req.headers().get(header::ORIGIN).cloned();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut answer = route(&app, req).await;
    if let Some(origin) = origin.filter(|o| app.allowed_origin(o)) {
        let headers = answer.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Retry-After"),
        );
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    let status = answer.status().as_u16();
    app.metrics.answered(status);
    tracing::debug!(%method, path, status, ms = started.elapsed().as_secs_f64() * 1e3, "answered");
    answer
}

async fn route(app: &Arc<App>, req: Request<Incoming>) -> Answer {
    let path = req.uri().path();
    let endpoint = match path {
        // `/v1/b` is analytics.js's batching path.
        "/v1/batch" | "/v1/import" | "/v1/b" => Some(Endpoint::Batch),
        _ => path
            .strip_prefix("/v1/")
            .and_then(Kind::from_path_part)
            .map(Endpoint::Single),
    };
    match (req.method(), endpoint, path) {
        (&Method::POST, Some(endpoint), _) => {
            let started = Instant::now();
            let answer = ingest(app, req, endpoint).await;
            app.metrics.request_latency.observe(started.elapsed());
            answer
        }
        (&Method::OPTIONS, Some(_), _) => preflight(app, req.headers()),
        (_, Some(_), _) => not_allowed("POST, OPTIONS"),
        (&Method::GET, None, "/healthz") => json(StatusCode::OK, &Status { status: "ok" }),
        (&Method::GET, None, "/readyz") => match app.readiness() {
            Ok(()) => json(StatusCode::OK, &Status { status: "ready" }),
            Err(why) => error(StatusCode::SERVICE_UNAVAILABLE, why),
        },
        (&Method::GET, None, "/metrics") => {
            let mut answer = Response::new(body::full(app.metrics.render()));
            answer.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            answer
        }
        (_, None, "/healthz" | "/readyz" | "/metrics") => not_allowed("GET"),
        _ => error(StatusCode::NOT_FOUND, format!("no such endpoint: {path}")),
    }
}

#[derive(Serialize)]
struct Status {
    status: &'static str,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

/// The answer to an ingest request (docs/wire-contract.md).
#[derive(Serialize, Default)]
struct IngestBody<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rejected: Vec<RejectedEntry<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    receipts: Option<Vec<String>>,
}

#[derive(Serialize)]
struct RejectedEntry<'a> {
    #[serde(rename = "messageId")]
    message_id: Option<&'a str>,
    /// The message's position in the batch, when it has no usable id.
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
    reason: &'a str,
}

fn json(status: StatusCode, value: &impl Serialize) -> Answer {
    let bytes = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut answer = Response::new(body::full(bytes));
    *answer.status_mut() = status;
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    answer
}

fn error(status: StatusCode, message: impl Display) -> Answer {
    json(
        status,
        &ErrorBody {
            error: &message.to_string(),
        },
    )
}

fn with_retry_after(mut answer: Answer, after: Duration) -> Answer {
    let secs = after.as_secs_f64().ceil().max(1.0) as u64;
    answer
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    answer
}

fn not_allowed(allow: &'static str) -> Answer {
    let mut answer = error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    answer
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    answer
}

fn preflight(app: &App, headers: &HeaderMap) -> Answer {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return error(
            StatusCode::BAD_REQUEST,
            "a preflight needs an Origin header",
        );
    };
    if !app.allowed_origin(origin) {
        return error(
            StatusCode::FORBIDDEN,
            "this origin is not allowed (cors_origins)",
        );
    }
    let mut answer = Response::new(body::full(Bytes::new()));
    *answer.status_mut() = StatusCode::NO_CONTENT;
    let h = answer.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Content-Type, Content-Encoding, Authorization"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from(app.config.cors_max_age.as_secs()),
    );
    answer
}

/// The write key of an `Authorization: Basic base64(writeKey:)` header.
fn basic_write_key(headers: &HeaderMap) -> Result<Option<String>, &'static str> {
    const FORM: &str = "Authorization must be Basic base64(writeKey:)";
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| FORM)?;
    let (scheme, credentials) = value.split_once(' ').ok_or(FORM)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(FORM);
    }
    let decoded = base64_decode(credentials.trim()).ok_or(FORM)?;
    let text = String::from_utf8(decoded).map_err(|_| FORM)?;
    let key = text.split_once(':').map_or(text.as_str(), |(key, _)| key);
    Ok(Some(key.to_owned()))
}

/// Standard or URL-safe base64, padded or not.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (bits < 6).then_some(out)
}

/// Refuses a request before its body is used: drains the body (within the
/// body read timeout) so the client reads this answer rather than a reset,
/// and closes the connection when that was not possible.
async fn refuse(app: &App, req: &mut Request<Incoming>, mut answer: Answer) -> Answer {
    let expects_continue = req
        .headers()
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    // A client waiting for 100 Continue has not sent the body: nothing to drain.
    let drained = !expects_continue
        && tokio::time::timeout(app.config.body_read_timeout, body::drain(req.body_mut()))
            .await
            .unwrap_or(false);
    if !drained {
        answer
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    answer
}

fn service_unavailable(app: &App, why: impl Display) -> Answer {
    with_retry_after(
        error(StatusCode::SERVICE_UNAVAILABLE, why),
        app.retry_after(),
    )
}

async fn ingest(app: &Arc<App>, mut req: Request<Incoming>, endpoint: Endpoint) -> Answer {
    let received_at = format_utc(now_ms());
    let limit = app.config.max_body_bytes;

    // Refusals that need no body.
    let gzip = match req
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.as_bytes())
    {
        None => false,
        Some(v) if v.eq_ignore_ascii_case(b"identity") => false,
        Some(v) if v.eq_ignore_ascii_case(b"gzip") || v.eq_ignore_ascii_case(b"x-gzip") => true,
        Some(v) => {
            let message = format!(
                "Content-Encoding {} is not supported: send gzip or no encoding",
                String::from_utf8_lossy(v)
            );
            return refuse(
                app,
                &mut req,
                error(StatusCode::UNSUPPORTED_MEDIA_TYPE, message),
            )
            .await;
        }
    };
    let header_key = match basic_write_key(req.headers()) {
        Ok(key) => key,
        Err(why) => return refuse(app, &mut req, error(StatusCode::UNAUTHORIZED, why)).await,
    };
    if let Some(key) = &header_key {
        if !app.write_keys.contains(key) {
            return refuse(
                app,
                &mut req,
                error(StatusCode::UNAUTHORIZED, "unknown write key"),
            )
            .await;
        }
    }
    if let Some(open) = app.committer.health.open_for(Instant::now()) {
        let answer = with_retry_after(
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the store is failing; retry after the delay given",
            ),
            open.max(app.retry_after()),
        );
        return refuse(app, &mut req, answer).await;
    }
    let length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = length.filter(|&n| n > limit as u64) {
        let message = format!(
            "the body is {} bytes; the limit is {} bytes",
            wire::group(length as usize),
            wire::group(limit)
        );
        return refuse(app, &mut req, error(StatusCode::PAYLOAD_TOO_LARGE, message)).await;
    }
    let Some(mut held) = app.budget.try_reserve(length.unwrap_or(limit as u64)) else {
        let answer = service_unavailable(app, "the collector is over its bytes-in-flight budget");
        return refuse(app, &mut req, answer).await;
    };

    // The body.
    let read = tokio::time::timeout(
        app.config.body_read_timeout,
        body::read(req.body_mut(), limit, length),
    )
    .await;
    let raw = match read {
        Ok(Ok(raw)) => raw,
        Ok(Err(ReadError::TooLarge)) => {
            let message = format!("the body is over the limit of {} bytes", wire::group(limit));
            return refuse(app, &mut req, error(StatusCode::PAYLOAD_TOO_LARGE, message)).await;
        }
        Ok(Err(ReadError::Io(e))) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("reading the body failed: {e}"),
            )
        }
        Err(_) => {
            let mut answer = error(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the body did not arrive within {} ms",
                    app.config.body_read_timeout.as_millis()
                ),
            );
            answer
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return answer;
        }
    };
    held.shrink_to(raw.len() as u64);
    let bytes = if gzip {
        if !held.try_grow(limit as u64) {
            return service_unavailable(app, "the collector is over its bytes-in-flight budget");
        }
        let inflated = body::gunzip(&raw, limit);
        drop(raw);
        match inflated {
            Ok(inflated) => inflated,
            Err(InflateError::TooLarge) => {
                let message = format!(
                    "the body inflates to more than the limit of {} bytes",
                    wire::group(limit)
                );
                return error(StatusCode::PAYLOAD_TOO_LARGE, message);
            }
            Err(InflateError::Invalid(why)) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("the body is not valid gzip: {why}"),
                )
            }
        }
    } else {
        raw
    };
    // The parsed messages copy the body: hold room for them too.
    if !held.try_resize(2 * bytes.len() as u64 + 4096) {
        return service_unavailable(app, "the collector is over its bytes-in-flight budget");
    }

    // The messages.
    let parsed = match wire::parse(&bytes, endpoint) {
        Ok(parsed) => parsed,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    drop(bytes);
    let metrics = &app.metrics;
    metrics.received.fetch_add(
        (parsed.messages.len() + parsed.rejected.len()) as u64,
        Ordering::Relaxed,
    );
    for rejection in &parsed.rejected {
        metrics.rejected(rejection.reason.code);
    }
    let Some(write_key) = header_key.or(parsed.write_key) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "a write key is required: HTTP Basic (writeKey:) or \"writeKey\" in the body",
        );
    };
    if !app.write_keys.contains(&write_key) {
        return error(StatusCode::UNAUTHORIZED, "unknown write key");
    }
    if let Some(limit) = &app.rate_limit {
        if let Err(wait) = limit.take(&write_key, parsed.messages.len(), Instant::now()) {
            return with_retry_after(
                error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "this write key is over its rate limit",
                ),
                wait,
            );
        }
    }

    // The commit.
    let stored_any = !parsed.messages.is_empty();
    let write_key: Arc<str> = Arc::from(write_key);
    if stored_any {
        let json_bytes: usize = parsed.messages.iter().map(|m| m.json.len() + 256).sum();
        held.shrink_to(json_bytes as u64);
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Job {
            batch: Batch {
                write_key: write_key.clone(),
                received_at,
                messages: parsed.messages,
            },
            bytes: held,
            reply,
        };
        match app.committer.submit(job) {
            Ok(()) => {}
            Err(Refused::Full) => return service_unavailable(app, "the commit queue is full"),
            Err(Refused::Stopped) => {
                return service_unavailable(app, "the commit writer has stopped")
            }
        }
        match tokio::time::timeout(app.config.commit_timeout, answer).await {
            Ok(Ok(Ok(_written))) => {}
            Ok(Ok(Err(why))) => {
                return service_unavailable(app, format!("the store failed: {why}"))
            }
            Ok(Err(_)) => return service_unavailable(app, "the commit writer has stopped"),
            Err(_) => {
                return service_unavailable(
                    app,
                    format!(
                        "the store did not commit within {} ms",
                        app.config.commit_timeout.as_millis()
                    ),
                )
            }
        }
    }

    // Receipts, after the commit: they may name this request's own messages.
    // A collector with no store to ask (an ingest node without
    // `receipts_from`) answers without the list, as one that does not know
    // receipts: the SDK sends the events again and the store drops copies.
    let receipts = match (parsed.receipts.is_empty(), &app.receipts) {
        (true, _) | (false, None) => None,
        (false, Some(receipts)) => {
            let ids = parsed.receipts;
            let receipts = receipts.clone();
            let key = write_key.clone();
            let asked = ids.len() as u64;
            match tokio::task::spawn_blocking(move || receipts.held(&key, &ids)).await {
                Ok(Ok(held)) => {
                    metrics.receipts_asked.fetch_add(asked, Ordering::Relaxed);
                    metrics
                        .receipts_held
                        .fetch_add(held.len() as u64, Ordering::Relaxed);
                    Some(held)
                }
                Ok(Err(why)) => {
                    return service_unavailable(app, format!("the receipt lookup failed: {why}"))
                }
                Err(_) => return service_unavailable(app, "the receipt lookup failed"),
            }
        }
    };

    // The answer: 400 when messages were refused and none stored, else 200.
    let status = if !stored_any && !parsed.rejected.is_empty() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = IngestBody {
        rejected: parsed
            .rejected
            .iter()
            .map(|r| RejectedEntry {
                message_id: r.message_id.as_deref(),
                index: r.message_id.is_none().then_some(r.index),
                reason: &r.reason.text,
            })
            .collect(),
        receipts,
    };
    json(status, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_reads_what_segment_libraries_send() {
        assert_eq!(base64_decode("d2s6").as_deref(), Some(&b"wk:"[..]));
        assert_eq!(base64_decode("d2s=").as_deref(), Some(&b"wk"[..]));
        assert_eq!(base64_decode("d2s").as_deref(), Some(&b"wk"[..]));
        assert_eq!(base64_decode("a2V5Og==").as_deref(), Some(&b"key:"[..]));
        assert_eq!(base64_decode("d"), None);
        assert_eq!(base64_decode("d2s6!"), None);
    }

    #[test]
    fn the_write_key_is_the_part_before_the_colon() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic d2s6"),
        );
        assert_eq!(basic_write_key(&headers), Ok(Some("wk".into())));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer d2s6"),
        );
        assert!(basic_write_key(&headers).is_err());
        assert_eq!(basic_write_key(&HeaderMap::new()), Ok(None));
    }
}
