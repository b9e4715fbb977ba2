//! A client's connection, simulated: a middleware inserts axum's `ConnectInfo` (as
//! `into_make_service_with_connect_info` does), an optional `X-Forwarded-For` and a user agent.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::Router;

/// The connection the next requests come from, and the forwarding header they carry.
#[derive(Clone, Default)]
pub struct Peer(Arc<Mutex<(Option<SocketAddr>, Option<String>)>>);

impl Peer {
    pub fn set(&self, addr: &str, forwarded_for: Option<&str>) {
        *self.0.lock().unwrap() = (Some(addr.parse().unwrap()), forwarded_for.map(Into::into));
    }
}

/// `app` as served with connect info from `peer`, each request with a user agent.
pub fn served(app: Router, peer: &Peer) -> Router {
    let peer = peer.clone();
    app.layer(axum::middleware::from_fn(
        move |mut req: Request, next: Next| {
            let (addr, forwarded) = peer.0.lock().unwrap().clone();
            if let Some(addr) = addr {
                req.extensions_mut().insert(ConnectInfo(addr));
            }
            if let Some(f) = forwarded {
                req.headers_mut()
                    .insert("x-forwarded-for", HeaderValue::from_str(&f).unwrap());
            }
            req.headers_mut().insert(
                header::USER_AGENT,
                HeaderValue::from_static("TestBrowser/1.0"),
            );
            next.run(req)
        },
    ))
}
