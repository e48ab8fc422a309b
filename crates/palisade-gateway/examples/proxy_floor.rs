//! The floor of the gateway's HTTP stack: the smallest proxy that can be
//! built from the same parts as `palisade serve` (tokio's multi-threaded
//! runtime, hyper's HTTP/1 server, hyper-util's pooled client, `Bytes`
//! bodies) and nothing else: no routing, no request parsing, no limits, no
//! metrics, no guardrails. It forwards every request's body to one upstream
//! URL and relays the answer.
//!
//! It is a measuring stick for `bench/load.sh`, not a product: the CPU time
//! per request it spends is what any gateway on this stack spends before
//! doing any work of its own, so the difference to `palisade serve` with
//! `policy = "off"` is Palisade's own overhead, and the difference to nginx
//! is the stack's.
//!
//! ```text
//! cargo run --release -p palisade-gateway --example proxy_floor -- 127.0.0.1:18185 http://127.0.0.1:18181/v1/chat/completions
//! ```

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

type Upstream = Client<HttpConnector, Full<Bytes>>;

fn status_only(status: StatusCode) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

async fn relay(
    client: Upstream,
    target: Uri,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return Ok(status_only(StatusCode::BAD_REQUEST));
    };
    let mut upstream = Request::new(Full::new(body));
    *upstream.method_mut() = parts.method;
    *upstream.uri_mut() = target;
    if let Some(v) = parts.headers.get(http::header::CONTENT_TYPE) {
        upstream
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, v.clone());
    }
    let Ok(answer) = client.request(upstream).await else {
        return Ok(status_only(StatusCode::BAD_GATEWAY));
    };
    let (parts, body) = answer.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return Ok(status_only(StatusCode::BAD_GATEWAY));
    };
    Ok(Response::from_parts(parts, Full::new(body)))
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(target)) = (args.next(), args.next()) else {
        eprintln!("usage: proxy_floor LISTEN_ADDR UPSTREAM_URL");
        return ExitCode::from(2);
    };
    let (Ok(listen), Ok(target)) = (listen.parse::<SocketAddr>(), target.parse::<Uri>()) else {
        eprintln!("proxy_floor: LISTEN_ADDR must be host:port and UPSTREAM_URL an http:// URL");
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("proxy_floor: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(listen, target))
}

async fn serve(listen: SocketAddr, target: Uri) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("proxy_floor: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Upstream = Client::builder(TokioExecutor::new()).build(connector);
    println!("proxy_floor listening on http://{listen}");
    // Ends on Ctrl-C, so that profilers wrapping it write their output.
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    loop {
        let tcp = tokio::select! {
            _ = &mut stop => return ExitCode::SUCCESS,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                // Out of file descriptors and the like: back off, not spin.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let (client, target) = (client.clone(), target.clone());
        tokio::spawn(async move {
            let service = service_fn(move |r| relay(client.clone(), target.clone(), r));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}
